package relational

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/fleetscore/fleetscore"
)

// SaveBatch writes one tenant's batch in one transaction: the tenant, its
// score days (a day already stored is replaced: same day, same rows, so saving
// a batch twice changes nothing) and, when b.Profiles is not nil, its control
// profiles. On any error, a cancelled ctx included, nothing of the batch is
// kept.
//
// Within a batch, a day given twice and a control given twice in a day take
// the last one. EnabledServices is kept for the newest day only.
//
// The tenant's row is locked first (the dialect's lockTenant), so two saves
// of one tenant follow each other; new control names are added in name
// order, so two batches adding the same names cannot deadlock.
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
	days, err := BatchDays(b)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		tenant, err := upsertTenant(ctx, t, b.Tenant, false, true)
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
		dict, err := intern(ctx, t, names)
		if err != nil {
			return err
		}
		if err := saveScores(ctx, t, tenant, days, dict); err != nil {
			return err
		}
		if b.Profiles != nil {
			return saveProfiles(ctx, t, tenant, b.Profiles, dict)
		}
		return nil
	})
}

// intern returns the keys of the control names, adding the names that are
// new. New names are inserted in name order, so that two transactions adding
// some of the same names wait for each other instead of deadlocking; a name
// another transaction adds at the same moment is not added twice (ON
// CONFLICT) and is read back once that transaction commits. Names are looked
// up before any insert, so that keys are only used up by names really new.
func intern(ctx context.Context, t *tx, names []string) (map[string]int64, error) {
	want := slices.Compact(slices.Sorted(slices.Values(names)))
	dict := make(map[string]int64, len(want))
	if len(want) == 0 {
		return dict, nil
	}
	lookup := func(names []string) error {
		list, err := json.Marshal(names)
		if err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT id, name FROM controls WHERE name IN (SELECT value FROM `+t.s.d.jsonList+`)`, string(list))
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
		return rows.Err()
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
	list, err := json.Marshal(missing)
	if err != nil {
		return nil, err
	}
	// WHERE true: SQLite's parser needs it between a SELECT and ON CONFLICT.
	_, err = t.exec(ctx, `
		INSERT INTO controls (name)
		SELECT value FROM `+t.s.d.jsonList+` WHERE true
		ORDER BY value
		ON CONFLICT (name) DO NOTHING`, string(list))
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

type changeKey struct{ control, day int64 }

func saveScores(ctx context.Context, t *tx, tenant int64, days []fleetscore.Score, dict map[string]int64) error {
	if len(days) == 0 {
		return nil
	}
	first, newest := days[0].Day.Unix(), days[len(days)-1]

	var latestStored sql.NullInt64
	if err := t.row(ctx, `SELECT max(day) FROM scores WHERE tenant = ?`, tenant).Scan(&latestStored); err != nil {
		return fmt.Errorf("latest day: %w", err)
	}

	// The batch's control states, and the categories of its newest day.
	batchStates := make(map[int64]State, len(days))
	categories := map[int64]string{}
	for _, sc := range days {
		st := make(State, len(sc.Controls))
		for _, c := range sc.Controls {
			id := dict[c.Name]
			st[id] = c.Score
			categories[id] = c.Category
		}
		batchStates[sc.Day.Unix()] = st
	}

	services, err := encodeServices(newest.EnabledServices)
	if err != nil {
		return fmt.Errorf("enabled services: %w", err)
	}
	stored := map[int64]string{}
	rows, err := t.query(ctx, `SELECT control, category FROM tenant_controls WHERE tenant = ?`, tenant)
	if err != nil {
		return fmt.Errorf("load categories: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id  int64
			cat string
		)
		if err := rows.Scan(&id, &cat); err != nil {
			return fmt.Errorf("load categories: %w", err)
		}
		stored[id] = cat
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load categories: %w", err)
	}

	// One batch: the days, the enabled services, the categories.
	var wb batch
	for _, sc := range days {
		// The WHERE spares a write (a dead row, WAL frames) when a re-fetched day has not changed.
		wb.queue(`
			INSERT INTO scores (
			    tenant, day, current_score, max_score, percent, active_users, licensed_users,
			    avg_all_tenants, avg_total_seats, avg_industry_types
			)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
	wb.queue(`
		UPDATE tenants
		SET enabled_services = ?1, services_day = ?2
		WHERE id = ?3
		  AND (services_day IS NULL OR services_day <= ?2)
		  AND (enabled_services, services_day) IS DISTINCT FROM (?1, ?2)`,
		services, newest.Day.Unix(), tenant)
	// A backfill of old days does not overwrite the categories of newer ones.
	overwrite := !latestStored.Valid || newest.Day.Unix() >= latestStored.Int64
	for _, id := range slices.Sorted(maps.Keys(categories)) {
		cat := categories[id]
		if old, ok := stored[id]; ok && (old == cat || !overwrite) {
			continue
		}
		wb.queue(`
			INSERT INTO tenant_controls (tenant, control, category)
			VALUES (?, ?, ?)
			ON CONFLICT (tenant, control) DO UPDATE SET category = excluded.category`,
			tenant, id, cat)
	}
	if err := t.send(ctx, &wb); err != nil {
		return fmt.Errorf("save scores: %w", err)
	}
	return saveChanges(ctx, t, tenant, first, batchStates)
}

// saveChanges re-encodes the tenant's control changes from day first on, the
// batch's days replacing the stored ones, and writes only the rows that differ
// from those stored.
func saveChanges(ctx context.Context, t *tx, tenant, first int64, states map[int64]State) error {
	before, err := stateBefore(ctx, t.q, tenant, first)
	if err != nil {
		return err
	}
	stored, err := loadChanges(ctx, t.q, tenant, first, math.MaxInt32)
	if err != nil {
		return err
	}
	// Every day from first on, the batch's (already upserted) and the others.
	days, err := all(ctx, t.q, scanOne[int64], `
		SELECT day
		FROM scores
		WHERE tenant = ? AND day >= ?
		ORDER BY day`, tenant, first)
	if err != nil {
		return fmt.Errorf("load days: %w", err)
	}
	want := Encode(before, days, stored, states)

	have := make(map[changeKey]Change, len(stored))
	for _, c := range stored {
		have[changeKey{c.Control, c.Day}] = c
	}
	var wb batch
	for _, c := range want {
		k := changeKey{c.Control, c.Day}
		if old, ok := have[k]; ok {
			delete(have, k)
			if old == c {
				continue
			}
		}
		wb.queue(`
			INSERT INTO control_changes (tenant, control, day, score, prev)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant, control, day) DO UPDATE SET score = excluded.score, prev = excluded.prev`,
			tenant, c.Control, c.Day, sql.NullFloat64{Float64: c.Score, Valid: c.Valid},
			sql.NullFloat64{Float64: c.Prev, Valid: c.PrevValid})
	}
	for _, k := range slices.SortedFunc(maps.Keys(have), func(a, b changeKey) int {
		return cmp.Or(cmp.Compare(a.control, b.control), cmp.Compare(a.day, b.day))
	}) {
		wb.queue(`
			DELETE FROM control_changes
			WHERE tenant = ? AND control = ? AND day = ?`, tenant, k.control, k.day)
	}
	if err := t.send(ctx, &wb); err != nil {
		return fmt.Errorf("save control changes: %w", err)
	}
	return nil
}

// tenantDays is the tenant's key and its snapshots of days from..to,
// oldest first, without controls, read through the (tenant, day) key;
// EnabledServices on the newest stored day only. An unknown tenant is
// fleetscore.ErrNotFound.
func tenantDays(ctx context.Context, q q, tenantID string, from, to fleetscore.Day) (int64, []fleetscore.Score, error) {
	lo, hi := dayBounds(from, to)
	var tr tenantRow
	err := q.row(ctx, `
		SELECT id, enabled_services, services_day
		FROM tenants
		WHERE guid = ?`, tenantID).Scan(&tr.id, &tr.services, &tr.servicesDay)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fleetscore.ErrNotFound
	}
	if err != nil {
		return 0, nil, err
	}
	out, err := all(ctx, q, func(r *sql.Rows) (fleetscore.Score, error) {
		var sr scoreRow
		err := r.Scan(sr.dest()...)
		return sr.score(tenantID), err
	}, `
		SELECT `+scoreColumns("s")+`
		FROM scores s
		WHERE s.tenant = ? AND s.day BETWEEN ? AND ?
		ORDER BY s.day`, tr.id, lo, hi)
	if err != nil || len(out) == 0 {
		return tr.id, out, err
	}
	if last := &out[len(out)-1]; tr.servicesDay.Valid && tr.servicesDay.Int64 == last.Day.Unix() {
		if last.EnabledServices, err = decodeServices(tr.services); err != nil {
			return 0, nil, err
		}
	}
	return tr.id, out, nil
}

