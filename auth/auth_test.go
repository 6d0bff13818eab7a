package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPasswords(t *testing.T) {
	h := HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") || strings.Contains(h, "correct horse") {
		t.Errorf("hash %q", h)
	}
	if h == HashPassword("correct horse battery") {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Error("the right password was refused")
	}
	for _, bad := range []struct{ hash, pw string }{
		{h, "correct horse batterY"}, {h, ""}, {"", ""}, {"$argon2i$v=19$m=65536,t=3,p=4$AAAA$AAAA", "x"},
		{"$argon2id$v=19$m=99999999,t=3,p=4$AAAA$AAAA", "x"}, {"$argon2id$v=19$m=65536,t=3,p=4$!!$AAAA", "x"},
		{"$argon2id$v=19$m=65536,t=3,p=4$AAAA$", "x"},
	} {
		if CheckPassword(bad.hash, bad.pw) {
			t.Errorf("CheckPassword(%q, %q) = true", bad.hash, bad.pw)
		}
	}
}

func TestRoles(t *testing.T) {
	for _, c := range []struct {
		r, need Role
		ok      bool
	}{
		{RoleAdmin, RoleClient, true}, {RoleAdmin, RoleAdmin, true}, {RoleAnalyst, RoleAdmin, false},
		{RoleAnalyst, RoleAnalyst, true}, {RoleClient, RoleAnalyst, false}, {RoleClient, RoleClient, true},
		{Role("root"), RoleClient, false}, {Role(""), RoleClient, false},
	} {
		if got := c.r.AtLeast(c.need); got != c.ok {
			t.Errorf("%q.AtLeast(%q) = %v", c.r, c.need, got)
		}
	}
	if r, err := ParseRole(" Analyst "); err != nil || r != RoleAnalyst {
		t.Errorf("ParseRole: %v %v", r, err)
	}
	if _, err := ParseRole("superuser"); err == nil {
		t.Error("ParseRole took an unknown role")
	}
	p := Principal{Role: RoleClient, Tenants: []string{"aaaaaaaa-0000-0000-0000-000000000000"}}
	if !p.SeesTenant("AAAAAAAA-0000-0000-0000-000000000000") || p.SeesTenant("bbbbbbbb-0000-0000-0000-000000000000") || !p.Restricted() {
		t.Error("a client's tenants")
	}
	if a := (Principal{Role: RoleAnalyst}); !a.SeesTenant("anything") || a.Restricted() {
		t.Error("an analyst sees every tenant")
	}
}

func TestOIDCRoleMapping(t *testing.T) {
	o := &OIDC{cfg: OIDCConfig{Admins: []string{"alice@msp.example"}, Analysts: []string{"analysts-gid"},
		Clients: []OIDCClient{{Match: "carol@c.example", Tenants: []string{"t1"}}, {Match: "client-gid", Tenants: []string{"t2", "t1"}}}}}
	for _, c := range []struct {
		name    string
		groups  []string
		role    Role
		tenants int
		ok      bool
	}{
		{"alice@msp.example", nil, RoleAdmin, 0, true},
		{"dave@msp.example", []string{"Analysts-GID"}, RoleAnalyst, 0, true},
		{"alice@msp.example", []string{"client-gid"}, RoleAdmin, 0, true},
		{"carol@c.example", []string{"client-gid"}, RoleClient, 2, true},
		{"mallory@x.example", []string{"other"}, "", 0, false},
	} {
		p, ok := o.role(c.name, append([]string{c.name}, c.groups...))
		if ok != c.ok || p.Role != c.role || len(p.Tenants) != c.tenants {
			t.Errorf("%s %v: %+v %v", c.name, c.groups, p, ok)
		}
	}
}

func TestBound(t *testing.T) {
	if got := Bound("ann"); got != "ann" {
		t.Errorf("Bound(ann) = %q", got)
	}
	if got := Bound("a\x00b\xffc"); got != "a\uFFFDb\uFFFDc" {
		t.Errorf("NUL and bad UTF-8: %q", got)
	}
	long := "x" + strings.Repeat("é", 1000) // a cut at 256 bytes falls inside an é
	got := Bound(long)
	if len(got) > MaxField+30 || !utf8.ValidString(got) || !strings.HasPrefix(long, strings.TrimSuffix(got, "…[cut 1746 bytes]")) ||
		!strings.HasSuffix(got, "…[cut 1746 bytes]") {
		t.Errorf("Bound of %d bytes: %d bytes, %q", len(long), len(got), got[len(got)-40:])
	}
	if exact := strings.Repeat("y", MaxField); Bound(exact) != exact {
		t.Error("a field of exactly MaxField bytes was cut")
	}
}
