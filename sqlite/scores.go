package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/internal/relational"
)

// SaveBatch writes one tenant's batch in one transaction: the tenant, its
// score days (a day already stored is replaced: same day, same rows, so saving
// a batch twice changes nothing) and, when b.Profiles is not nil, its control
// profiles. On any error, a cancelled ctx included, nothing of the batch is
// kept.
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
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	tenant, err := upsertTenant(ctx, tx, b.Tenant, false)
	if err != nil {
		return err
	}
	dict, err := loadDictionary(ctx, tx)
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
	return tx.Commit()
}

// state and change are the shared encoding's (package relational).
type (
	state  = relational.State
	change = relational.Change
)

type changeKey struct{ control, day int64 }

func saveScores(ctx context.Context, tx *sql.Tx, tenant int64, days []fleetscore.Score, dict *dictionary) error {
	if len(days) == 0 {
		return nil
	}
	first, newest := days[0].Day.Unix(), days[len(days)-1]

	var latestStored sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(day) FROM scores WHERE tenant = ?`, tenant).Scan(&latestStored); err != nil {
		return fmt.Errorf("latest day: %w", err)
	}

	// The batch's control states, and the categories of its newest day.
	batch := make(map[int64]state, len(days))
	categories := map[int64]string{}
	for _, sc := range days {
		st := make(state, len(sc.Controls))
		for _, c := range sc.Controls {
			id, err := dict.intern(ctx, tx, c.Name)
			if err != nil {
				return err
			}
			st[id] = c.Score
			categories[id] = c.Category
		}
		batch[sc.Day.Unix()] = st
	}

	if err := upsertScoreRows(ctx, tx, tenant, days); err != nil {
		return err
	}

	// Enabled services: only the newest day's are kept.
	services, err := encodeServices(newest.EnabledServices)
	if err != nil {
		return fmt.Errorf("enabled services: %w", err)
	}
	_, err = tx.ExecContext(ctx, `
		UPDATE tenants
		SET enabled_services = ?1, services_day = ?2
		WHERE id = ?3
		  AND (services_day IS NULL OR services_day <= ?2)
		  AND (enabled_services, services_day) IS NOT (?1, ?2)`,
		services, newest.Day.Unix(), tenant)
	if err != nil {
		return fmt.Errorf("save enabled services: %w", err)
	}

	// A backfill of old days does not overwrite the categories of newer ones.
	overwrite := !latestStored.Valid || newest.Day.Unix() >= latestStored.Int64
	if err := saveCategories(ctx, tx, tenant, categories, overwrite); err != nil {
		return err
	}
	return saveChanges(ctx, tx, tenant, first, batch)
}

func upsertScoreRows(ctx context.Context, tx *sql.Tx, tenant int64, days []fleetscore.Score) error {
	// The WHERE spares a write (and WAL frames) when a re-fetched day has not changed.
	stmt, err := tx.PrepareContext(ctx, `
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
		WHERE (current_score, max_score, active_users, licensed_users,
		       avg_all_tenants, avg_total_seats, avg_industry_types)
		   IS NOT (excluded.current_score, excluded.max_score, excluded.active_users, excluded.licensed_users,
		       excluded.avg_all_tenants, excluded.avg_total_seats, excluded.avg_industry_types)`)
	if err != nil {
		return fmt.Errorf("save scores: %w", err)
	}
	defer stmt.Close()
	for _, sc := range days {
		_, err := stmt.ExecContext(ctx, tenant, sc.Day.Unix(), sc.CurrentScore, sc.MaxScore,
			fleetscore.Percent(sc.CurrentScore, sc.MaxScore), sc.ActiveUserCount, sc.LicensedUserCount,
			average(sc, fleetscore.BasisAllTenants), average(sc, fleetscore.BasisTotalSeats),
			average(sc, fleetscore.BasisIndustryTypes))
		if err != nil {
			return fmt.Errorf("save score of %s: %w", sc.Day, err)
		}
	}
	return nil
}

// saveCategories records the category of each control of the tenant: new
// ones always, changed ones when overwrite.
func saveCategories(ctx context.Context, tx *sql.Tx, tenant int64, categories map[int64]string, overwrite bool) error {
	stored := map[int64]string{}
	rows, err := tx.QueryContext(ctx, `SELECT control, category FROM tenant_controls WHERE tenant = ?`, tenant)
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
	for _, id := range slices.Sorted(maps.Keys(categories)) {
		cat := categories[id]
		old, ok := stored[id]
		if ok && (old == cat || !overwrite) {
			continue
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO tenant_controls (tenant, control, category)
			VALUES (?, ?, ?)
			ON CONFLICT (tenant, control) DO UPDATE SET category = excluded.category`,
			tenant, id, cat)
		if err != nil {
			return fmt.Errorf("save category of control %d: %w", id, err)
		}
	}
	return nil
}

