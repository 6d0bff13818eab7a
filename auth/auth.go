// Package auth owns who may see what in fleetscore: local users with
// argon2id password hashes, browser sessions, API tokens, the roles and the
// tenants a client is bound to, the failed sign-in lockout and the audit log.
// Sessions, tokens and users live in the database (a Store, implemented by
// sqlite and postgres), so every instance behind a load balancer answers the
// same. Only hashes of session IDs and tokens are stored.
package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is what a principal may do.
type Role string

// The roles, from most to least powerful.
const (
	// RoleAdmin may do everything: read all tenants, start a collection,
	// manage users and tokens.
	RoleAdmin Role = "admin"
	// RoleAnalyst reads every tenant and the fleet figures.
	RoleAnalyst Role = "analyst"
	// RoleClient reads only the tenants it is bound to, and no fleet-wide
	// figure.
	RoleClient Role = "client"
)

// Roles lists the roles, most powerful first.
var Roles = []Role{RoleAdmin, RoleAnalyst, RoleClient}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("role %q is not one of admin, analyst, client", s)
	}
	return r, nil
}

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleAnalyst:
		return 2
	case RoleClient:
		return 1
	}
	return 0
}

// AtLeast reports whether r may do what need allows.
func (r Role) AtLeast(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// Principal is who a request is from: a signed-in user or an API token.
type Principal struct {
	Name    string   // the user's name or e-mail, or "token <id>"
	Role    Role     //
	Tenants []string // the tenant IDs a client is bound to; empty for other roles
}

// Restricted reports whether the principal sees only its own tenants.
func (p Principal) Restricted() bool { return p.Role == RoleClient }

// SeesTenant reports whether the principal may read the tenant.
func (p Principal) SeesTenant(id string) bool {
	return !p.Restricted() || slices.Contains(p.Tenants, strings.ToLower(id))
}

// User is a local account.
type User struct {
	Name         string
	Role         Role
	Tenants      []string // for RoleClient
	PasswordHash string   // argon2id, as HashPassword writes it
	CreatedAt    time.Time
}

// Session is a browser session; the cookie holds an ID whose SHA-256 is
// IDHash.
type Session struct {
	IDHash    string
	Principal Principal
	CSRF      string // the synchronizer token of the session's forms
	CreatedAt time.Time
	ExpiresAt time.Time // absolute end
	LastSeen  time.Time // for the idle timeout
}

// Token is an API token; only the SHA-256 of its secret is kept.
type Token struct {
	ID        string // public, short: what list and revoke name
	Hash      string
	Role      Role
	Tenants   []string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	LastUsed  time.Time // zero: never used
	Revoked   bool
}

// Event is one line of the audit log.
type Event struct {
	At     time.Time
	Actor  string // who: a user, "token <id>", or the name tried
	Action string // signin, signin.failed, signout, token.use, collect, user.add...
	Detail string // never a secret
	IP     string
}

// Store keeps users, sessions, tokens, failed sign-ins and the audit log.
// Lookups of something absent return an error wrapping
// fleetscore.ErrNotFound.
type Store interface {
	PutUser(ctx context.Context, u User) error // creates or replaces
	User(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error) // by name
	RemoveUser(ctx context.Context, name string) error

	PutSession(ctx context.Context, s Session) error
	Session(ctx context.Context, idHash string) (Session, error)
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteSessionsOf ends every session of a principal name.
	DeleteSessionsOf(ctx context.Context, name string) error
	// DeleteSessionsBefore drops the sessions that ended (ExpiresAt) or
	// were last used (LastSeen) before the given times.
	DeleteSessionsBefore(ctx context.Context, expired, idle time.Time) error

	PutToken(ctx context.Context, t Token) error
	TokenByHash(ctx context.Context, hash string) (Token, error)
	Tokens(ctx context.Context) ([]Token, error) // newest first
	RevokeToken(ctx context.Context, id string) error
	TouchToken(ctx context.Context, id string, at time.Time) error

	// AddFailure records a failed sign-in under a key ("user:NAME",
	// "ip:ADDR"); Failures counts a key's failures since a time.
	AddFailure(ctx context.Context, key string, at time.Time) error
	Failures(ctx context.Context, key string, since time.Time) (int, error)
	ClearFailures(ctx context.Context, key string) error

	Audit(ctx context.Context, e Event) error
	AuditLog(ctx context.Context, limit int) ([]Event, error) // newest first
}

// JoinTenants and SplitTenants are how stores keep a tenant list in one
// column: tenant IDs are GUIDs, so a comma never occurs in one.
func JoinTenants(ids []string) string { return strings.Join(ids, ",") }

// SplitTenants is the inverse of JoinTenants.
func SplitTenants(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
