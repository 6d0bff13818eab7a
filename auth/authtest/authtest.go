// Package authtest is the conformance suite of auth.Store, run against
// every store (sqlite, postgres) so that both keep users, sessions, tokens,
// lockout and audit the same.
package authtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
)

const (
	tenantA = "11111111-1111-1111-1111-111111111111"
	tenantB = "22222222-2222-2222-2222-222222222222"
)

// Run runs the suite; open returns an empty store.
func Run(t *testing.T, open func(t *testing.T) auth.Store) {
	t.Run("Users", func(t *testing.T) { users(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { sessions(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { tokens(t, open(t)) })
	t.Run("Failures", func(t *testing.T) { failures(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { audit(t, open(t)) })
	t.Run("Service", func(t *testing.T) { service(t, open(t)) })
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("%s: error %v; want ErrNotFound", what, err)
	}
}

func users(t *testing.T, s auth.Store) {
	ctx := context.Background()
	_, err := s.User(ctx, "ann")
	wantNotFound(t, err, "User of nobody")
	must(t, s.PutUser(ctx, auth.User{Name: "ann", Role: auth.RoleClient, Tenants: []string{tenantA, tenantB}, PasswordHash: "h1", CreatedAt: t0}))
	must(t, s.PutUser(ctx, auth.User{Name: "bob", Role: auth.RoleAdmin, PasswordHash: "h2", CreatedAt: t0}))
	u, err := s.User(ctx, "ann")
	must(t, err)
	if u.Role != auth.RoleClient || !slices.Equal(u.Tenants, []string{tenantA, tenantB}) || u.PasswordHash != "h1" || !u.CreatedAt.Equal(t0) {
		t.Errorf("User: %+v", u)
	}
	must(t, s.PutUser(ctx, auth.User{Name: "ann", Role: auth.RoleAnalyst, PasswordHash: "h3", CreatedAt: t0}))
	u, _ = s.User(ctx, "ann")
	if u.Role != auth.RoleAnalyst || u.Tenants != nil || u.PasswordHash != "h3" {
		t.Errorf("User after replace: %+v", u)
	}
	all, err := s.Users(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Name != "ann" || all[1].Name != "bob" {
		t.Errorf("Users: %+v", all)
	}
	must(t, s.PutSession(ctx, auth.Session{IDHash: "x", Principal: auth.Principal{Name: "ann", Role: auth.RoleAnalyst}, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeen: t0}))
	must(t, s.RemoveUser(ctx, "ann"))
	_, err = s.Session(ctx, "x")
	wantNotFound(t, err, "Session of a removed user")
	wantNotFound(t, s.RemoveUser(ctx, "ann"), "RemoveUser twice")
}

func sessions(t *testing.T, s auth.Store) {
	ctx := context.Background()
	x := auth.Session{IDHash: "abc", Principal: auth.Principal{Name: "ann", Role: auth.RoleClient, Tenants: []string{tenantA}},
		CSRF: "tok", CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour), LastSeen: t0}
	must(t, s.PutSession(ctx, x))
	got, err := s.Session(ctx, "abc")
	must(t, err)
	if got.Principal.Name != "ann" || got.Principal.Role != auth.RoleClient || !slices.Equal(got.Principal.Tenants, []string{tenantA}) ||
		got.CSRF != "tok" || !got.ExpiresAt.Equal(x.ExpiresAt) || !got.LastSeen.Equal(t0) {
		t.Errorf("Session: %+v", got)
	}
	must(t, s.TouchSession(ctx, "abc", t0.Add(time.Minute)))
	got, _ = s.Session(ctx, "abc")
	if !got.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("LastSeen after touch: %v", got.LastSeen)
	}
	wantNotFound(t, s.TouchSession(ctx, "nope", t0), "TouchSession of none")
	must(t, s.DeleteSession(ctx, "abc"))
	_, err = s.Session(ctx, "abc")
	wantNotFound(t, err, "Session after delete")
	must(t, s.PutSession(ctx, auth.Session{IDHash: "d1", Principal: auth.Principal{Name: "bob", Role: auth.RoleAdmin}, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeen: t0}))
	must(t, s.PutSession(ctx, auth.Session{IDHash: "d2", Principal: auth.Principal{Name: "bob", Role: auth.RoleAdmin}, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeen: t0}))
	must(t, s.DeleteSessionsOf(ctx, "bob"))
	for _, id := range []string{"d1", "d2"} {
		_, err = s.Session(ctx, id)
		wantNotFound(t, err, "Session after DeleteSessionsOf")
	}
	for id, times := range map[string][2]time.Time{"ended": {t0, t0.Add(-time.Minute)}, "idle": {t0.Add(time.Hour), t0.Add(-2 * time.Hour)}, "live": {t0.Add(time.Hour), t0}} {
		must(t, s.PutSession(ctx, auth.Session{IDHash: id, Principal: auth.Principal{Name: "cy", Role: auth.RoleAnalyst}, CSRF: "c", CreatedAt: t0.Add(-3 * time.Hour), ExpiresAt: times[0], LastSeen: times[1]}))
	}
	must(t, s.DeleteSessionsBefore(ctx, t0, t0.Add(-time.Hour)))
	for _, id := range []string{"ended", "idle"} {
		_, err = s.Session(ctx, id)
		wantNotFound(t, err, "Session "+id+" after DeleteSessionsBefore")
	}
	if _, err := s.Session(ctx, "live"); err != nil {
		t.Errorf("a live session was dropped: %v", err)
	}
}

func tokens(t *testing.T, s auth.Store) {
	ctx := context.Background()
	must(t, s.PutToken(ctx, auth.Token{ID: "t1", Hash: "h1", Role: auth.RoleClient, Tenants: []string{tenantB}, CreatedAt: t0, ExpiresAt: t0.Add(90 * 24 * time.Hour)}))
	must(t, s.PutToken(ctx, auth.Token{ID: "t2", Hash: "h2", Role: auth.RoleAnalyst, CreatedAt: t0.Add(time.Second)}))
	got, err := s.TokenByHash(ctx, "h1")
	must(t, err)
	if got.ID != "t1" || got.Role != auth.RoleClient || !slices.Equal(got.Tenants, []string{tenantB}) || got.Revoked ||
		!got.ExpiresAt.Equal(t0.Add(90*24*time.Hour)) || !got.LastUsed.IsZero() {
		t.Errorf("TokenByHash: %+v", got)
	}
	_, err = s.TokenByHash(ctx, "h9")
	wantNotFound(t, err, "TokenByHash of none")
	must(t, s.TouchToken(ctx, "t1", t0.Add(time.Hour)))
	must(t, s.RevokeToken(ctx, "t1"))
	wantNotFound(t, s.RevokeToken(ctx, "t9"), "RevokeToken of none")
	all, err := s.Tokens(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "t2" || all[1].ID != "t1" || !all[1].Revoked || !all[1].LastUsed.Equal(t0.Add(time.Hour)) || !all[0].ExpiresAt.IsZero() {
		t.Errorf("Tokens: %+v", all)
	}
}

func failures(t *testing.T, s auth.Store) {
	ctx := context.Background()
	for i := range 3 {
		must(t, s.AddFailure(ctx, "user:ann", t0.Add(time.Duration(i)*time.Minute)))
	}
	must(t, s.AddFailure(ctx, "ip:10.0.0.1", t0))
	n, err := s.Failures(ctx, "user:ann", t0.Add(time.Minute))
	must(t, err)
	if n != 2 {
		t.Errorf("Failures since the second: %d; want 2", n)
	}
	must(t, s.ClearFailures(ctx, "user:ann"))
	if n, _ := s.Failures(ctx, "user:ann", t0.Add(-time.Hour)); n != 0 {
		t.Errorf("Failures after clear: %d", n)
	}
	if n, _ := s.Failures(ctx, "ip:10.0.0.1", t0.Add(-time.Hour)); n != 1 {
		t.Errorf("Failures of another key: %d", n)
	}
}

func audit(t *testing.T, s auth.Store) {
	ctx := context.Background()
	must(t, s.Audit(ctx, auth.Event{At: t0, Actor: "ann", Action: "signin", Detail: "local", IP: "10.0.0.1"}))
	must(t, s.Audit(ctx, auth.Event{At: t0.Add(time.Second), Actor: "ann", Action: "signout"}))
	log, err := s.AuditLog(ctx, 10)
	must(t, err)
	if len(log) != 2 || log[0].Action != "signout" || log[1].Action != "signin" || log[1].IP != "10.0.0.1" || !log[1].At.Equal(t0) {
		t.Errorf("AuditLog: %+v", log)
	}
}

// service runs auth.Service on the store: sign-in, lockout, session expiry,
// tokens.
func service(t *testing.T, s auth.Store) {
	ctx := context.Background()
	now := t0
	svc := &auth.Service{Store: s, Now: func() time.Time { return now }}
	must(t, s.PutUser(ctx, auth.User{Name: "ann", Role: auth.RoleClient, Tenants: []string{tenantA}, PasswordHash: auth.HashPassword("correct horse battery"), CreatedAt: t0}))

	id, sess, err := svc.SignIn(ctx, "ann", "correct horse battery", "10.0.0.1")
	must(t, err)
	if sess.Principal.Role != auth.RoleClient || sess.CSRF == "" {
		t.Errorf("session: %+v", sess)
	}
	if _, err := svc.CheckSession(ctx, id); err != nil {
		t.Errorf("CheckSession: %v", err)
	}
	now = now.Add(2 * time.Hour) // idle past the hour
	if _, err := svc.CheckSession(ctx, id); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("CheckSession after 2h idle: %v; want ErrExpired", err)
	}

	for i := range auth.MaxUserFailures {
		if _, _, err := svc.SignIn(ctx, "ann", "wrong", "10.0.0.2"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, _, err := svc.SignIn(ctx, "ann", "correct horse battery", "10.0.0.3"); !errors.Is(err, auth.ErrLocked) {
		t.Errorf("sign-in after %d failures: %v; want ErrLocked", auth.MaxUserFailures, err)
	}
	now = now.Add(auth.FailureWindow + time.Second)
	id, _, err = svc.SignIn(ctx, "ann", "correct horse battery", "10.0.0.3")
	must(t, err)
	must(t, svc.SignOut(ctx, id, "10.0.0.3"))
	if _, err := svc.CheckSession(ctx, id); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("CheckSession after sign-out: %v", err)
	}

	// An address with too many failures gets only a correct password
	// through.
	for i := range auth.MaxIPFailures {
		if _, _, err := svc.SignIn(ctx, fmt.Sprintf("nobody-%d", i), "wrong", "10.0.0.9"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d from one address: %v", i, err)
		}
	}
	if _, _, err := svc.SignIn(ctx, "nobody", "wrong", "10.0.0.9"); !errors.Is(err, auth.ErrLocked) {
		t.Errorf("a wrong password from a locked-out address: %v; want ErrLocked", err)
	}
	_, _, err = svc.SignIn(ctx, "ann", "correct horse battery", "10.0.0.9")
	must(t, err)

	secret, tok, err := svc.CreateToken(ctx, auth.RoleClient, []string{tenantA}, 24*time.Hour, "test")
	must(t, err)
	p, err := svc.CheckToken(ctx, secret, "")
	must(t, err)
	if p.Role != auth.RoleClient || !p.SeesTenant(tenantA) || p.SeesTenant(tenantB) {
		t.Errorf("token principal: %+v", p)
	}
	now = now.Add(25 * time.Hour)
	if _, err := svc.CheckToken(ctx, secret, ""); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("expired token: %v", err)
	}
	secret2, tok2, err := svc.CreateToken(ctx, auth.RoleAnalyst, nil, 0, "test")
	must(t, err)
	must(t, s.RevokeToken(ctx, tok2.ID))
	if _, err := svc.CheckToken(ctx, secret2, ""); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("revoked token: %v", err)
	}
	all, _ := s.Tokens(ctx)
	for _, x := range all {
		if x.Hash == secret || x.Hash == secret2 || x.ID == tok.Hash {
			t.Errorf("a token's secret is stored: %+v", x)
		}
	}
	if _, err := svc.CheckToken(ctx, "fs_guess", ""); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("unknown token: %v", err)
	}
}