// saveChanges re-encodes the tenant's control changes from day first on, the
// batch's days replacing the stored ones, and writes only the rows that differ
// from those stored.
func saveChanges(ctx context.Context, tx *sql.Tx, tenant, first int64, batch map[int64]state) error {
	before, err := stateBefore(ctx, tx, tenant, first)
	if err != nil {
		return err
	}
	stored, err := loadChanges(ctx, tx, tenant, first, math.MaxInt64)
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
	var upserts []change
	for _, c := range want {
		k := changeKey{c.Control, c.Day}
		if old, ok := have[k]; ok {
			delete(have, k)
			if old.Valid == c.Valid && old.Score == c.Score {
				continue
			}
		}
		upserts = append(upserts, c)
	}
	if len(have) > 0 {
		del, err := tx.PrepareContext(ctx, `
			DELETE FROM control_changes
			WHERE tenant = ? AND control = ? AND day = ?`)
		if err != nil {
			return fmt.Errorf("delete control changes: %w", err)
		}
		defer del.Close()
		for k := range have {
			if _, err := del.ExecContext(ctx, tenant, k.control, k.day); err != nil {
				return fmt.Errorf("delete control change: %w", err)
			}
		}
	}
	if len(upserts) > 0 {
		ins, err := tx.PrepareContext(ctx, `
			INSERT INTO control_changes (tenant, control, day, score)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant, control, day) DO UPDATE SET score = excluded.score`)
		if err != nil {
			return fmt.Errorf("save control changes: %w", err)
		}
		defer ins.Close()
		for _, c := range upserts {
			if _, err := ins.ExecContext(ctx, tenant, c.Control, c.Day, sql.NullFloat64{Float64: c.Score, Valid: c.Valid}); err != nil {
				return fmt.Errorf("save control change: %w", err)
			}
		}
	}
	return nil
}

// stateBefore is the tenant's control state in effect just before day.
func stateBefore(ctx context.Context, q querier, tenant, day int64) (state, error) {
	// With max(), SQLite takes the bare column score from the row holding the
	// maximum: the control's latest change before day.
	rows, err := q.QueryContext(ctx, `
		SELECT control, score, max(day)
		FROM control_changes
		WHERE tenant = ? AND day < ?
		GROUP BY control`, tenant, day)
	if err != nil {
		return nil, fmt.Errorf("load controls before %s: %w", fleetscore.DayFromUnix(day), err)
	}
	defer rows.Close()
	st := state{}
	for rows.Next() {
		var (
			id, d int64
			score sql.NullFloat64
		)
		if err := rows.Scan(&id, &score, &d); err != nil {
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
	rows, err := q.QueryContext(ctx, `
		SELECT control, day, score
		FROM control_changes
		WHERE tenant = ? AND day BETWEEN ? AND ?
		ORDER BY day, control`, tenant, from, to)
	if err != nil {
		return nil, fmt.Errorf("load control changes: %w", err)
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var (
			c     change
			score sql.NullFloat64
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
	rows, err := q.QueryContext(ctx, `
		SELECT day
		FROM scores
		WHERE tenant = ? AND day >= ?
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
	out, err := s.scores(ctx, tenantID, from, to)
	if err != nil {
		return nil, fmt.Errorf("scores of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

func (s *Store) scores(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = from.Unix()
	}
	if !to.IsZero() {
		hi = to.Unix()
	}
	// One read transaction: one snapshot of the database for all the queries.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	var (
		tenant      int64
		services    sql.NullString
		servicesDay sql.NullInt64
	)
	err = tx.QueryRowContext(ctx, `
		SELECT id, enabled_services, services_day
		FROM tenants
		WHERE guid = ?`, tenantID).Scan(&tenant, &services, &servicesDay)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fleetscore.ErrNotFound
	}
	if err != nil {
		return nil, err
	}

	rows, err := tx.QueryContext(ctx, `
		SELECT day, current_score, max_score, active_users, licensed_users,
		       avg_all_tenants, avg_total_seats, avg_industry_types
		FROM scores
		WHERE tenant = ? AND day BETWEEN ? AND ?
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

type tenantControl = relational.Control

// tenantControls lists the controls a tenant's scores ever had, by name.
func tenantControls(ctx context.Context, q querier, tenant int64) ([]tenantControl, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT c.id, c.name, tc.category
		FROM tenant_controls tc
		JOIN controls c ON c.id = tc.control
		WHERE tc.tenant = ?
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

// dictionary is the controls table in memory during one write transaction.
type dictionary struct{ ids map[string]int64 }

func loadDictionary(ctx context.Context, q querier) (*dictionary, error) {
	d := &dictionary{ids: map[string]int64{}}
	rows, err := q.QueryContext(ctx, `SELECT id, name FROM controls`)
	if err != nil {
		return nil, fmt.Errorf("load control names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int64
			name string
		)
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("load control names: %w", err)
		}
		d.ids[name] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load control names: %w", err)
	}
	return d, nil
}

// intern returns the key of a control name, adding the name when new.
func (d *dictionary) intern(ctx context.Context, q querier, name string) (int64, error) {
	if id, ok := d.ids[name]; ok {
		return id, nil
	}
	var id int64
	err := q.QueryRowContext(ctx, `INSERT INTO controls (name) VALUES (?) RETURNING id`, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add control %s: %w", name, err)
	}
	d.ids[name] = id
	return id, nil
}
