package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetscore/fleetscore"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SyncTenants records the configured tenants' names and targets. Tenants no
// longer configured are kept with their history.
func (s *Store) SyncTenants(ctx context.Context, tenants []fleetscore.Tenant) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sync tenants: %w", err)
	}
	defer tx.Rollback()
	for _, t := range tenants {
		if _, err := upsertTenant(ctx, tx, t, true); err != nil {
			return fmt.Errorf("sync tenants: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sync tenants: %w", err)
	}
	return nil
}

// upsertTenant returns the key of tenant t, adding it when new. With all,
// the name and target are set as given (the configuration is the authority);
// without, only the non-empty ones are, so that a caller knowing just the ID
// does not erase the name.
func upsertTenant(ctx context.Context, q querier, t fleetscore.Tenant, all bool) (int64, error) {
	if t.ID == "" {
		return 0, errors.New("a tenant without an ID")
	}
	var (
		id     int64
		name   string
		target float64
	)
	err := q.QueryRowContext(ctx, `
		SELECT id, name, target_percent
		FROM tenants
		WHERE guid = ?`, t.ID).Scan(&id, &name, &target)
	if errors.Is(err, sql.ErrNoRows) {
		err = q.QueryRowContext(ctx, `
			INSERT INTO tenants (guid, name, target_percent)
			VALUES (?, ?, ?)
			RETURNING id`, t.ID, t.Name, t.TargetPercent).Scan(&id)
		if err != nil {
			return 0, fmt.Errorf("add tenant %s: %w", t.ID, err)
		}
		return id, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up tenant %s: %w", t.ID, err)
	}
	newName, newTarget := name, target
	if all || t.Name != "" {
		newName = t.Name
	}
	if all || t.TargetPercent != 0 {
		newTarget = t.TargetPercent
	}
	if newName == name && newTarget == target {
		return id, nil // unchanged: write nothing
	}
	_, err = q.ExecContext(ctx, `
		UPDATE tenants
		SET name = ?, target_percent = ?
		WHERE id = ?`, newName, newTarget, id)
	if err != nil {
		return 0, fmt.Errorf("update tenant %s: %w", t.ID, err)
	}
	return id, nil
}

