package relational

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fleetscore/fleetscore"
)

// SyncTenants records the configured tenants' names and targets. Tenants no
// longer configured are kept with their history.
func (s *Store) SyncTenants(ctx context.Context, tenants []fleetscore.Tenant) error {
	err := s.write(ctx, func(t *tx) error {
		for _, tn := range tenants {
			if _, err := upsertTenant(ctx, t, tn, true, false); err != nil {
				return err
			}
		}
		return bumpChanges(ctx, t)
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
// transaction ends (the dialect's lockTenant), so that writers of the same
// tenant follow each other.
func upsertTenant(ctx context.Context, q *tx, t fleetscore.Tenant, all, lock bool) (int64, error) {
	if t.ID == "" {
		return 0, errors.New("a tenant without an ID")
	}
	sel := `SELECT id, name, target_percent FROM tenants WHERE guid = ?`
	if lock {
		sel += q.s.d.lockTenant
	}
	for range 2 {
		var (
			id     int64
			name   string
			target float64
		)
		err := q.row(ctx, sel, t.ID).Scan(&id, &name, &target)
		if errors.Is(err, sql.ErrNoRows) {
			// Another instance may add it at the same moment: then this
			// insert waits for it and adds nothing, and the select above
			// runs again and finds it.
			err = q.row(ctx, `
				INSERT INTO tenants (guid, name, target_percent)
				VALUES (?, ?, ?)
				ON CONFLICT (guid) DO NOTHING
				RETURNING id`, t.ID, t.Name, t.TargetPercent).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
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
		_, err = q.exec(ctx, `
			UPDATE tenants
			SET name = ?, target_percent = ?
			WHERE id = ?`, newName, newTarget, id)
		if err != nil {
			return 0, fmt.Errorf("update tenant %s: %w", t.ID, err)
		}
		return id, nil
	}
	return 0, fmt.Errorf("add tenant %s: it was added and removed at the same time", t.ID)
}

// tenantKey returns the key of a known tenant, or an error wrapping
// fleetscore.ErrNotFound.
func tenantKey(ctx context.Context, q q, tenantID string) (int64, error) {
	var id int64
	err := q.row(ctx, `SELECT id FROM tenants WHERE guid = ?`, tenantID).Scan(&id)
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
	err := s.reader().row(ctx, `
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
// name (byte-wise), each with its newest snapshot (without controls) and its
// newest collection.
func (s *Store) Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error) {
	var out []fleetscore.TenantStatus
	err := s.read(ctx, func(q q) error {
		var err error
		out, err = tenants(ctx, q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// tenantRow is a tenant with its key and enabled services.
type tenantRow struct {
	id          int64
	t           fleetscore.Tenant
	services    sql.NullString
	servicesDay sql.NullInt64
}

func tenants(ctx context.Context, q q) ([]fleetscore.TenantStatus, error) {
	list, err := all(ctx, q, func(r *sql.Rows) (tenantRow, error) {
		var tr tenantRow
		return tr, r.Scan(&tr.id, &tr.t.ID, &tr.t.Name, &tr.t.TargetPercent, &tr.services, &tr.servicesDay)
	}, `
		SELECT id, guid, name, target_percent, enabled_services, services_day
		FROM tenants
		ORDER BY name, guid`)
	if err != nil {
		return nil, err
	}
	out := make([]fleetscore.TenantStatus, len(list))
	index := make(map[int64]int, len(list)) // tenant key -> position in out
	for i, tr := range list {
		out[i].Tenant, index[tr.id] = tr.t, i
	}

	// The newest day of each tenant, found through the (tenant, day) key.
	latest, err := all(ctx, q, func(r *sql.Rows) (keyed[scoreRow], error) {
		var k keyed[scoreRow]
		return k, r.Scan(append([]any{&k.key}, k.v.dest()...)...)
	}, q.s.d.latestScores)
	if err != nil {
		return nil, err
	}
	for _, k := range latest {
		tr, ts := list[index[k.key]], &out[index[k.key]]
		score := k.v.score(ts.ID)
		if tr.servicesDay.Valid && tr.servicesDay.Int64 == k.v.day {
			if score.EnabledServices, err = decodeServices(tr.services); err != nil {
				return nil, fmt.Errorf("tenant %s: %w", ts.ID, err)
			}
		}
		ts.Latest = &score
	}

	// The newest collection of each tenant.
	colls, err := all(ctx, q, func(r *sql.Rows) (keyed[collectionRow], error) {
		var k keyed[collectionRow]
		return k, r.Scan(append([]any{&k.key}, k.v.dest()...)...)
	}, q.s.d.latestCollections)
	if err != nil {
		return nil, err
	}
	for _, k := range colls {
		ts := &out[index[k.key]]
		c := k.v.collection(ts.ID)
		ts.LastCollection = &c
	}
	return out, nil
}

// keyed is a row with the key of its tenant.
type keyed[T any] struct {
	key int64
	v   T
}

// scoreRow is a row of the scores table.
type scoreRow struct {
	day                           int64
	current, max                  float64
	active, licensed              int
	avgAll, avgSeats, avgIndustry sql.NullFloat64
}

// scoreColumns are the columns dest scans, prefixed by the table's alias.
func scoreColumns(alias string) string {
	p := alias + "."
	return p + "day, " + p + "current_score, " + p + "max_score, " + p + "active_users, " + p + "licensed_users, " +
		p + "avg_all_tenants, " + p + "avg_total_seats, " + p + "avg_industry_types"
}

func (r *scoreRow) dest() []any {
	return []any{&r.day, &r.current, &r.max, &r.active, &r.licensed, &r.avgAll, &r.avgSeats, &r.avgIndustry}
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
