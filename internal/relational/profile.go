package relational

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetscore/fleetscore"
)

// ProfileRow is a profiles row as stored, comparable with == so that an
// unchanged profile is not written again.
type ProfileRow struct {
	Title, Category, Tier, UserImpact, Cost, ActionType, ActionURL, Service string
	MaxScore                                                                float64
	Rank                                                                    int
	Threats                                                                 string // JSON array
	Deprecated                                                              bool
	Remediation                                                             string
	Removed                                                                 bool
}

// NewProfileRow is the row of a profile.
func NewProfileRow(p fleetscore.ControlProfile) (ProfileRow, error) {
	threats := p.Threats
	if threats == nil {
		threats = []string{}
	}
	b, err := json.Marshal(threats)
	if err != nil {
		return ProfileRow{}, fmt.Errorf("threats of %s: %w", p.ID, err)
	}
	return ProfileRow{
		Title: p.Title, Category: p.Category, Tier: p.Tier, UserImpact: p.UserImpact,
		Cost: p.ImplementationCost, ActionType: p.ActionType, ActionURL: p.ActionURL, Service: p.Service,
		MaxScore: p.MaxScore, Rank: p.Rank, Threats: string(b), Deprecated: p.Deprecated,
		Remediation: p.Remediation,
	}, nil
}

// Profile is the profile of control id held in the row (without its state
// updates, which have a table of their own).
func (r ProfileRow) Profile(id string) (fleetscore.ControlProfile, error) {
	p := fleetscore.ControlProfile{
		ID: id, Title: r.Title, Category: r.Category, MaxScore: r.MaxScore, Rank: r.Rank, Tier: r.Tier,
		UserImpact: r.UserImpact, ImplementationCost: r.Cost, ActionType: r.ActionType,
		ActionURL: r.ActionURL, Service: r.Service, Deprecated: r.Deprecated, Remediation: r.Remediation,
	}
	if err := json.Unmarshal([]byte(r.Threats), &p.Threats); err != nil {
		return p, fmt.Errorf("threats of %s: %w", id, err)
	}
	if len(p.Threats) == 0 {
		p.Threats = nil
	}
	return p, nil
}

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
func saveProfiles(ctx context.Context, t *tx, tenant int64, profiles []fleetscore.ControlProfile, dict map[string]int64) error {
	list, err := loadProfileRows(ctx, t.q, tenant, false)
	if err != nil {
		return err
	}
	stored := make(map[int64]ProfileRow, len(list))
	for _, sp := range list {
		stored[sp.control] = sp.row
	}
	seenStates, err := loadStateRows(ctx, t.q, tenant)
	if err != nil {
		return err
	}
	knownStates := make(map[stateRow]bool, len(seenStates))
	for _, st := range seenStates {
		knownStates[st] = true
	}

	var wb batch
	listed := make(map[int64]bool, len(profiles))
	for _, p := range profiles {
		if p.ID == "" {
			return errors.New("a control profile without an ID")
		}
		id := dict[p.ID]
		listed[id] = true
		row, err := NewProfileRow(p)
		if err != nil {
			return err
		}
		if old, ok := stored[id]; !ok || old != row {
			wb.queue(`
				INSERT INTO profiles (
				    tenant, control, title, category, max_score, rank, tier, user_impact,
				    implementation_cost, action_type, action_url, service, threats, deprecated,
				    remediation, removed
				)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false)
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
				tenant, id, row.Title, row.Category, row.MaxScore, row.Rank, row.Tier, row.UserImpact,
				row.Cost, row.ActionType, row.ActionURL, row.Service, row.Threats, row.Deprecated, row.Remediation)
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
			wb.queue(`
				INSERT INTO control_states (tenant, control, updated_at, state, assigned_to, comment, updated_by)
				VALUES (?, ?, ?, ?, ?, ?, ?)`,
				tenant, id, st.updatedAt, st.state, st.assigned, st.comment, st.updatedBy)
			knownStates[st] = true
		}
	}

	for _, sp := range list {
		if listed[sp.control] || sp.row.Removed {
			continue
		}
		wb.queue(`
			UPDATE profiles
			SET removed = true
			WHERE tenant = ? AND control = ?`, tenant, sp.control)
	}
	if err := t.send(ctx, &wb); err != nil {
		return fmt.Errorf("save profiles: %w", err)
	}
	return nil
}

// storedProfile is a profiles row with its control's key and name.
type storedProfile struct {
	control int64
	name    string
	row     ProfileRow
}

// loadProfileRows returns the tenant's profiles sorted by control name; only
// the current ones when currentOnly.
func loadProfileRows(ctx context.Context, q q, tenant int64, currentOnly bool) ([]storedProfile, error) {
	out, err := all(ctx, q, func(rows *sql.Rows) (storedProfile, error) {
		var (
			p storedProfile
			r = &p.row
		)
		err := rows.Scan(&p.control, &p.name, &r.Title, &r.Category, &r.MaxScore, &r.Rank, &r.Tier, &r.UserImpact,
			&r.Cost, &r.ActionType, &r.ActionURL, &r.Service, &r.Threats, &r.Deprecated,
			&r.Remediation, &r.Removed)
		return p, err
	}, `
		SELECT p.control, c.name, p.title, p.category, p.max_score, p.rank, p.tier, p.user_impact,
		       p.implementation_cost, p.action_type, p.action_url, p.service, p.threats, p.deprecated,
		       p.remediation, p.removed
		FROM profiles p
		JOIN controls c ON c.id = p.control
		WHERE p.tenant = ? AND (NOT p.removed OR NOT ?)
		ORDER BY c.name`, tenant, currentOnly)
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	return out, nil
}

// loadStateRows returns the tenant's state updates in the order first seen.
func loadStateRows(ctx context.Context, q q, tenant int64) ([]stateRow, error) {
	out, err := all(ctx, q, func(rows *sql.Rows) (stateRow, error) {
		var st stateRow
		return st, rows.Scan(&st.control, &st.updatedAt, &st.state, &st.assigned, &st.comment, &st.updatedBy)
	}, `
		SELECT control, updated_at, state, assigned_to, comment, updated_by
		FROM control_states
		WHERE tenant = ?
		ORDER BY id`, tenant)
	if err != nil {
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
	err := s.read(ctx, func(q q) error {
		var err error
		out, err = profiles(ctx, q, tenantID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("profiles of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

func profiles(ctx context.Context, q q, tenantID string) ([]fleetscore.ControlProfile, error) {
	tenant, err := tenantKey(ctx, q, tenantID)
	if err != nil {
		return nil, err
	}
	stored, err := loadProfileRows(ctx, q, tenant, true)
	if err != nil || len(stored) == 0 {
		return nil, err
	}
	states, err := loadStateRows(ctx, q, tenant)
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
