package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/fleetscore/fleetscore/internal/relational"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetscore/fleetscore"
)

// profileRow is a profiles row as stored (package relational).
type profileRow = relational.ProfileRow

// stateRow is a control_states row without its key, comparable with ==.
type stateRow struct {
	control   int64
	updatedAt int64 // unix nanoseconds, 0 for none
	state     string
	assigned  string
	comment   string
	updatedBy string
}

// saveProfiles makes profiles the tenant's current list: a changed profile is
// updated in place (an unchanged one is not written at all), one missing from
// the list is marked removed, and state updates not seen before are added, in
// the order given. The writes go out as one batch.
func saveProfiles(ctx context.Context, tx pgx.Tx, tenant int64, profiles []fleetscore.ControlProfile, dict map[string]int64) error {
	list, err := loadProfileRows(ctx, tx, tenant, false)
	if err != nil {
		return err
	}
	stored := make(map[int64]profileRow, len(list))
	for _, sp := range list {
		stored[sp.control] = sp.row
	}
	seenStates, err := loadStateRows(ctx, tx, tenant)
	if err != nil {
		return err
	}
	knownStates := make(map[stateRow]bool, len(seenStates))
	for _, st := range seenStates {
		knownStates[st] = true
	}

	var wb pgx.Batch
	listed := make(map[int64]bool, len(profiles))
	for _, p := range profiles {
		if p.ID == "" {
			return errors.New("a control profile without an ID")
		}
		id := dict[p.ID]
		listed[id] = true
		row, err := relational.NewProfileRow(p)
		if err != nil {
			return err
		}
		if old, ok := stored[id]; !ok || old != row {
			queueProfile(&wb, tenant, id, row)
		}
		for _, u := range p.StateUpdates {
			st := stateRow{control: id, state: u.State, assigned: u.AssignedTo, comment: u.Comment, updatedBy: u.UpdatedBy}
			if !u.UpdatedAt.IsZero() {
				st.updatedAt = u.UpdatedAt.UnixNano()
			}
			if knownStates[st] {
				continue
			}
			// Queued in order: the ids, hence the order first seen, follow.
			wb.Queue(`
				INSERT INTO control_states (tenant, control, updated_at, state, assigned_to, comment, updated_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				tenant, id, st.updatedAt, st.state, st.assigned, st.comment, st.updatedBy)
			knownStates[st] = true
		}
	}

	for _, sp := range list {
		if listed[sp.control] || sp.row.Removed {
			continue
		}
		wb.Queue(`
			UPDATE profiles
			SET removed = true
			WHERE tenant = $1 AND control = $2`, tenant, sp.control)
	}
	if wb.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &wb).Close(); err != nil {
		return fmt.Errorf("save profiles: %w", err)
	}
	return nil
}

func queueProfile(wb *pgx.Batch, tenant, control int64, r profileRow) {
	wb.Queue(`
		INSERT INTO profiles (
		    tenant, control, title, category, max_score, rank, tier, user_impact,
		    implementation_cost, action_type, action_url, service, threats, deprecated,
		    remediation, removed
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, false)
		ON CONFLICT (tenant, control) DO UPDATE SET
		    title               = excluded.title,
		    category            = excluded.category,
		    max_score           = excluded.max_score,
		    rank                = excluded.rank,
		    tier                = excluded.tier,
		    user_impact         = excluded.user_impact,
		    implementation_cost = excluded.implementation_cost,
		    action_type         = excluded.action_type,
		    action_url          = excluded.action_url,
		    service             = excluded.service,
		    threats             = excluded.threats,
		    deprecated          = excluded.deprecated,
		    remediation         = excluded.remediation,
		    removed             = false`,
		tenant, control, r.Title, r.Category, r.MaxScore, r.Rank, r.Tier, r.UserImpact,
		r.Cost, r.ActionType, r.ActionURL, r.Service, r.Threats, r.Deprecated, r.Remediation)
}

// storedProfile is a profiles row with its control's key and name.
type storedProfile struct {
	control int64
	name    string
	row     profileRow
}

// loadProfileRows returns the tenant's profiles sorted by control name; only
// the current ones when currentOnly.
func loadProfileRows(ctx context.Context, q querier, tenant int64, currentOnly bool) ([]storedProfile, error) {
	rows, err := q.Query(ctx, `
		SELECT p.control, c.name, p.title, p.category, p.max_score, p.rank, p.tier, p.user_impact,
		       p.implementation_cost, p.action_type, p.action_url, p.service, p.threats, p.deprecated,
		       p.remediation, p.removed
		FROM profiles p
		JOIN controls c ON c.id = p.control
		WHERE p.tenant = $1 AND (NOT p.removed OR NOT $2)
		ORDER BY c.name`, tenant, currentOnly)
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	defer rows.Close()
	var out []storedProfile
	for rows.Next() {
		var (
			p storedProfile
			r = &p.row
		)
		err := rows.Scan(&p.control, &p.name, &r.Title, &r.Category, &r.MaxScore, &r.Rank, &r.Tier, &r.UserImpact,
			&r.Cost, &r.ActionType, &r.ActionURL, &r.Service, &r.Threats, &r.Deprecated,
			&r.Remediation, &r.Removed)
		if err != nil {
			return nil, fmt.Errorf("load profiles: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	return out, nil
}

// loadStateRows returns the tenant's state updates in the order first seen.
func loadStateRows(ctx context.Context, q querier, tenant int64) ([]stateRow, error) {
	rows, err := q.Query(ctx, `
		SELECT control, updated_at, state, assigned_to, comment, updated_by
		FROM control_states
		WHERE tenant = $1
		ORDER BY id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("load state updates: %w", err)
	}
	defer rows.Close()
	var out []stateRow
	for rows.Next() {
		var st stateRow
		if err := rows.Scan(&st.control, &st.updatedAt, &st.state, &st.assigned, &st.comment, &st.updatedBy); err != nil {
			return nil, fmt.Errorf("load state updates: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load state updates: %w", err)
	}
	return out, nil
}

// Profiles returns the tenant's current control profiles (not those the
// latest full list lacked), sorted by ID, each with every distinct state
// update ever seen, in the order first seen (Graph's: oldest first). An
// unknown tenant is an error wrapping fleetscore.ErrNotFound.
func (s *Store) Profiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error) {
	var out []fleetscore.ControlProfile
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = profiles(ctx, tx, tenantID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("profiles of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

func profiles(ctx context.Context, tx pgx.Tx, tenantID string) ([]fleetscore.ControlProfile, error) {
	tenant, err := tenantKey(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	stored, err := loadProfileRows(ctx, tx, tenant, true)
	if err != nil || len(stored) == 0 {
		return nil, err
	}
	states, err := loadStateRows(ctx, tx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]fleetscore.ControlProfile, len(stored))
	index := make(map[int64]int, len(stored))
	for i, sp := range stored {
		if out[i], err = sp.row.Profile(sp.name); err != nil {
			return nil, err
		}
		index[sp.control] = i
	}
	for _, st := range states {
		i, ok := index[st.control]
		if !ok {
			continue // a removed profile's
		}
		u := fleetscore.ControlStateUpdate{State: st.state, AssignedTo: st.assigned, Comment: st.comment, UpdatedBy: st.updatedBy}
		if st.updatedAt != 0 {
			u.UpdatedAt = time.Unix(0, st.updatedAt).UTC()
		}
		out[i].StateUpdates = append(out[i].StateUpdates, u)
	}
	return out, nil
}
