package relational

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/exceptions"
)

// The register of exceptions (migration 0008): exceptions.Register.

var _ exceptions.Register = (*Store)(nil)

const exceptionColumns = `id, tenant, control, state, reason, owner, review_by, created_by, created_at, status, error,
	advice, written_at, approved_by, updated_at`

func scanException(r interface{ Scan(...any) error }) (exceptions.Exception, error) {
	var (
		e                exceptions.Exception
		review, created  int64
		written, updated sql.NullInt64
	)
	err := r.Scan(&e.ID, &e.TenantID, &e.Control, &e.State, &e.Reason, &e.Owner, &review, &e.CreatedBy, &created,
		&e.Status, &e.Error, &e.Advice, &written, &e.ApprovedBy, &updated)
	if err != nil {
		return e, err
	}
	e.ReviewBy = fleetscore.DayFromUnix(review)
	e.CreatedAt = time.Unix(0, created).UTC()
	e.WrittenAt, e.UpdatedAt = fromNanos(written), fromNanos(updated)
	return e, nil
}

func updatedAt(e exceptions.Exception) int64 {
	if e.UpdatedAt.IsZero() {
		return e.CreatedAt.UnixNano()
	}
	return e.UpdatedAt.UnixNano()
}

// PutException adds an exception. A second one of the same control at the
// same tenant is an error: the register keeps one, replaced by
// UpdateException.
func (s *Store) PutException(ctx context.Context, e exceptions.Exception) (exceptions.Exception, error) {
	err := s.writer().row(ctx, `
		INSERT INTO exceptions (tenant, control, state, reason, owner, review_by, created_by, created_at, status, error,
		                        advice, written_at, approved_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		e.TenantID, e.Control, e.State, e.Reason, e.Owner, e.ReviewBy.Unix(), e.CreatedBy, e.CreatedAt.UnixNano(),
		e.Status, e.Error, e.Advice, nanos(e.WrittenAt), e.ApprovedBy, updatedAt(e)).Scan(&e.ID)
	if err != nil {
		return e, fmt.Errorf("save exception of %s at %s: %w", e.Control, e.TenantID, err)
	}
	return e, nil
}

// Exception returns the exception id.
func (s *Store) Exception(ctx context.Context, id int64) (exceptions.Exception, error) {
	e, err := scanException(s.reader().row(ctx, `SELECT `+exceptionColumns+` FROM exceptions WHERE id = ?`, id))
	if err := notFound(err, "exception "+strconv.FormatInt(id, 10)); err != nil {
		return exceptions.Exception{}, err
	}
	return e, nil
}

// Exceptions returns the exceptions the filter matches, oldest first.
func (s *Store) Exceptions(ctx context.Context, f exceptions.Filter) ([]exceptions.Exception, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"tenant", f.TenantID}, {"control", f.Control}, {"status", f.Status}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	query := `SELECT ` + exceptionColumns + ` FROM exceptions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	out, err := all(ctx, s.reader(), func(r *sql.Rows) (exceptions.Exception, error) { return scanException(r) },
		query+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	return out, nil
}

// UpdateException replaces the stored exception e.ID.
func (s *Store) UpdateException(ctx context.Context, e exceptions.Exception) error {
	err := s.writer().changed(ctx, `
		UPDATE exceptions
		SET tenant = ?, control = ?, state = ?, reason = ?, owner = ?, review_by = ?, created_by = ?, created_at = ?,
		    status = ?, error = ?, advice = ?, written_at = ?, approved_by = ?, updated_at = ?
		WHERE id = ?`,
		e.TenantID, e.Control, e.State, e.Reason, e.Owner, e.ReviewBy.Unix(), e.CreatedBy, e.CreatedAt.UnixNano(),
		e.Status, e.Error, e.Advice, nanos(e.WrittenAt), e.ApprovedBy, updatedAt(e), e.ID)
	if errors.Is(err, fleetscore.ErrNotFound) {
		return fmt.Errorf("update exception %d: %w", e.ID, err)
	}
	if err != nil {
		return fmt.Errorf("update exception %d: %w", e.ID, err)
	}
	return nil
}

// DeleteException removes the exception id.
func (s *Store) DeleteException(ctx context.Context, id int64) error {
	res, err := s.writer().exec(ctx, `DELETE FROM exceptions WHERE id = ?`, id)
	return affected(res, err, "delete exception "+strconv.FormatInt(id, 10))
}

// ExceptedControls returns, by tenant ID, the controls a live exception
// (exceptions.Exception.Live) sets a state on: what the actions ranking
// counts apart.
func (s *Store) ExceptedControls(ctx context.Context) (map[string]map[string]string, error) {
	type row struct{ tenant, control, state string }
	rows, err := all(ctx, s.reader(), func(r *sql.Rows) (row, error) {
		var x row
		return x, r.Scan(&x.tenant, &x.control, &x.state)
	}, `
		SELECT tenant, control, state
		FROM exceptions
		WHERE state <> ? AND status IN (?, ?, ?)`,
		fleetscore.StateDefault, exceptions.StatusWritten, exceptions.StatusInEffect, exceptions.StatusLocal)
	if err != nil {
		return nil, fmt.Errorf("excepted controls: %w", err)
	}
	out := map[string]map[string]string{}
	for _, r := range rows {
		if out[r.tenant] == nil {
			out[r.tenant] = map[string]string{}
		}
		out[r.tenant][r.control] = r.state
	}
	return out, nil
}
