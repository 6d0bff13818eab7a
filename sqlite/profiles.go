package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/fleetscore/fleetscore/internal/relational"
	"time"

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
// the list is marked removed, and state updates not seen before are added.
func saveProfiles(ctx context.Context, tx *sql.Tx, tenant int64, profiles []fleetscore.ControlProfile, dict *dictionary) error {
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

	listed := make(map[int64]bool, len(profiles))
	for _, p := range profiles {
		if p.ID == "" {
			return fmt.Errorf("a control profile without an ID")
		}
		id, err := dict.intern(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		listed[id] = true
		row, err := relational.NewProfileRow(p)
		if err != nil {
			return err
		}
		if old, ok := stored[id]; !ok || old != row {
			if err := upsertProfile(ctx, tx, tenant, id, row); err != nil {
				return fmt.Errorf("save profile %s: %w", p.ID, err)
			}
		}
		for _, u := range p.StateUpdates {
			st := stateRow{control: id, state: u.State, assigned: u.AssignedTo, comment: u.Comment, updatedBy: u.UpdatedBy}
			if !u.UpdatedAt.IsZero() {
				st.updatedAt = u.UpdatedAt.UnixNano()
			}
			if knownStates[st] {
				continue
			}
			_, err := tx.ExecContext(ctx, `
				INSERT INTO control_states (tenant, control, updated_at, state, assigned_to, comment, updated_by)
				VALUES (?, ?, ?, ?, ?, ?, ?)`,
				tenant, id, st.updatedAt, st.state, st.assigned, st.comment, st.updatedBy)
			if err != nil {
				return fmt.Errorf("save state update of profile %s: %w", p.ID, err)
			}
			knownStates[st] = true
		}
	}

	for _, sp := range list {
		id := sp.control
		if listed[id] || sp.row.Removed {
			continue
		}
		_, err := tx.ExecContext(ctx, `
			UPDATE profiles
			SET removed = 1
			WHERE tenant = ? AND control = ?`, tenant, id)
		if err != nil {
			return fmt.Errorf("mark profile %d removed: %w", id, err)
		}
	}
	return nil
}

func upsertProfile(ctx context.Context, tx *sql.Tx, tenant, control int64, r profileRow) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO profiles (
		    tenant, control, title, category, max_score, rank, tier, user_impact,
		    implementation_cost, action_type, action_url, service, threats, deprecated,
		    remediation, removed
		)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
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
		    removed             = 0`,
		tenant, control, r.Title, r.Category, r.MaxScore, r.Rank, r.Tier, r.UserImpact,
		r.Cost, r.ActionType, r.ActionURL, r.Service, r.Threats, r.Deprecated, r.Remediation)
	return err
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
	rows, err := q.QueryContext(ctx, `
		SELECT p.control, c.name, p.title, p.category, p.max_score, p.rank, p.tier, p.user_impact,
		       p.implementation_cost, p.action_type, p.action_url, p.service, p.threats, p.deprecated,
		       p.remediation, p.removed
		FROM profiles p
		JOIN controls c ON c.id = p.control
		WHERE p.tenant = ? AND (p.removed = 0 OR NOT ?)
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
	rows, err := q.QueryContext(ctx, `
		SELECT control, updated_at, state, assigned_to, comment, updated_by
		FROM control_states
		WHERE tenant = ?
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
	out, err := s.profiles(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("profiles of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

func (s *Store) profiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error) {
	// One read transaction: profiles and states from the same snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
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
