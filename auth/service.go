package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/fleetscore/fleetscore"
)

// Errors a sign-in or a credential check answers; none says which part of a
// credential was wrong.
var (
	ErrBadCredentials = errors.New("wrong name or password")
	ErrLocked         = errors.New("too many failed sign-ins; try again later")
	ErrExpired        = errors.New("the credential has expired or was revoked")
	// ErrBadName is a typed name that cannot be anyone's: a NUL byte or
	// bytes that are not UTF-8. It counts as a failed sign-in.
	ErrBadName = errors.New("the name holds a NUL byte or is not valid text")
)

// MinPasswordLength is the shortest password a local user may have.
const MinPasswordLength = 12

// Lockout: after MaxUserFailures failed sign-ins of one name within
// FailureWindow, sign-in of that name is refused until the window has
// passed. After MaxIPFailures from one address, only a correct password
// gets through from it: behind a proxy many people share an address, and
// the per-name limit still protects each account.
const (
	MaxUserFailures = 5
	MaxIPFailures   = 20
	FailureWindow   = 15 * time.Minute
)

// Service signs people in and checks sessions and tokens.
type Service struct {
	Store Store
	Now   func() time.Time // nil: time.Now
	Log   *slog.Logger     // nil: discard
	// SessionTTL ends a session this long after sign-in (default 12h);
	// IdleTimeout ends one unused this long (default 1h).
	SessionTTL  time.Duration
	IdleTimeout time.Duration

	slotsOnce sync.Once
	slots     chan struct{} // bounds the password checks running at once
}

// maxHashing is how many password checks (64 MiB each) run at once.
const maxHashing = 4

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) ttl() (abs, idle time.Duration) {
	abs, idle = s.SessionTTL, s.IdleTimeout
	if abs <= 0 {
		abs = 12 * time.Hour
	}
	if idle <= 0 {
		idle = time.Hour
	}
	return abs, idle
}

// Audit records an event; a failure to record it is logged, never fatal.
// Every field but the action may come from a request, so each is Bound
// before it is stored or logged.
func (s *Service) Audit(ctx context.Context, actor, action, detail, ip string) {
	e := Event{At: s.now(), Actor: Bound(actor), Action: Bound(action), Detail: Bound(detail), IP: Bound(ip)}
	if err := s.Store.Audit(ctx, e); err != nil {
		s.log().Error("audit", "action", e.Action, "err", err)
	}
	s.log().Info("audit", "actor", e.Actor, "action", e.Action, "detail", e.Detail, "ip", e.IP)
}

// argon2id parameters (RFC 9106's second recommendation, 64 MiB).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 4
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id and a random salt, in the
// PHC string format.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword reports whether password matches a HashPassword hash, in
// constant time.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v, m, t int
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m <= 0 || m > 1<<22 || t <= 0 || t > 100 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, uint32(t), uint32(m), p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a user does not exist, so that the
// answer takes as long as for a wrong password.
var dummyHash = sync.OnceValue(func() string { return HashPassword("fleetscore-no-such-user") })

// randomText is n random bytes, URL-safe base64.
func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash is the SHA-256 of a session ID or token, hex: what the store keeps.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SignIn checks a local user's password and opens a session. It refuses
// (ErrLocked) after too many failures of the name, and, after too many from
// the address, everything but the right password. A name that cannot be
// anyone's (ErrBadName) is a failure that never reaches the store.
func (s *Service) SignIn(ctx context.Context, name, password, ip string) (id string, sess Session, err error) {
	name = strings.TrimSpace(name)
	now := s.now()
	since := now.Add(-FailureWindow)
	// The keys are stored: bounded, whatever was typed.
	userKey, ipKey := "user:"+Bound(strings.ToLower(name)), "ip:"+Bound(ip)
	nu, err := s.Store.Failures(ctx, userKey, since)
	if err != nil {
		return "", Session{}, err
	}
	ni, err := s.Store.Failures(ctx, ipKey, since)
	if err != nil {
		return "", Session{}, err
	}
	if nu >= MaxUserFailures {
		s.Audit(ctx, name, "signin.locked", "", ip)
		return "", Session{}, ErrLocked
	}
	failed := func(why error, detail string) error {
		for _, k := range []string{userKey, ipKey} {
			if err := s.Store.AddFailure(ctx, k, now); err != nil {
				return err
			}
		}
		s.Audit(ctx, name, "signin.failed", detail, ip)
		return why
	}
	addrLocked := ni >= MaxIPFailures
	if !validName(name) {
		if addrLocked {
			return "", Session{}, failed(ErrLocked, "local, address locked")
		}
		return "", Session{}, failed(ErrBadName, "local, a name that is not valid text")
	}
	// Each check takes 64 MiB: a few at a time, so a flood of sign-ins
	// cannot run the server out of memory.
	s.slotsOnce.Do(func() { s.slots = make(chan struct{}, maxHashing) })
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return "", Session{}, ctx.Err()
	}
	u, err := s.Store.User(ctx, name)
	ok := false
	switch {
	case err == nil:
		ok = CheckPassword(u.PasswordHash, password)
	case errors.Is(err, fleetscore.ErrNotFound):
		CheckPassword(dummyHash(), password)
	default:
		return "", Session{}, err
	}
	if !ok {
		// From a locked address a wrong password reads as locked, so the
		// answer there says nothing of the name.
		if addrLocked {
			return "", Session{}, failed(ErrLocked, "local, address locked")
		}
		return "", Session{}, failed(ErrBadCredentials, "local")
	}
	_ = s.Store.ClearFailures(ctx, userKey)
	id, sess, err = s.NewSession(ctx, Principal{Name: u.Name, Role: u.Role, Tenants: u.Tenants})
	if err != nil {
		return "", Session{}, err
	}
	s.Audit(ctx, u.Name, "signin", "local", ip)
	return id, sess, nil
}

