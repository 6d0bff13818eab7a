package relational

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore/report"
)

// The client reports sent (migration 0010): report.Log.

var _ report.Log = (*Store)(nil)

// RecordSent records a report sent; the (tenant, period) key refuses a
// second one, which is report.ErrAlreadySent.
func (s *Store) RecordSent(ctx context.Context, r report.Sent) error {
	res, err := s.writer().exec(ctx, `
		INSERT INTO reports_sent (tenant, period, sent_at, recipients, bytes, sha256)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, period) DO NOTHING`,
		r.TenantID, r.Period, r.SentAt.UnixNano(), strings.Join(r.Recipients, "\n"), r.Bytes, r.SHA256)
	if err != nil {
		return fmt.Errorf("record the report of %s for %s: %w", r.TenantID, r.Period, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record the report of %s for %s: %w", r.TenantID, r.Period, err)
	} else if n == 0 {
		return fmt.Errorf("record the report of %s for %s: %w", r.TenantID, r.Period, report.ErrAlreadySent)
	}
	return nil
}

// SentReports lists the reports sent for a period ("" for all), oldest first.
func (s *Store) SentReports(ctx context.Context, period string) ([]report.Sent, error) {
	query := `SELECT tenant, period, sent_at, recipients, bytes, sha256 FROM reports_sent`
	var args []any
	if period != "" {
		query += ` WHERE period = ?`
		args = append(args, period)
	}
	out, err := all(ctx, s.reader(), func(r *sql.Rows) (report.Sent, error) {
		var (
			x    report.Sent
			at   int64
			rcpt string
		)
		err := r.Scan(&x.TenantID, &x.Period, &at, &rcpt, &x.Bytes, &x.SHA256)
		x.SentAt = time.Unix(0, at).UTC()
		if rcpt != "" {
			x.Recipients = strings.Split(rcpt, "\n")
		}
		return x, err
	}, query+` ORDER BY sent_at, tenant, period`, args...)
	if err != nil {
		return nil, fmt.Errorf("list the reports sent: %w", err)
	}
	return out, nil
}