// tenantKey returns the key of a known tenant, or an error wrapping
// fleetscore.ErrNotFound.
func tenantKey(ctx context.Context, q querier, tenantID string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM tenants WHERE guid = ?`, tenantID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("tenant %q: %w", tenantID, fleetscore.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("look up tenant %s: %w", tenantID, err)
	}
	return id, nil
}

// LatestDay is the newest stored day of a tenant; ok is false when there is
// none, unknown tenants included.
func (s *Store) LatestDay(ctx context.Context, tenantID string) (fleetscore.Day, bool, error) {
	var day sql.NullInt64
	err := s.r.QueryRowContext(ctx, `
		SELECT max(s.day)
		FROM scores s
		JOIN tenants t ON t.id = s.tenant
		WHERE t.guid = ?`, tenantID).Scan(&day)
	if err != nil {
		return fleetscore.Day{}, false, fmt.Errorf("latest day of tenant %s: %w", tenantID, err)
	}
	if !day.Valid {
		return fleetscore.Day{}, false, nil
	}
	return fleetscore.DayFromUnix(day.Int64), true, nil
}

// Tenants lists every tenant ever configured, collected or logged, ordered by
// name, each with its newest snapshot (without controls) and its newest
// collection.
func (s *Store) Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error) {
	out, err := s.tenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

func (s *Store) tenants(ctx context.Context) ([]fleetscore.TenantStatus, error) {
	// One read transaction: the three queries see the same snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	var (
		out         []fleetscore.TenantStatus
		index       = map[int64]int{} // tenant key -> position in out
		services    = map[int64]sql.NullString{}
		servicesDay = map[int64]sql.NullInt64{}
	)
	rows, err := tx.QueryContext(ctx, `
		SELECT id, guid, name, target_percent, enabled_services, services_day
		FROM tenants
		ORDER BY name, guid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id  int64
			t   fleetscore.Tenant
			es  sql.NullString
			esd sql.NullInt64
		)
		if err := rows.Scan(&id, &t.ID, &t.Name, &t.TargetPercent, &es, &esd); err != nil {
			return nil, err
		}
		index[id] = len(out)
		services[id], servicesDay[id] = es, esd
		out = append(out, fleetscore.TenantStatus{Tenant: t})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// The newest day of each tenant, found through the (tenant, day) key.
	// CROSS JOIN keeps tenants the outer loop: without statistics the planner
	// would otherwise scan every score row.
	rows, err = tx.QueryContext(ctx, `
		SELECT s.tenant, s.day, s.current_score, s.max_score, s.active_users, s.licensed_users,
		       s.avg_all_tenants, s.avg_total_seats, s.avg_industry_types
		FROM tenants t
		CROSS JOIN scores s
		WHERE s.tenant = t.id
		  AND s.day = (SELECT max(day) FROM scores WHERE tenant = t.id)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			r  scoreRow
		)
		err := rows.Scan(&id, &r.day, &r.current, &r.max, &r.active, &r.licensed,
			&r.avgAll, &r.avgSeats, &r.avgIndustry)
		if err != nil {
			return nil, err
		}
		ts := &out[index[id]]
		score := r.score(ts.ID)
		if d := servicesDay[id]; d.Valid && d.Int64 == r.day {
			if score.EnabledServices, err = decodeServices(services[id]); err != nil {
				return nil, fmt.Errorf("tenant %s: %w", ts.ID, err)
			}
		}
		ts.Latest = &score
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// The newest collection of each tenant.
	rows, err = tx.QueryContext(ctx, `
		SELECT c.tenant, c.id, c.started_at, c.finished_at, c.status, c.error, c.advice,
		       c.days, c.controls, c.requests
		FROM tenants t
		JOIN collections c
		  ON c.id = (SELECT max(id) FROM collections WHERE tenant = t.id)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			r  collectionRow
		)
		err := rows.Scan(&id, &r.c.ID, &r.started, &r.finished, &r.c.Status, &r.c.Error, &r.c.Advice,
			&r.c.Days, &r.c.Controls, &r.c.Requests)
		if err != nil {
			return nil, err
		}
		ts := &out[index[id]]
		c := r.collection(ts.ID)
		ts.LastCollection = &c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scoreRow is a row of the scores table.
type scoreRow struct {
	day                           int64
	current, max                  float64
	active, licensed              int
	avgAll, avgSeats, avgIndustry sql.NullFloat64
}

func (r scoreRow) score(tenantID string) fleetscore.Score {
	s := fleetscore.Score{
		TenantID:          tenantID,
		Day:               fleetscore.DayFromUnix(r.day),
		CurrentScore:      r.current,
		MaxScore:          r.max,
		ActiveUserCount:   r.active,
		LicensedUserCount: r.licensed,
	}
	for _, a := range []struct {
		basis string
		v     sql.NullFloat64
	}{
		{fleetscore.BasisAllTenants, r.avgAll},
		{fleetscore.BasisTotalSeats, r.avgSeats},
		{fleetscore.BasisIndustryTypes, r.avgIndustry},
	} {
		if a.v.Valid {
			if s.Averages == nil {
				s.Averages = make(map[string]float64, 3)
			}
			s.Averages[a.basis] = a.v.Float64
		}
	}
	return s
}

// average is the column value of one comparative average: NULL when absent.
func average(s fleetscore.Score, basis string) any {
	if v, ok := s.Averages[basis]; ok {
		return v
	}
	return nil
}

func encodeServices(services []string) (any, error) {
	if len(services) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(services)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func decodeServices(v sql.NullString) ([]string, error) {
	if !v.Valid {
		return nil, nil
	}
	var services []string
	if err := json.Unmarshal([]byte(v.String), &services); err != nil {
		return nil, fmt.Errorf("enabled services %q: %w", v.String, err)
	}
	return services, nil
}

// nanos is the column value of a time: unix nanoseconds, NULL when zero.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
