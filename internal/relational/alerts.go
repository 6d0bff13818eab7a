package relational

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
)

// The alert state, for instances that share one database: any of them
// evaluates the rules after its collection and sends what is queued, and an
// alert still fires once and resolves once.

// deliveriesKept is how long a finished delivery and its attempts are kept.
const deliveriesKept = 90 * 24 * time.Hour

// deliveryColumns are the columns scanDelivery reads.
const deliveryColumns = `id, alert, channel, message, created_at, status, attempts, last_error, finished_at`

// alertColumns are the columns scanAlert reads.
const alertColumns = `id, rule, tenant, subject, tenant_name, title, summary, reason, facts, opened_at, resolved_at, ack_at, ack_by, ack_note`

func scanAlert(r *sql.Rows) (alert.Open, error) {
	var (
		o             alert.Open
		facts         string
		opened        int64
		resolved, ack sql.NullInt64
		by, note      string
	)
	if err := r.Scan(&o.ID, &o.Rule, &o.Tenant, &o.Subject, &o.TenantName, &o.Title, &o.Summary, &o.Reason, &facts, &opened,
		&resolved, &ack, &by, &note); err != nil {
		return o, err
	}
	if err := json.Unmarshal([]byte(facts), &o.Facts); err != nil {
		return o, fmt.Errorf("alert %d: facts: %w", o.ID, err)
	}
	o.OpenedAt = time.Unix(0, opened).UTC()
	o.ResolvedAt = fromNanos(resolved)
	if ack.Valid {
		o.Ack = &alert.Ack{By: by, Note: note, At: time.Unix(0, ack.Int64).UTC()}
	}
	return o, nil
}

// OpenAlerts returns every alert not resolved, oldest first.
func (s *Store) OpenAlerts(ctx context.Context) ([]alert.Open, error) {
	out, err := all(ctx, s.reader(), scanAlert, `
		SELECT `+alertColumns+`
		FROM alerts
		WHERE resolved_at IS NULL
		ORDER BY opened_at, id`)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	return out, nil
}

