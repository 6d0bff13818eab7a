package relational

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
)

// The methods below implement auth.Store (users, sessions, API tokens,
// failed sign-ins, the audit log; migration 0005); auth.Store documents
// each. Times are Unix seconds, 0 for "never".
//
// revoked is an integer in both dialects, so that `fleetscore migrate`
// copies it as it is.

// unix and fromUnix keep times as Unix seconds, 0 for the zero time.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// notFound turns sql.ErrNoRows into fleetscore.ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, fleetscore.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// affected answers ErrNotFound when an update or delete touched no row.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%s: %w", what, fleetscore.ErrNotFound)
	}
	return nil
}

func (s *Store) PutUser(ctx context.Context, u auth.User) error {
	_, err := s.writer().exec(ctx, `
		INSERT INTO users (name, role, tenants, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, tenants = excluded.tenants,
			password_hash = excluded.password_hash`,
		u.Name, string(u.Role), auth.JoinTenants(u.Tenants), u.PasswordHash, unix(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("save user %s: %w", u.Name, err)
	}
	return nil
}

func (s *Store) User(ctx context.Context, name string) (auth.User, error) {
	var u auth.User
	var role, tenants string
	var created int64
	err := s.reader().row(ctx, `
		SELECT name, role, tenants, password_hash, created_at FROM users WHERE name = ?`, name).
		Scan(&u.Name, &role, &tenants, &u.PasswordHash, &created)
	if err := notFound(err, "user "+name); err != nil {
		return auth.User{}, err
	}
	u.Role, u.Tenants, u.CreatedAt = auth.Role(role), auth.SplitTenants(tenants), fromUnix(created)
	return u, nil
}

func (s *Store) Users(ctx context.Context) ([]auth.User, error) {
	rows, err := s.reader().query(ctx, `SELECT name, role, tenants, created_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		var u auth.User
		var role, tenants string
		var created int64
		if err := rows.Scan(&u.Name, &role, &tenants, &created); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		u.Role, u.Tenants, u.CreatedAt = auth.Role(role), auth.SplitTenants(tenants), fromUnix(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Store) RemoveUser(ctx context.Context, name string) error {
	res, err := s.writer().exec(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err := affected(res, err, "remove user "+name); err != nil {
		return err
	}
	return s.DeleteSessionsOf(ctx, name)
}

func (s *Store) PutSession(ctx context.Context, x auth.Session) error {
	_, err := s.writer().exec(ctx, `
		INSERT INTO sessions (id_hash, name, role, tenants, csrf, created_at, expires_at, last_seen)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		x.IDHash, x.Principal.Name, string(x.Principal.Role), auth.JoinTenants(x.Principal.Tenants), x.CSRF,
		unix(x.CreatedAt), unix(x.ExpiresAt), unix(x.LastSeen))
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

func (s *Store) Session(ctx context.Context, idHash string) (auth.Session, error) {
	x := auth.Session{IDHash: idHash}
	var role, tenants string
	var created, expires, seen int64
	err := s.reader().row(ctx, `
		SELECT name, role, tenants, csrf, created_at, expires_at, last_seen FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&x.Principal.Name, &role, &tenants, &x.CSRF, &created, &expires, &seen)
	if err := notFound(err, "session"); err != nil {
		return auth.Session{}, err
	}
	x.Principal.Role, x.Principal.Tenants = auth.Role(role), auth.SplitTenants(tenants)
	x.CreatedAt, x.ExpiresAt, x.LastSeen = fromUnix(created), fromUnix(expires), fromUnix(seen)
	return x, nil
}

func (s *Store) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	res, err := s.writer().exec(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ?`, unix(at), idHash)
	return affected(res, err, "touch session")
}

func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.writer().exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

func (s *Store) DeleteSessionsOf(ctx context.Context, name string) error {
	_, err := s.writer().exec(ctx, `DELETE FROM sessions WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete sessions of %s: %w", name, err)
	}
	return nil
}

func (s *Store) DeleteSessionsBefore(ctx context.Context, expired, idle time.Time) error {
	_, err := s.writer().exec(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen <= ?`, unix(expired), unix(idle))
	if err != nil {
		return fmt.Errorf("drop ended sessions: %w", err)
	}
	return nil
}

func (s *Store) PutToken(ctx context.Context, t auth.Token) error {
	_, err := s.writer().exec(ctx, `
		INSERT INTO api_tokens (public_id, hash, role, tenants, created_at, expires_at, last_used, revoked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, string(t.Role), auth.JoinTenants(t.Tenants), unix(t.CreatedAt), unix(t.ExpiresAt), unix(t.LastUsed), flag(t.Revoked))
	if err != nil {
		return fmt.Errorf("save token %s: %w", t.ID, err)
	}
	return nil
}

const tokenColumns = `public_id, hash, role, tenants, created_at, expires_at, last_used, revoked`

func scanToken(sc interface{ Scan(...any) error }) (auth.Token, error) {
	var t auth.Token
	var role, tenants string
	var created, expires, used, revoked int64
	if err := sc.Scan(&t.ID, &t.Hash, &role, &tenants, &created, &expires, &used, &revoked); err != nil {
		return auth.Token{}, err
	}
	t.Revoked = revoked != 0
	t.Role, t.Tenants = auth.Role(role), auth.SplitTenants(tenants)
	t.CreatedAt, t.ExpiresAt, t.LastUsed = fromUnix(created), fromUnix(expires), fromUnix(used)
	return t, nil
}

func (s *Store) TokenByHash(ctx context.Context, hash string) (auth.Token, error) {
	t, err := scanToken(s.reader().row(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hash))
	if err := notFound(err, "token"); err != nil {
		return auth.Token{}, err
	}
	return t, nil
}

func (s *Store) Tokens(ctx context.Context) ([]auth.Token, error) {
	rows, err := s.reader().query(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at DESC, public_id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *Store) RevokeToken(ctx context.Context, id string) error {
	res, err := s.writer().exec(ctx, `UPDATE api_tokens SET revoked = 1 WHERE public_id = ?`, id)
	return affected(res, err, "revoke token "+id)
}

func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.writer().exec(ctx, `UPDATE api_tokens SET last_used = ? WHERE public_id = ?`, unix(at), id)
	return affected(res, err, "touch token "+id)
}

func (s *Store) AddFailure(ctx context.Context, key string, at time.Time) error {
	_, err := s.writer().exec(ctx, `INSERT INTO signin_failures (key, at) VALUES (?, ?)`, key, unix(at))
	if err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	// Keep the table small: failures older than a day no longer count.
	_, err = s.writer().exec(ctx, `DELETE FROM signin_failures WHERE at < ?`, unix(at.Add(-24*time.Hour)))
	if err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	return nil
}

func (s *Store) Failures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	err := s.reader().row(ctx, `SELECT count(*) FROM signin_failures WHERE key = ? AND at >= ?`, key, unix(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count failed sign-ins: %w", err)
	}
	return n, nil
}

func (s *Store) ClearFailures(ctx context.Context, key string) error {
	_, err := s.writer().exec(ctx, `DELETE FROM signin_failures WHERE key = ?`, key)
	if err != nil {
		return fmt.Errorf("clear failed sign-ins: %w", err)
	}
	return nil
}

func (s *Store) Audit(ctx context.Context, e auth.Event) error {
	_, err := s.writer().exec(ctx, `INSERT INTO audit_log (at, actor, action, detail, ip) VALUES (?, ?, ?, ?, ?)`,
		unix(e.At), e.Actor, e.Action, e.Detail, e.IP)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

func (s *Store) AuditLog(ctx context.Context, limit int) ([]auth.Event, error) {
	rows, err := s.reader().query(ctx, `SELECT at, actor, action, detail, ip FROM audit_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []auth.Event
	for rows.Next() {
		var e auth.Event
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Detail, &e.IP); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.At = fromUnix(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
