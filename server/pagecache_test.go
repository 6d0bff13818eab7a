package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
)

// raw gets path in the session as the browser does, with gzip (decoded
// here, so the trailer's CRC and length are checked) or without.
func (x *exceptionFixture) raw(t *testing.T, s session, path string, gz bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, x.srv.URL+path, nil)
	if s.cookie != nil {
		req.AddCookie(s.cookie)
	}
	req.Header.Set("Accept-Encoding", "identity")
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := resp.Body
	if gz != (resp.Header.Get("Content-Encoding") == "gzip") && resp.StatusCode == http.StatusOK {
		t.Fatalf("GET %s (gzip %v): Content-Encoding %q", path, gz, resp.Header.Get("Content-Encoding"))
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		zr.Multistream(false)
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

var nonceAttr = regexp.MustCompile(`nonce="[0-9a-f]{32}"`)

// cachedPaths are the cached pages of the fixture, for a principal who
// sees tenant a.
func (x *exceptionFixture) cachedPaths() []string {
	return []string{"/", "/?sort=name&dir=desc", "/tenants/" + x.a, "/tenants/" + x.a + "/report", "/actions",
		"/actions/" + x.control, "/collections", "/alerts", "/exceptions", "/campaigns", "/campaigns/new"}
}

// TestCachedPageIsFresh: a page served from the cache, with and without
// gzip, is byte for byte the page rendered without the cache, and a write
// to the store (an exception, a collection) shows on the next view.
func TestCachedPageIsFresh(t *testing.T) {
	x := newExceptionFixture(t, false)
	// A name html/template escapes ('+' too), in the layout's header.
	x.addUser(t, "o'neil+<admin>", auth.RoleAdmin)
	x.addUser(t, "ann2", auth.RoleClient, x.a)
	for _, user := range []string{"o'neil+<admin>", "ann2"} {
		s := x.signIn(t, user, x.password)
		for _, path := range x.cachedPaths() {
			x.s.pageCacheOff.Store(true)
			wantStatus, want := x.raw(t, s, path, false)
			x.s.pageCacheOff.Store(false)
			for i, gz := range []bool{false, true, false, true} {
				status, got := x.raw(t, s, path, gz)
				if status != wantStatus {
					t.Fatalf("%s GET %s (view %d): %d, want %d", user, path, i+1, status, wantStatus)
				}
				if strings.Contains(got, x.s.pages.marks.prefix) {
					t.Fatalf("%s GET %s: a marker is left in the page", user, path)
				}
				if strings.Contains(path, "/report") {
					// Each view has its own nonce.
					got, want = nonceAttr.ReplaceAllString(got, "nonce"), nonceAttr.ReplaceAllString(want, "nonce")
				}
				if got != want {
					t.Fatalf("%s GET %s (view %d, gzip %v): the cached page differs from the fresh one at %s", user, path, i+1, gz, firstDiff(got, want))
				}
			}
		}
	}
	if !strings.Contains(mustPage(t, x, x.signIn(t, "o'neil+<admin>", x.password), "/"), "o&#39;neil&#43;&lt;admin&gt;") {
		t.Error("the admin's name is not in the header as html/template writes it")
	}

	// Writes to the store move its version: the next view is new.
	admin := x.signIn(t, "o'neil+<admin>", x.password)
	before := mustPage(t, x, admin, "/exceptions")
	if strings.Contains(before, "page-cache-reason") {
		t.Fatal("the reason is there before the exception")
	}
	if _, err := x.svc.Apply(context.Background(), localAdmin, exceptions.Request{Control: x.control, Tenants: []string{x.a},
		State: fleetscore.StateThirdParty, Reason: "page-cache-reason", Owner: "Sam"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mustPage(t, x, admin, "/exceptions"), "page-cache-reason") {
		t.Error("the exceptions page does not show the exception applied after it was kept")
	}
	if strings.Contains(mustPage(t, x, admin, "/collections"), "page-cache-advice") {
		t.Fatal("the advice is there before the collection")
	}
	ctx := context.Background()
	now := time.Now().UTC()
	id, err := x.f.Store.StartCollection(ctx, fleetscore.Collection{TenantID: x.a, StartedAt: now, Status: fleetscore.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.f.Store.FinishCollection(ctx, fleetscore.Collection{ID: id, TenantID: x.a, StartedAt: now, FinishedAt: now.Add(time.Second),
		Status: fleetscore.StatusError, Error: "denied", Advice: "page-cache-advice"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mustPage(t, x, admin, "/collections"), "page-cache-advice") {
		t.Error("the collections page does not show the collection that ended after it was kept")
	}
}

func mustPage(t *testing.T, x *exceptionFixture, s session, path string) string {
	t.Helper()
	status, body := x.raw(t, s, path, true)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d", path, status)
	}
	return body
}

func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-60)
	return fmt.Sprintf("byte %d: %q vs %q", i, a[lo:min(len(a), i+60)], b[lo:min(len(b), i+60)])
}

// TestCachedPageKeepsScopes: a client bound to its tenants never gets a
// page kept for the whole fleet, nor for another client, and the admin
// never gets a client's.
func TestCachedPageKeepsScopes(t *testing.T) {
	x := newExceptionFixture(t, false)
	x.addUser(t, "alice", auth.RoleAdmin)
	x.addUser(t, "bea", auth.RoleClient, x.b)
	admin, ann, bea := x.signIn(t, "alice", x.password), x.signIn(t, "ann", x.password), x.signIn(t, "bea", x.password)
	aName := x.f.Jobs[0].Tenant.Name
	for _, path := range []string{"/", "/actions", "/actions/" + x.control, "/collections", "/exceptions"} {
		// Each first, in turn: the others read what it left in the cache.
		for _, order := range [][]session{{admin, ann, bea}, {ann, bea, admin}, {bea, admin, ann}} {
			x.s.invalidatePages()
			got := map[string]string{}
			for _, s := range order {
				got[s.csrf] = mustPage(t, x, s, path)
			}
			if a := got[admin.csrf]; !strings.Contains(a, aName) || !strings.Contains(a, x.bName) {
				t.Errorf("GET %s as the admin: both tenants' names are not on the page", path)
			}
			if c := got[ann.csrf]; strings.Contains(c, x.bName) || (path == "/" && !strings.Contains(c, aName)) {
				t.Errorf("GET %s as ann (tenant a): the page shows tenant b, or not a", path)
			}
			if c := got[bea.csrf]; strings.Contains(c, aName) || (path == "/" && !strings.Contains(c, x.bName)) {
				t.Errorf("GET %s as bea (tenant b): the page shows tenant a, or not b", path)
			}
		}
	}
	// By token, too: the client's token sees tenant a only.
	_, body := x.do(t, http.MethodGet, "/", string(auth.RoleAdmin))
	if !strings.Contains(body, x.bName) {
		t.Fatal("the admin token's overview lacks tenant b")
	}
	if _, body := x.do(t, http.MethodGet, "/", string(auth.RoleClient)); strings.Contains(body, x.bName) {
		t.Error("the client token got the admin's kept overview")
	}
}

// TestCachedPageSharedAcrossSessions: two sessions share one kept page;
// each gets its own CSRF token and user name in it, and the rest is the
// same bytes.
func TestCachedPageSharedAcrossSessions(t *testing.T) {
	x := newExceptionFixture(t, false)
	x.addUser(t, "alice", auth.RoleAdmin)
	x.addUser(t, "bob", auth.RoleAdmin)
	s1, s2, s3 := x.signIn(t, "alice", x.password), x.signIn(t, "alice", x.password), x.signIn(t, "bob", x.password)
	if s1.csrf == s2.csrf {
		t.Fatal("two sessions with one CSRF token")
	}
	ctx := context.Background()
	for _, path := range []string{"/", "/actions", "/exceptions", "/tenants/" + x.a} {
		x.s.invalidatePages()
		p1, p2, p3 := mustPage(t, x, s1, path), mustPage(t, x, s2, path), mustPage(t, x, s3, path)
		for _, c := range []struct {
			page, own, other string
		}{{p1, s1.csrf, s2.csrf}, {p2, s2.csrf, s1.csrf}, {p3, s3.csrf, s1.csrf}} {
			if !strings.Contains(c.page, `name="csrf" value="`+c.own+`"`) || strings.Contains(c.page, c.other) {
				t.Fatalf("GET %s: a session's page lacks its own CSRF token or holds another's", path)
			}
		}
		if !strings.Contains(p3, `<span class="muted small">bob</span>`) || strings.Contains(p3, `<span class="muted small">alice</span>`) {
			t.Fatalf("GET %s as bob: the header does not name bob", path)
		}
		if strings.ReplaceAll(p1, s1.csrf, "TOKEN") != strings.ReplaceAll(p2, s2.csrf, "TOKEN") {
			t.Errorf("GET %s: two sessions of alice differ beyond the CSRF token", path)
		}
		pc, err := x.s.pagesOf(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pc.mu.Lock()
		n := 0
		for k := range pc.entries {
			if strings.HasPrefix(k, strings.SplitN(path, "?", 2)[0]+"?\x00") {
				n++
			}
		}
		pc.mu.Unlock()
		want := 1
		if path == "/exceptions" {
			want = 2 // kept by name: who may approve whose exception
		}
		if n != want {
			t.Errorf("GET %s by three sessions of two admins: %d kept pages, want %d", path, n, want)
		}
	}
	// The report's nonce is each view's own.
	_, r1 := x.raw(t, s1, "/tenants/"+x.a+"/report", true)
	_, r2 := x.raw(t, s1, "/tenants/"+x.a+"/report", true)
	n1, n2 := nonceAttr.FindString(r1), nonceAttr.FindString(r2)
	if n1 == "" || n1 == n2 {
		t.Errorf("two views of a report: nonces %q and %q", n1, n2)
	}
}

// TestPageCacheBounded: query strings without end keep at most
// pageCacheMaxEntries pages per version.
func TestPageCacheBounded(t *testing.T) {
	x := newExceptionFixture(t, false)
	x.addUser(t, "alice", auth.RoleAdmin)
	s := x.signIn(t, "alice", x.password)
	for i := range pageCacheMaxEntries + 40 {
		mustPage(t, x, s, fmt.Sprintf("/collections?junk=%d", i))
	}
	pc, err := x.s.pagesOf(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if len(pc.entries) > pageCacheMaxEntries || len(pc.order) != len(pc.entries) || pc.bytes > pageCacheMaxBytes {
		t.Errorf("%d pages (%d in order, %d bytes) kept, at most %d", len(pc.entries), len(pc.order), pc.bytes, pageCacheMaxEntries)
	}
	sum := 0
	for _, e := range pc.entries {
		sum += e.size
	}
	if sum != pc.bytes {
		t.Errorf("the cache counts %d bytes, its pages hold %d", pc.bytes, sum)
	}
}

// TestCRC32Combine: the trailer's CRC of a page built from pieces.
func TestCRC32Combine(t *testing.T) {
	parts := [][]byte{[]byte("<!doctype html>"), bytes.Repeat([]byte("x"), 70000), {}, []byte("é\x00"), bytes.Repeat([]byte("ab"), 12345)}
	var all []byte
	var crc uint32
	for _, p := range parts {
		all = append(all, p...)
		crc = crc32Combine(crc, crc32.ChecksumIEEE(p), int64(len(p)))
		if want := crc32.ChecksumIEEE(all); crc != want {
			t.Fatalf("after %d bytes: %08x, want %08x", len(all), crc, want)
		}
	}
}
