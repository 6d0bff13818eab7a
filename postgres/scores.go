package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/internal/relational"
)

// SaveBatch writes one tenant's batch in one transaction: the tenant, its
// score days (a day already stored is replaced: same day, same rows, so saving
// a batch twice changes nothing) and, when b.Profiles is not nil, its control
// profiles. On any error, a cancelled ctx included, nothing of the batch is
// kept. Two batches of the same tenant, from two instances, are written one
// after the other.
//
// Within a batch, a day given twice and a control given twice in a day take
// the last one. EnabledServices is kept for the newest day only.
func (s *Store) SaveBatch(ctx context.Context, b fleetscore.Batch) error {
	if b.Tenant.ID == "" {
		return errors.New("save batch: the batch has no tenant ID")
	}
	if err := s.saveBatch(ctx, b); err != nil {
		return fmt.Errorf("save batch of tenant %s: %w", b.Tenant.ID, err)
	}
	return nil
}

func (s *Store) saveBatch(ctx context.Context, b fleetscore.Batch) error {
	days, err := relational.BatchDays(b)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		tenant, err := upsertTenant(ctx, tx, b.Tenant, false, true)
		if err != nil {
			return err
		}
		var names []string
		for _, sc := range days {
			for _, c := range sc.Controls {
				names = append(names, c.Name)
			}
		}
		for _, p := range b.Profiles {
			names = append(names, p.ID)
		}
		dict, err := intern(ctx, tx, names)
		if err != nil {
			return err
		}
		if err := saveScores(ctx, tx, tenant, days, dict); err != nil {
			return err
		}
		if b.Profiles != nil {
			if err := saveProfiles(ctx, tx, tenant, b.Profiles, dict); err != nil {
				return err
			}
		}
		return nil
	})
}