// Alerts returns the open and resolved alerts, newest first, at most limit.
func (s *Store) Alerts(ctx context.Context, limit int) ([]alert.Open, error) {
	out, err := all(ctx, s.reader(), scanAlert, `
		SELECT `+alertColumns+`
		FROM alerts
		ORDER BY opened_at DESC, id DESC
		LIMIT ?`, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return out, nil
}

// Acknowledge records an acknowledgement on an open alert and drops its
// pending messages, in one transaction.
func (s *Store) Acknowledge(ctx context.Context, id int64, a alert.Ack) error {
	err := s.write(ctx, func(t *tx) error {
		err := t.changed(ctx, `
			UPDATE alerts
			SET ack_at = ?, ack_by = ?, ack_note = ?
			WHERE id = ? AND resolved_at IS NULL`, a.At.UnixNano(), a.By, a.Note, id)
		if errors.Is(err, fleetscore.ErrNotFound) {
			return fmt.Errorf("no such open alert: %w", err)
		}
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `
			UPDATE alert_deliveries
			SET status = 'expired', finished_at = ?, last_error = 'dropped: the alert was acknowledged',
			    lease_owner = '', lease_until = 0
			WHERE alert = ? AND status = 'pending'`, a.At.UnixNano(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("acknowledge alert %d: %w", id, err)
	}
	return nil
}

// Baselines returns each tenant's baseline day.
func (s *Store) Baselines(ctx context.Context) (map[string]fleetscore.Day, error) {
	type row struct {
		tenant string
		day    int64
	}
	rows, err := all(ctx, s.reader(), func(r *sql.Rows) (row, error) {
		var x row
		return x, r.Scan(&x.tenant, &x.day)
	}, `SELECT tenant, day FROM alert_baselines`)
	if err != nil {
		return nil, fmt.Errorf("alert baselines: %w", err)
	}
	out := make(map[string]fleetscore.Day, len(rows))
	for _, r := range rows {
		out[r.tenant] = fleetscore.DayFromUnix(r.day)
	}
	return out, nil
}

// SetBaselines records the tenants' baseline days (upserts).
func (s *Store) SetBaselines(ctx context.Context, days map[string]fleetscore.Day) error {
	if len(days) == 0 {
		return nil
	}
	err := s.write(ctx, func(t *tx) error {
		for _, id := range slices.Sorted(maps.Keys(days)) {
			if _, err := t.exec(ctx, `
				INSERT INTO alert_baselines (tenant, day)
				VALUES (?, ?)
				ON CONFLICT (tenant) DO UPDATE SET day = excluded.day`, id, days[id].Unix()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record alert baselines: %w", err)
	}
	return nil
}

// ApplyChanges records an evaluation's changes in one transaction: each
// applies only if it still can. A firing change inserts into the unique
// index of open alerts, ON CONFLICT DO NOTHING: of two instances opening the
// same alert at once, the second waits for the first and then finds it open.
// A resolution updates only a row still open. Each applied change queues its
// message for every channel. Finished deliveries older than 90 days are
// pruned on the way.
func (s *Store) ApplyChanges(ctx context.Context, changes []alert.Change) ([]alert.Change, error) {
	var applied []alert.Change
	err := s.write(ctx, func(t *tx) error {
		applied = nil
		for _, c := range changes {
			ok, err := applyChange(ctx, t, &c)
			if err != nil {
				return fmt.Errorf("record alert %s: %w", c.Alert.Key, err)
			}
			if !ok {
				continue
			}
			msg, err := json.Marshal(c.Message)
			if err != nil {
				return fmt.Errorf("record alert %s: %w", c.Alert.Key, err)
			}
			for _, ch := range c.Channels {
				_, err := t.exec(ctx, `
					INSERT INTO alert_deliveries (alert, channel, message, created_at)
					VALUES (?, ?, ?, ?)`, c.Alert.ID, ch, string(msg), c.At.UnixNano())
				if err != nil {
					return fmt.Errorf("queue alert %s for %s: %w", c.Alert.Key, ch, err)
				}
			}
			applied = append(applied, c)
		}
		if len(changes) == 0 {
			return nil
		}
		before := changes[0].At.Add(-deliveriesKept).UnixNano()
		_, err := t.exec(ctx, `
			DELETE FROM alert_attempts
			WHERE delivery IN (SELECT id FROM alert_deliveries WHERE status <> 'pending' AND finished_at < ?)`, before)
		if err == nil {
			_, err = t.exec(ctx, `
				DELETE FROM alert_deliveries
				WHERE status <> 'pending' AND finished_at < ?`, before)
		}
		if err != nil {
			return fmt.Errorf("prune alert deliveries: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record alerts: %w", err)
	}
	return applied, nil
}

// applyChange opens or resolves c's alert, setting the new alert's ID; it
// is false when there was nothing to do.
func applyChange(ctx context.Context, t *tx, c *alert.Change) (bool, error) {
	switch c.Event {
	case alert.Firing:
		facts, err := json.Marshal(c.Alert.Facts)
		if err != nil {
			return false, err
		}
		if c.Alert.Facts == nil {
			facts = []byte("[]")
		}
		err = t.row(ctx, `
			INSERT INTO alerts (rule, tenant, subject, tenant_name, title, summary, reason, facts, opened_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING
			RETURNING id`,
			c.Alert.Rule, c.Alert.Tenant, c.Alert.Subject, c.Alert.TenantName, c.Alert.Title, c.Alert.Summary,
			c.Alert.Reason, string(facts), c.At.UnixNano()).Scan(&c.Alert.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		c.Alert.OpenedAt = c.At.UTC()
		return true, nil
	case alert.Resolved:
		err := t.changed(ctx, `
			UPDATE alerts
			SET resolved_at = ?
			WHERE id = ? AND resolved_at IS NULL`, c.At.UnixNano(), c.Alert.ID)
		if errors.Is(err, fleetscore.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	return false, fmt.Errorf("event %q is not %s or %s", c.Event, alert.Firing, alert.Resolved)
}

// ClaimDeliveries leases the pending deliveries no other owner holds,
// oldest first (the dialect's claimDeliveries).
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]alert.Delivery, error) {
	out, err := all(ctx, s.writer(), scanDelivery, s.d.claimDeliveries, owner, now.Add(lease).UnixNano(), now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("claim alert deliveries: %w", err)
	}
	// RETURNING gives rows in no set order.
	slices.SortFunc(out, func(a, b alert.Delivery) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func scanDelivery(rows *sql.Rows) (alert.Delivery, error) {
	var (
		d       alert.Delivery
		msg     string
		created int64
		done    sql.NullInt64
	)
	if err := rows.Scan(&d.ID, &d.AlertID, &d.Channel, &msg, &created, &d.Status, &d.Attempts, &d.LastError, &done); err != nil {
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
	err := s.write(ctx, func(t *tx) error {
		var n int
		err := t.row(ctx, `
			UPDATE alert_deliveries
			SET attempts = attempts + 1,
			    last_error = CASE WHEN ?1 = '' THEN last_error ELSE ?1 END
			WHERE id = ?2
			RETURNING attempts`, a.Error, id).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return fleetscore.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `
			INSERT INTO alert_attempts (delivery, n, at, took, error)
			VALUES (?, ?, ?, ?, ?)`,
			id, n, a.At.UnixNano(), a.Took.Nanoseconds(), a.Error)
		return err
	})
	if err != nil {
		return fmt.Errorf("record attempt at delivery %d: %w", id, err)
	}
	return nil
}

// FinishDelivery ends a delivery as delivered or expired, or releases it
// (pending) for a later evaluation.
func (s *Store) FinishDelivery(ctx context.Context, id int64, status string, at time.Time) error {
	var err error
	switch status {
	case alert.StatusPending:
		err = s.writer().changed(ctx, `
			UPDATE alert_deliveries
			SET lease_owner = '', lease_until = 0
			WHERE id = ?`, id)
	case alert.StatusDelivered, alert.StatusExpired:
		err = s.writer().changed(ctx, `
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
	return nil
}

// Deliveries returns the newest deliveries first, at most limit (all when
// limit <= 0), each with its attempts: one snapshot for both.
func (s *Store) Deliveries(ctx context.Context, limit int) ([]alert.Delivery, error) {
	var out []alert.Delivery
	err := s.read(ctx, func(q q) error {
		var err error
		out, err = all(ctx, q, scanDelivery, `
			SELECT `+deliveryColumns+`
			FROM alert_deliveries
			ORDER BY id DESC
			LIMIT ?`, limitOf(limit))
		if err != nil || len(out) == 0 {
			return err
		}
		byID := make(map[int64]*alert.Delivery, len(out))
		for i := range out {
			byID[out[i].ID] = &out[i]
		}
		rows, err := q.query(ctx, `
			SELECT delivery, at, took, error
			FROM alert_attempts
			WHERE delivery BETWEEN ? AND ?
			ORDER BY delivery, n`, out[len(out)-1].ID, out[0].ID)
		if err != nil {
			return fmt.Errorf("attempts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id, at, took int64
				a            alert.Attempt
			)
			if err := rows.Scan(&id, &at, &took, &a.Error); err != nil {
				return fmt.Errorf("attempts: %w", err)
			}
			if d := byID[id]; d != nil {
				a.At, a.Took = time.Unix(0, at).UTC(), time.Duration(took)
				d.Log = append(d.Log, a)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("alert deliveries: %w", err)
	}
	return out, nil
}