// NewSession opens a session for a principal (signed in locally or with
// OIDC) and returns the ID the cookie carries.
func (s *Service) NewSession(ctx context.Context, p Principal) (string, Session, error) {
	id := randomText(32)
	now := s.now()
	abs, idle := s.ttl()
	// Sweep the sessions nobody can use any more, so the table stays small.
	if err := s.Store.DeleteSessionsBefore(ctx, now, now.Add(-idle)); err != nil {
		s.log().Warn("drop ended sessions", "err", err)
	}
	sess := Session{IDHash: Hash(id), Principal: p, CSRF: randomText(32), CreatedAt: now, ExpiresAt: now.Add(abs), LastSeen: now}
	if err := s.Store.PutSession(ctx, sess); err != nil {
		return "", Session{}, fmt.Errorf("save session: %w", err)
	}
	return id, sess, nil
}

// CheckSession returns the live session a cookie's ID names, and marks it
// used; an expired or idle one is ended (ErrExpired).
func (s *Service) CheckSession(ctx context.Context, id string) (Session, error) {
	if id == "" {
		return Session{}, ErrExpired
	}
	sess, err := s.Store.Session(ctx, Hash(id))
	if errors.Is(err, fleetscore.ErrNotFound) {
		return Session{}, ErrExpired
	}
	if err != nil {
		return Session{}, err
	}
	now := s.now()
	_, idle := s.ttl()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeen) >= idle {
		_ = s.Store.DeleteSession(ctx, sess.IDHash)
		return Session{}, ErrExpired
	}
	// Writing on every request would make every page view a write; a
	// minute's precision is enough for the idle timeout.
	if now.Sub(sess.LastSeen) >= time.Minute {
		if err := s.Store.TouchSession(ctx, sess.IDHash, now); err != nil {
			return Session{}, err
		}
		sess.LastSeen = now
	}
	return sess, nil
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, id, ip string) error {
	sess, err := s.Store.Session(ctx, Hash(id))
	if err != nil {
		return nil
	}
	s.Audit(ctx, sess.Principal.Name, "signout", "", ip)
	return s.Store.DeleteSession(ctx, sess.IDHash)
}

// TokenPrefix starts every API token, so that a leaked one is easy to
// recognise (and to scan for).
const TokenPrefix = "fs_"

// CreateToken makes an API token; the returned secret is shown once and
// only its hash kept. ttl 0 means it never expires.
func (s *Service) CreateToken(ctx context.Context, role Role, tenants []string, ttl time.Duration, actor string) (string, Token, error) {
	if role == RoleClient && len(tenants) == 0 {
		return "", Token{}, errors.New("a client token needs at least one --tenant")
	}
	secret := TokenPrefix + randomText(32)
	now := s.now()
	// Hex: an ID is typed after `token revoke`, where one starting with -
	// (as base64 may) would read as a flag.
	t := Token{ID: randomHex(6), Hash: Hash(secret), Role: role, Tenants: tenants, CreatedAt: now}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	if err := s.Store.PutToken(ctx, t); err != nil {
		return "", Token{}, fmt.Errorf("save token: %w", err)
	}
	s.Audit(ctx, actor, "token.create", "token "+t.ID+" role "+string(role), "")
	return secret, t, nil
}

// CheckToken returns the principal of a live API token and records its use.
func (s *Service) CheckToken(ctx context.Context, secret, ip string) (Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return Principal{}, ErrExpired
	}
	t, err := s.Store.TokenByHash(ctx, Hash(secret))
	if errors.Is(err, fleetscore.ErrNotFound) {
		return Principal{}, ErrExpired
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.now()
	if t.Revoked || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) {
		return Principal{}, ErrExpired
	}
	if now.Sub(t.LastUsed) >= time.Minute {
		if err := s.Store.TouchToken(ctx, t.ID, now); err != nil {
			return Principal{}, err
		}
		s.Audit(ctx, "token "+t.ID, "token.use", "", ip)
	}
	return Principal{Name: "token " + t.ID, Role: t.Role, Tenants: t.Tenants}, nil
}

// randomHex is n random bytes, hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