// intern returns the keys of the control names, adding the names that are
// new. New names are inserted in name order, so that two transactions adding
// some of the same names wait for each other instead of deadlocking; a name
// another transaction adds at the same moment is not added twice (ON
// CONFLICT) and is read back once that transaction commits. Names are looked
// up before any insert, so that the identity sequence only moves for names
// that are really new.
func intern(ctx context.Context, tx pgx.Tx, names []string) (map[string]int64, error) {
	want := slices.Compact(slices.Sorted(slices.Values(names)))
	dict := make(map[string]int64, len(want))
	if len(want) == 0 {
		return dict, nil
	}
	lookup := func(names []string) error {
		rows, err := tx.Query(ctx, `SELECT id, name FROM controls WHERE name = ANY ($1)`, names)
		if err != nil {
			return fmt.Errorf("load control names: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id   int64
				name string
			)
			if err := rows.Scan(&id, &name); err != nil {
				return fmt.Errorf("load control names: %w", err)
			}
			dict[name] = id
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load control names: %w", err)
		}
		return nil
	}
	if err := lookup(want); err != nil {
		return nil, err
	}
	var missing []string
	for _, n := range want {
		if _, ok := dict[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return dict, nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO controls (name)
		SELECT name FROM unnest($1::text[]) AS n (name)
		ORDER BY name
		ON CONFLICT (name) DO NOTHING`, missing)
	if err != nil {
		return nil, fmt.Errorf("add control names: %w", err)
	}
	if err := lookup(missing); err != nil {
		return nil, err
	}
	for _, n := range missing {
		if _, ok := dict[n]; !ok {
			return nil, fmt.Errorf("add control %s: not found after adding it", n)
		}
	}
	return dict, nil
}

// state and change are the shared encoding's (package relational).
type (
	state  = relational.State
	change = relational.Change
)

type changeKey struct{ control, day int64 }

func saveScores(ctx context.Context, tx pgx.Tx, tenant int64, days []fleetscore.Score, dict map[string]int64) error {
	if len(days) == 0 {
		return nil
	}
	first, newest := days[0].Day.Unix(), days[len(days)-1]

	var latestStored pgtype.Int8
	if err := tx.QueryRow(ctx, `SELECT max(day) FROM scores WHERE tenant = $1`, tenant).Scan(&latestStored); err != nil {
		return fmt.Errorf("latest day: %w", err)
	}

	// The batch's control states, and the categories of its newest day.
	batch := make(map[int64]state, len(days))
	categories := map[int64]string{}
	for _, sc := range days {
		st := make(state, len(sc.Controls))
		for _, c := range sc.Controls {
			id := dict[c.Name]
			st[id] = c.Score
			categories[id] = c.Category
		}
		batch[sc.Day.Unix()] = st
	}

	services, err := encodeServices(newest.EnabledServices)
	if err != nil {
		return fmt.Errorf("enabled services: %w", err)
	}
	stored, err := loadCategories(ctx, tx, tenant)
	if err != nil {
		return err
	}

	// One round trip: the days, the enabled services, the categories.
	var wb pgx.Batch
	for _, sc := range days {
		// The WHERE spares a write (and a dead row) when a re-fetched day has not changed.
		wb.Queue(`
			INSERT INTO scores (
			    tenant, day, current_score, max_score, percent, active_users, licensed_users,
			    avg_all_tenants, avg_total_seats, avg_industry_types
			)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (tenant, day) DO UPDATE SET
			    current_score      = excluded.current_score,
			    max_score          = excluded.max_score,
			    percent            = excluded.percent,
			    active_users       = excluded.active_users,
			    licensed_users     = excluded.licensed_users,
			    avg_all_tenants    = excluded.avg_all_tenants,
			    avg_total_seats    = excluded.avg_total_seats,
			    avg_industry_types = excluded.avg_industry_types
			WHERE (scores.current_score, scores.max_score, scores.active_users, scores.licensed_users,
			       scores.avg_all_tenants, scores.avg_total_seats, scores.avg_industry_types)
			   IS DISTINCT FROM (excluded.current_score, excluded.max_score, excluded.active_users,
			       excluded.licensed_users, excluded.avg_all_tenants, excluded.avg_total_seats,
			       excluded.avg_industry_types)`,
			tenant, sc.Day.Unix(), sc.CurrentScore, sc.MaxScore,
			fleetscore.Percent(sc.CurrentScore, sc.MaxScore), sc.ActiveUserCount, sc.LicensedUserCount,
			average(sc, fleetscore.BasisAllTenants), average(sc, fleetscore.BasisTotalSeats),
			average(sc, fleetscore.BasisIndustryTypes))
	}
	// Enabled services: only the newest day's are kept.
	wb.Queue(`
		UPDATE tenants
		SET enabled_services = $1, services_day = $2
		WHERE id = $3
		  AND (services_day IS NULL OR services_day <= $2)
		  AND (enabled_services, services_day) IS DISTINCT FROM ($1, $2)`,
		services, newest.Day.Unix(), tenant)
	// A backfill of old days does not overwrite the categories of newer ones.
	overwrite := !latestStored.Valid || newest.Day.Unix() >= latestStored.Int64
	for _, id := range slices.Sorted(maps.Keys(categories)) {
		cat := categories[id]
		if old, ok := stored[id]; ok && (old == cat || !overwrite) {
			continue
		}
		wb.Queue(`
			INSERT INTO tenant_controls (tenant, control, category)
			VALUES ($1, $2, $3)
			ON CONFLICT (tenant, control) DO UPDATE SET category = excluded.category`,
			tenant, id, cat)
	}
	if err := tx.SendBatch(ctx, &wb).Close(); err != nil {
		return fmt.Errorf("save scores: %w", err)
	}
	return saveChanges(ctx, tx, tenant, first, batch)
}

// loadCategories returns the stored category of each of the tenant's controls.
func loadCategories(ctx context.Context, q querier, tenant int64) (map[int64]string, error) {
	rows, err := q.Query(ctx, `SELECT control, category FROM tenant_controls WHERE tenant = $1`, tenant)
	if err != nil {
		return nil, fmt.Errorf("load categories: %w", err)
	}
	defer rows.Close()
	stored := map[int64]string{}
	for rows.Next() {
		var (
			id  int64
			cat string
		)
		if err := rows.Scan(&id, &cat); err != nil {
			return nil, fmt.Errorf("load categories: %w", err)
		}
		stored[id] = cat
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load categories: %w", err)
	}
	return stored, nil
}

// saveChanges re-encodes the tenant's control changes from day first on, the
// batch's days replacing the stored ones, and writes only the rows that differ
// from those stored.
func saveChanges(ctx context.Context, tx pgx.Tx, tenant, first int64, batch map[int64]state) error {
	before, err := stateBefore(ctx, tx, tenant, first)
	if err != nil {
		return err
	}
	stored, err := loadChanges(ctx, tx, tenant, first, math.MaxInt32)
	if err != nil {
		return err
	}
	// Every day from first on, the batch's (already upserted) and the others.
	days, err := scoreDays(ctx, tx, tenant, first)
	if err != nil {
		return err
	}
	want := relational.Encode(before, days, stored, batch)

	have := make(map[changeKey]change, len(stored))
	for _, c := range stored {
		have[changeKey{c.Control, c.Day}] = c
	}
	var wb pgx.Batch
	for _, c := range want {
		k := changeKey{c.Control, c.Day}
		if old, ok := have[k]; ok {
			delete(have, k)
			if old.Valid == c.Valid && old.Score == c.Score {
				continue
			}
		}
		wb.Queue(`
			INSERT INTO control_changes (tenant, control, day, score)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, control, day) DO UPDATE SET score = excluded.score`,
			tenant, c.Control, c.Day, pgtype.Float8{Float64: c.Score, Valid: c.Valid})
	}
	for _, k := range slices.SortedFunc(maps.Keys(have), func(a, b changeKey) int {
		return cmp.Or(cmp.Compare(a.control, b.control), cmp.Compare(a.day, b.day))
	}) {
		wb.Queue(`
			DELETE FROM control_changes
			WHERE tenant = $1 AND control = $2 AND day = $3`, tenant, k.control, k.day)
	}
	if wb.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &wb).Close(); err != nil {
		return fmt.Errorf("save control changes: %w", err)
	}
	return nil
}

// stateBefore is the tenant's control state in effect just before day: each
// control's latest change before it, found through the (tenant, control, day) key.
func stateBefore(ctx context.Context, q querier, tenant, day int64) (state, error) {
	rows, err := q.Query(ctx, `
		SELECT DISTINCT ON (control) control, score
		FROM control_changes
		WHERE tenant = $1 AND day < $2
		ORDER BY control, day DESC`, tenant, day)
	if err != nil {
		return nil, fmt.Errorf("load controls before %s: %w", fleetscore.DayFromUnix(day), err)
	}
	defer rows.Close()
	st := state{}
	for rows.Next() {
		var (
			id    int64
			score pgtype.Float8
		)
		if err := rows.Scan(&id, &score); err != nil {
			return nil, fmt.Errorf("load controls before %s: %w", fleetscore.DayFromUnix(day), err)
		}
		if score.Valid {
			st[id] = score.Float64
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load controls before %s: %w", fleetscore.DayFromUnix(day), err)
	}
	return st, nil
}

// loadChanges returns the tenant's change rows of days from..to, by day.
func loadChanges(ctx context.Context, q querier, tenant, from, to int64) ([]change, error) {
	rows, err := q.Query(ctx, `
		SELECT control, day, score
		FROM control_changes
		WHERE tenant = $1 AND day BETWEEN $2 AND $3
		ORDER BY day, control`, tenant, from, to)
	if err != nil {
		return nil, fmt.Errorf("load control changes: %w", err)
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var (
			c     change
			score pgtype.Float8
		)
		if err := rows.Scan(&c.Control, &c.Day, &score); err != nil {
			return nil, fmt.Errorf("load control changes: %w", err)
		}
		c.Score, c.Valid = score.Float64, score.Valid
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load control changes: %w", err)
	}
	return out, nil
}

// scoreDays returns the tenant's stored days from first on, ascending.
func scoreDays(ctx context.Context, q querier, tenant, first int64) ([]int64, error) {
	rows, err := q.Query(ctx, `
		SELECT day
		FROM scores
		WHERE tenant = $1 AND day >= $2
		ORDER BY day`, tenant, first)
	if err != nil {
		return nil, fmt.Errorf("load days: %w", err)
	}
	defer rows.Close()
	var days []int64
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("load days: %w", err)
		}
		days = append(days, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load days: %w", err)
	}
	return days, nil
}

// Scores returns the tenant's snapshots of days from..to inclusive (a zero
// day leaves that end open), oldest first, each with its controls sorted by
// name. EnabledServices is filled on the newest stored day only: older days'
// are not kept. An unknown tenant is an error wrapping fleetscore.ErrNotFound.
func (s *Store) Scores(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	var out []fleetscore.Score
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scores(ctx, tx, tenantID, from, to)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("scores of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

func scores(ctx context.Context, tx pgx.Tx, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	lo, hi := dayBounds(from, to)
	var (
		tenant      int64
		services    pgtype.Text
		servicesDay pgtype.Int8
	)
	err := tx.QueryRow(ctx, `
		SELECT id, enabled_services, services_day
		FROM tenants
		WHERE guid = $1`, tenantID).Scan(&tenant, &services, &servicesDay)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fleetscore.ErrNotFound
	}
	if err != nil {
		return nil, err
	}

	rows, err := tx.Query(ctx, `
		SELECT day, current_score, max_score, active_users, licensed_users,
		       avg_all_tenants, avg_total_seats, avg_industry_types
		FROM scores
		WHERE tenant = $1 AND day BETWEEN $2 AND $3
		ORDER BY day`, tenant, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fleetscore.Score
	for rows.Next() {
		var r scoreRow
		err := rows.Scan(&r.day, &r.current, &r.max, &r.active, &r.licensed,
			&r.avgAll, &r.avgSeats, &r.avgIndustry)
		if err != nil {
			return nil, err
		}
		out = append(out, r.score(tenantID))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	if last := &out[len(out)-1]; servicesDay.Valid && servicesDay.Int64 == last.Day.Unix() {
		if last.EnabledServices, err = decodeServices(services); err != nil {
			return nil, err
		}
	}

	controls, err := tenantControls(ctx, tx, tenant)
	if err != nil {
		return nil, err
	}
	first, last := out[0].Day.Unix(), out[len(out)-1].Day.Unix()
	st, err := stateBefore(ctx, tx, tenant, first)
	if err != nil {
		return nil, err
	}
	changes, err := loadChanges(ctx, tx, tenant, first, last)
	if err != nil {
		return nil, err
	}
	relational.Replay(out, st, changes, controls)
	return out, nil
}

// dayBounds turns an optional range into integer bounds that fit the day
// column.
func dayBounds(from, to fleetscore.Day) (lo, hi int64) {
	lo, hi = math.MinInt32, math.MaxInt32
	if !from.IsZero() {
		lo = from.Unix()
	}
	if !to.IsZero() {
		hi = to.Unix()
	}
	return lo, hi
}

type tenantControl = relational.Control

// tenantControls lists the controls a tenant's scores ever had, by name.
func tenantControls(ctx context.Context, q querier, tenant int64) ([]tenantControl, error) {
	rows, err := q.Query(ctx, `
		SELECT c.id, c.name, tc.category
		FROM tenant_controls tc
		JOIN controls c ON c.id = tc.control
		WHERE tc.tenant = $1
		ORDER BY c.name`, tenant)
	if err != nil {
		return nil, fmt.Errorf("load control names: %w", err)
	}
	defer rows.Close()
	var out []tenantControl
	for rows.Next() {
		var c tenantControl
		if err := rows.Scan(&c.ID, &c.Name, &c.Category); err != nil {
			return nil, fmt.Errorf("load control names: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load control names: %w", err)
	}
	return out, nil
}
