package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/fleetscore/fleetscore"
)

// SyncTenants records the configured tenants' names and targets. Tenants no
// longer configured are kept with their history.
func (s *Store) SyncTenants(ctx context.Context, tenants []fleetscore.Tenant) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		for _, t := range tenants {
			if _, err := upsertTenant(ctx, tx, t, true, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync tenants: %w", err)
	}
	return nil
}

// upsertTenant returns the key of tenant t, adding it when new. With all,
// the name and target are set as given (the configuration is the authority);
// without, only the non-empty ones are, so that a caller knowing just the ID
// does not erase the name. With lock, the tenant's row stays locked until the
// transaction ends, so that writers of the same tenant follow each other
// (FOR NO KEY UPDATE: rows that merely refer to the tenant can still be added).
func upsertTenant(ctx context.Context, q querier, t fleetscore.Tenant, all, lock bool) (int64, error) {
	if t.ID == "" {
		return 0, errors.New("a tenant without an ID")
	}
	sel := `SELECT id, name, target_percent FROM tenants WHERE guid = $1`
	if lock {
		sel += ` FOR NO KEY UPDATE`
	}
	for range 2 {
		var (
			id     int64
			name   string
			target float64
		)
		err := q.QueryRow(ctx, sel, t.ID).Scan(&id, &name, &target)
		if errors.Is(err, pgx.ErrNoRows) {
			// Another instance may add it at the same moment: then this
			// insert waits for it and adds nothing, and the select above
			// runs again and finds it.
			err = q.QueryRow(ctx, `
				INSERT INTO tenants (guid, name, target_percent)
				VALUES ($1, $2, $3)
				ON CONFLICT (guid) DO NOTHING
				RETURNING id`, t.ID, t.Name, t.TargetPercent).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
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
		_, err = q.Exec(ctx, `
			UPDATE tenants
			SET name = $1, target_percent = $2
			WHERE id = $3`, newName, newTarget, id)
		if err != nil {
			return 0, fmt.Errorf("update tenant %s: %w", t.ID, err)
		}
		return id, nil
	}
	return 0, fmt.Errorf("add tenant %s: it was added and removed at the same time", t.ID)
}

// tenantKey returns the key of a known tenant, or an error wrapping
// fleetscore.ErrNotFound.
func tenantKey(ctx context.Context, q querier, tenantID string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM tenants WHERE guid = $1`, tenantID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
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
	var day pgtype.Int8
	err := s.pool.QueryRow(ctx, `
		SELECT max(s.day)
		FROM scores s
		JOIN tenants t ON t.id = s.tenant
		WHERE t.guid = $1`, tenantID).Scan(&day)
	if err != nil {
		return fleetscore.Day{}, false, fmt.Errorf("latest day of tenant %s: %w", tenantID, err)
	}
	if !day.Valid {
		return fleetscore.Day{}, false, nil
	}
	return fleetscore.DayFromUnix(day.Int64), true, nil
}

// Tenants lists every tenant ever configured, collected or logged, ordered by
// name (byte-wise), each with its newest snapshot (without controls) and its
// newest collection.
func (s *Store) Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error) {
	var out []fleetscore.TenantStatus
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = tenants(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

func tenants(ctx context.Context, tx pgx.Tx) ([]fleetscore.TenantStatus, error) {
	var (
		out         []fleetscore.TenantStatus
		index       = map[int64]int{} // tenant key -> position in out
		services    = map[int64]pgtype.Text{}
		servicesDay = map[int64]pgtype.Int8{}
	)
	rows, err := tx.Query(ctx, `
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
			es  pgtype.Text
			esd pgtype.Int8
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
	rows, err = tx.Query(ctx, `
		SELECT t.id, s.day, s.current_score, s.max_score, s.active_users, s.licensed_users,
		       s.avg_all_tenants, s.avg_total_seats, s.avg_industry_types
		FROM tenants t
		CROSS JOIN LATERAL (
		    SELECT *
		    FROM scores
		    WHERE tenant = t.id
		    ORDER BY day DESC
		    LIMIT 1
		) s`)
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
	rows, err = tx.Query(ctx, `
		SELECT t.id, c.id, c.started_at, c.finished_at, c.status, c.error, c.advice,
		       c.days, c.controls, c.requests
		FROM tenants t
		CROSS JOIN LATERAL (
		    SELECT *
		    FROM collections
		    WHERE tenant = t.id
		    ORDER BY id DESC
		    LIMIT 1
		) c`)
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
	avgAll, avgSeats, avgIndustry pgtype.Float8
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
		v     pgtype.Float8
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
func average(s fleetscore.Score, basis string) pgtype.Float8 {
	v, ok := s.Averages[basis]
	return pgtype.Float8{Float64: v, Valid: ok}
}

func encodeServices(services []string) (pgtype.Text, error) {
	if len(services) == 0 {
		return pgtype.Text{}, nil
	}
	b, err := json.Marshal(services)
	if err != nil {
		return pgtype.Text{}, err
	}
	return pgtype.Text{String: string(b), Valid: true}, nil
}

func decodeServices(v pgtype.Text) ([]string, error) {
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
func nanos(t time.Time) pgtype.Int8 {
	if t.IsZero() {
		return pgtype.Int8{}
	}
	return pgtype.Int8{Int64: t.UnixNano(), Valid: true}
}

func fromNanos(n pgtype.Int8) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