// stateBefore is the tenant's control state in effect just before day: each
// control's latest change before it. Every control with changes has its
// tenant_controls row (a foreign key), so the query seeks, for each of them,
// the one row before day through the (tenant, control, day) key: ~250 seeks
// instead of reading every change row the tenant ever had (~3,400 over
// three years) as a GROUP BY or DISTINCT ON does. A control absent before
// day (its latest change a NULL score) and one with no change before it
// both read as a NULL score: neither is in the state.
func stateBefore(ctx context.Context, q q, tenant, day int64) (State, error) {
	rows, err := q.query(ctx, stateBeforeQuery, tenant, day)
	if err != nil {
		return nil, fmt.Errorf("load controls before %s: %w", fleetscore.DayFromUnix(day), err)
	}
	defer rows.Close()
	st := State{}
	for rows.Next() {
		var (
			control int64
			score   sql.NullFloat64
		)
		if err := rows.Scan(&control, &score); err != nil {
			return nil, fmt.Errorf("load controls before %s: %w", fleetscore.DayFromUnix(day), err)
		}
		if score.Valid {
			st[control] = score.Float64
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load controls before %s: %w", fleetscore.DayFromUnix(day), err)
	}
	return st, nil
}

// scoreBefore is the score in effect before day ?2 of the control of the
// tenant_controls row tc: its latest change before it.
const scoreBefore = `
	       (SELECT cc.score
	        FROM control_changes cc
	        WHERE cc.tenant = tc.tenant AND cc.control = tc.control AND cc.day < ?2
	        ORDER BY cc.day DESC
	        LIMIT 1)`

// stateBeforeQuery is stateBefore's: tenant ?1, day ?2.
const stateBeforeQuery = `
	SELECT tc.control,` + scoreBefore + `
	FROM tenant_controls tc
	WHERE tc.tenant = ?1`

// controlsBeforeQuery is stateBeforeQuery with each control's name and
// category, by name: tenant ?1, day ?2.
const controlsBeforeQuery = `
	SELECT c.id, c.name, tc.category,` + scoreBefore + `
	FROM tenant_controls tc
	JOIN controls c ON c.id = tc.control
	WHERE tc.tenant = ?1
	ORDER BY c.name`

// StateBefore is the tenant's control scores in effect just before day, by
// control key: the state Scores and SaveBatch start from (stateBefore),
// for the tests that check it against a scan of every change row.
func (s *Store) StateBefore(ctx context.Context, tenantID string, day fleetscore.Day) (map[int64]float64, error) {
	var st State
	err := s.read(ctx, func(q q) error {
		tenant, err := tenantKey(ctx, q, tenantID)
		if err != nil {
			return err
		}
		st, err = stateBefore(ctx, q, tenant, day.Unix())
		return err
	})
	return st, err
}

// loadChanges returns the tenant's change rows of days from..to, by day,
// with their Prev.
func loadChanges(ctx context.Context, q q, tenant, from, to int64) ([]Change, error) {
	out, err := all(ctx, q, func(r *sql.Rows) (Change, error) {
		var (
			c           Change
			score, prev sql.NullFloat64
		)
		err := r.Scan(&c.Control, &score, &c.Day, &prev)
		c.Score, c.Valid = score.Float64, score.Valid
		c.Prev, c.PrevValid = prev.Float64, prev.Valid
		return c, err
	}, `
		SELECT control, score, day, prev
		FROM control_changes
		WHERE tenant = ? AND day BETWEEN ? AND ?
		ORDER BY day, control`, tenant, from, to)
	if err != nil {
		return nil, fmt.Errorf("load control changes: %w", err)
	}
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

// Scores returns the tenant's snapshots of days from..to inclusive (a zero
// day leaves that end open), oldest first, each with its controls sorted by
// name. EnabledServices is filled on the newest stored day only: older days'
// are not kept. An unknown tenant is an error wrapping fleetscore.ErrNotFound.
func (s *Store) Scores(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	var out []fleetscore.Score
	err := s.read(ctx, func(q q) error {
		var err error
		out, err = scores(ctx, q, tenantID, from, to)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("scores of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

func scores(ctx context.Context, q q, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	tenant, out, err := tenantDays(ctx, q, tenantID, from, to)
	if err != nil || len(out) == 0 {
		return out, err
	}

	// The controls a tenant's scores ever had, by name, each with its
	// score in effect before the first day (stateBefore's seek, in the
	// same pass over tenant_controls).
	first, last := out[0].Day.Unix(), out[len(out)-1].Day.Unix()
	st := State{}
	controls, err := all(ctx, q, func(r *sql.Rows) (Control, error) {
		var (
			c     Control
			score sql.NullFloat64
		)
		err := r.Scan(&c.ID, &c.Name, &c.Category, &score)
		if score.Valid {
			st[c.ID] = score.Float64
		}
		return c, err
	}, controlsBeforeQuery, tenant, first)
	if err != nil {
		return nil, fmt.Errorf("load controls before %s: %w", fleetscore.DayFromUnix(first), err)
	}
	changes, err := loadChanges(ctx, q, tenant, first, last)
	if err != nil {
		return nil, err
	}
	Replay(out, st, changes, controls)
	return out, nil
}
