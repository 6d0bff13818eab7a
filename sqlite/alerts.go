package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
)

var _ alert.StateStore = (*Store)(nil)

// deliveriesKept is how long a finished delivery and its attempts are kept.
const deliveriesKept = 90 * 24 * time.Hour

// OpenAlerts returns every alert not resolved, oldest first.
func (s *Store) OpenAlerts(ctx context.Context) ([]alert.Open, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT id, rule, tenant, subject, tenant_name, title, summary, facts, opened_at
		FROM alerts
		WHERE resolved_at IS NULL
		ORDER BY opened_at, id`)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	defer rows.Close()
	var out []alert.Open
	for rows.Next() {
		var (
			o      alert.Open
			facts  string
			opened int64
		)
		if err := rows.Scan(&o.ID, &o.Rule, &o.Tenant, &o.Subject, &o.TenantName, &o.Title, &o.Summary, &facts, &opened); err != nil {
			return nil, fmt.Errorf("open alerts: %w", err)
		}
		if err := json.Unmarshal([]byte(facts), &o.Facts); err != nil {
			return nil, fmt.Errorf("open alert %d: facts: %w", o.ID, err)
		}
		o.OpenedAt = time.Unix(0, opened).UTC()
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	return out, nil
}

// ApplyChanges records an evaluation's changes in one transaction: each
// applies only if it still can (the alert is not open yet, or still open),
// which the single writer connection makes safe between processes, and each
// applied change queues its message for every channel. Finished deliveries
// older than 90 days are pruned on the way.
func (s *Store) ApplyChanges(ctx context.Context, changes []alert.Change) ([]alert.Change, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record alerts: %w", err)
	}
	defer tx.Rollback()
	var applied []alert.Change
	for _, c := range changes {
		ok, err := applyChange(ctx, tx, &c)
		if err != nil {
			return nil, fmt.Errorf("record alert %s: %w", c.Alert.Key, err)
		}
		if !ok {
			continue
		}
		msg, err := json.Marshal(c.Message)
		if err != nil {
			return nil, fmt.Errorf("record alert %s: %w", c.Alert.Key, err)
		}
		for _, ch := range c.Channels {
			_, err := tx.ExecContext(ctx, `
				INSERT INTO alert_deliveries (alert, channel, message, created_at)
				VALUES (?, ?, ?, ?)`, c.Alert.ID, ch, string(msg), c.At.UnixNano())
			if err != nil {
				return nil, fmt.Errorf("queue alert %s for %s: %w", c.Alert.Key, ch, err)
			}
		}
		applied = append(applied, c)
	}
	if len(changes) > 0 {
		if err := pruneDeliveries(ctx, tx, changes[0].At.Add(-deliveriesKept)); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record alerts: %w", err)
	}
	return applied, nil
}

// applyChange opens or resolves c's alert, setting the new alert's ID; it
// is false when there was nothing to do.
func applyChange(ctx context.Context, tx *sql.Tx, c *alert.Change) (bool, error) {
	switch c.Event {
	case alert.Firing:
		facts, err := json.Marshal(c.Alert.Facts)
		if err != nil {
			return false, err
		}
		if c.Alert.Facts == nil {
			facts = []byte("[]")
		}
		rows, err := tx.QueryContext(ctx, `
			INSERT INTO alerts (rule, tenant, subject, tenant_name, title, summary, facts, opened_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING
			RETURNING id`,
			c.Alert.Rule, c.Alert.Tenant, c.Alert.Subject, c.Alert.TenantName, c.Alert.Title, c.Alert.Summary,
			string(facts), c.At.UnixNano())
		if err != nil {
			return false, err
		}
		defer rows.Close()
		if !rows.Next() {
			return false, rows.Err()
		}
		if err := rows.Scan(&c.Alert.ID); err != nil {
			return false, err
		}
		c.Alert.OpenedAt = c.At.UTC()
		return true, rows.Close()
	case alert.Resolved:
		res, err := tx.ExecContext(ctx, `
			UPDATE alerts
			SET resolved_at = ?
			WHERE id = ? AND resolved_at IS NULL`, c.At.UnixNano(), c.Alert.ID)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n == 1, err
	}
	return false, fmt.Errorf("event %q is not %s or %s", c.Event, alert.Firing, alert.Resolved)
}

func pruneDeliveries(ctx context.Context, tx *sql.Tx, before time.Time) error {
	_, err := tx.ExecContext(ctx, `
		DELETE FROM alert_attempts
		WHERE delivery IN (SELECT id FROM alert_deliveries WHERE status <> 'pending' AND finished_at < ?)`, before.UnixNano())
	if err == nil {
		_, err = tx.ExecContext(ctx, `
			DELETE FROM alert_deliveries
			WHERE status <> 'pending' AND finished_at < ?`, before.UnixNano())
	}
	if err != nil {
		return fmt.Errorf("prune alert deliveries: %w", err)
	}
	return nil
}

// ClaimDeliveries leases the pending deliveries no other owner holds,
// oldest first.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]alert.Delivery, error) {
	rows, err := s.w.QueryContext(ctx, `
		UPDATE alert_deliveries
		SET lease_owner = ?1, lease_until = ?2
		WHERE status = 'pending' AND (lease_owner = ?1 OR lease_until <= ?3)
		RETURNING id, alert, channel, message, created_at, status, attempts, last_error`,
		owner, now.Add(lease).UnixNano(), now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("claim alert deliveries: %w", err)
	}
	defer rows.Close()
	var out []alert.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows, false)
		if err != nil {
			return nil, fmt.Errorf("claim alert deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim alert deliveries: %w", err)
	}
	// RETURNING gives rows in no set order.
	slices.SortFunc(out, func(a, b alert.Delivery) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func scanDelivery(rows *sql.Rows, finished bool) (alert.Delivery, error) {
	var (
		d       alert.Delivery
		msg     string
		created int64
		done    sql.NullInt64
	)
	dest := []any{&d.ID, &d.AlertID, &d.Channel, &msg, &created, &d.Status, &d.Attempts, &d.LastError}
	if finished {
		dest = append(dest, &done)
	}
	if err := rows.Scan(dest...); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(msg), &d.Message); err != nil {
		return d, fmt.Errorf("delivery %d: message: %w", d.ID, err)
	}
	d.CreatedAt = time.Unix(0, created).UTC()
	d.FinishedAt = fromNanos(done)
	return d, nil
}

// RecordAttempt logs one attempt at a delivery.
func (s *Store) RecordAttempt(ctx context.Context, id int64, a alert.Attempt) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record attempt at delivery %d: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `
		UPDATE alert_deliveries
		SET attempts = attempts + 1,
		    last_error = CASE WHEN ?1 = '' THEN last_error ELSE ?1 END
		WHERE id = ?2`, a.Error, id)
	if err != nil {
		return fmt.Errorf("record attempt at delivery %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record attempt at delivery %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("record attempt at delivery %d: %w", id, fleetscore.ErrNotFound)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO alert_attempts (delivery, n, at, took, error)
		VALUES (?1, (SELECT attempts FROM alert_deliveries WHERE id = ?1), ?2, ?3, ?4)`,
		id, a.At.UnixNano(), a.Took.Nanoseconds(), a.Error)
	if err != nil {
		return fmt.Errorf("record attempt at delivery %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record attempt at delivery %d: %w", id, err)
	}
	return nil
}

// FinishDelivery ends a delivery as delivered or expired, or releases it
// (pending) for a later evaluation.
func (s *Store) FinishDelivery(ctx context.Context, id int64, status string, at time.Time) error {
	var (
		res sql.Result
		err error
	)
	switch status {
	case alert.StatusPending:
		res, err = s.w.ExecContext(ctx, `
			UPDATE alert_deliveries
			SET lease_owner = '', lease_until = 0
			WHERE id = ?`, id)
	case alert.StatusDelivered, alert.StatusExpired:
		res, err = s.w.ExecContext(ctx, `
			UPDATE alert_deliveries
			SET status = CASE WHEN status = 'pending' THEN ?1 ELSE status END,
			    finished_at = CASE WHEN status = 'pending' THEN ?2 ELSE finished_at END,
			    lease_owner = '', lease_until = 0
			WHERE id = ?3`, status, at.UnixNano(), id)
	default:
		return fmt.Errorf("finish delivery %d: status %q is not %s, %s or %s", id, status,
			alert.StatusPending, alert.StatusDelivered, alert.StatusExpired)
	}
	if err != nil {
		return fmt.Errorf("finish delivery %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish delivery %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("finish delivery %d: %w", id, fleetscore.ErrNotFound)
	}
	return nil
}

// Deliveries returns the newest deliveries first, at most limit (all when
// limit <= 0), each with its attempts.
func (s *Store) Deliveries(ctx context.Context, limit int) ([]alert.Delivery, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT id, alert, channel, message, created_at, status, attempts, last_error, finished_at
		FROM alert_deliveries
		ORDER BY id DESC
		LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("alert deliveries: %w", err)
	}
	var out []alert.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows, true)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("alert deliveries: %w", err)
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alert deliveries: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	byID := make(map[int64]*alert.Delivery, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	arows, err := s.r.QueryContext(ctx, `
		SELECT delivery, at, took, error
		FROM alert_attempts
		WHERE delivery BETWEEN ? AND ?
		ORDER BY delivery, n`, out[len(out)-1].ID, out[0].ID)
	if err != nil {
		return nil, fmt.Errorf("alert delivery attempts: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var (
			id, at, took int64
			a            alert.Attempt
		)
		if err := arows.Scan(&id, &at, &took, &a.Error); err != nil {
			return nil, fmt.Errorf("alert delivery attempts: %w", err)
		}
		if d := byID[id]; d != nil {
			a.At, a.Took = time.Unix(0, at).UTC(), time.Duration(took)
			d.Log = append(d.Log, a)
		}
	}
	if err := arows.Err(); err != nil {
		return nil, fmt.Errorf("alert delivery attempts: %w", err)
	}
	return out, nil
}
