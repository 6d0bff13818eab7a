package relational

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
)

// ProfileContent is what a control's profile says, the same for every
// tenant as a rule: kept once per distinct content (profile_contents), and
// comparable with ==.
type ProfileContent struct {
	Title, Category, UserImpact, Cost, ActionType, ActionURL, Service string
	Threats                                                           string // JSON array
	Remediation                                                       string
}

// ProfileRow is a tenant's profile of a control as stored: its content and
// what is the tenant's own (a profiles row), comparable with == so that an
// unchanged profile is not written again.
type ProfileRow struct {
	Content    ProfileContent
	MaxScore   float64
	Rank       int
	Tier       string
	Deprecated bool
	Removed    bool
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
		Content: ProfileContent{
			Title: p.Title, Category: p.Category, UserImpact: p.UserImpact, Cost: p.ImplementationCost,
			ActionType: p.ActionType, ActionURL: p.ActionURL, Service: p.Service, Threats: string(b),
			Remediation: p.Remediation,
		},
		MaxScore: p.MaxScore, Rank: p.Rank, Tier: p.Tier, Deprecated: p.Deprecated,
	}, nil
}

// Profile is the profile of control id held in the row (without its state
// updates, which have a table of their own).
func (r ProfileRow) Profile(id string) (fleetscore.ControlProfile, error) {
	c := r.Content
	p := fleetscore.ControlProfile{
		ID: id, Title: c.Title, Category: c.Category, MaxScore: r.MaxScore, Rank: r.Rank, Tier: r.Tier,
		UserImpact: c.UserImpact, ImplementationCost: c.Cost, ActionType: c.ActionType,
		ActionURL: c.ActionURL, Service: c.Service, Deprecated: r.Deprecated, Remediation: c.Remediation,
	}
	if c.Threats == "[]" {
		return p, nil // no threats: nothing to decode
	}
	if err := json.Unmarshal([]byte(c.Threats), &p.Threats); err != nil {
		return p, fmt.Errorf("threats of %s: %w", id, err)
	}
	if len(p.Threats) == 0 {
		p.Threats = nil
	}
	return p, nil
}

// args are the content's columns in the order of contentColumns.
func (c ProfileContent) args() []any {
	return []any{c.Title, c.Category, c.UserImpact, c.Cost, c.ActionType, c.ActionURL, c.Service, c.Threats, c.Remediation}
}

const (
	// contentColumns are profile_contents' columns but its key.
	contentColumns = `title, category, user_impact, implementation_cost, action_type, action_url, service, threats, remediation`
	// sameContent matches the profile_contents rows of the content given as
	// ?1-?9 (in the order of contentColumns), through their title's index.
	sameContent = `substr(title, 1, 200) = substr(?1, 1, 200) AND title = ?1 AND category = ?2
		AND user_impact = ?3 AND implementation_cost = ?4 AND action_type = ?5 AND action_url = ?6
		AND service = ?7 AND threats = ?8 AND remediation = ?9`
	// addContent adds the content given as ?1-?9 unless it is there. Two
	// transactions adding the same one at once may both add it: the copies
	// are harmless, and the oldest is the one used from then on.
	addContent = `
		INSERT INTO profile_contents (` + contentColumns + `)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
		WHERE NOT EXISTS (SELECT 1 FROM profile_contents WHERE ` + sameContent + `)`
	// putProfile writes the whole profile of tenant ?10 and control ?11, of
	// the content given as ?1-?9 (which addContent added).
	putProfile = `
		INSERT INTO profiles (tenant, control, content, rank, max_score, deprecated, removed, tier)
		VALUES (?10, ?11, (SELECT min(id) FROM profile_contents WHERE ` + sameContent + `), ?12, ?13, ?14, false, ?15)
		ON CONFLICT (tenant, control) DO UPDATE SET
		    content    = excluded.content,
		    rank       = excluded.rank,
		    max_score  = excluded.max_score,
		    deprecated = excluded.deprecated,
		    removed    = false,
		    tier       = excluded.tier`
)

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
		switch old, ok := stored[id]; {
		case ok && old == row:
			// Unchanged: nothing to write.
		case ok && !old.Removed && old.Content == row.Content && sameButRank(old, row):
			// Only the rank moved (a control before it came or went): the
			// narrow row's one column.
			wb.queue(`
				UPDATE profiles
				SET rank = ?
				WHERE tenant = ? AND control = ?`, row.Rank, tenant, id)
		case ok && old.Content == row.Content:
			wb.queue(`
				UPDATE profiles
				SET rank = ?, max_score = ?, deprecated = ?, removed = false, tier = ?
				WHERE tenant = ? AND control = ?`, row.Rank, row.MaxScore, row.Deprecated, row.Tier, tenant, id)
		default:
			// New, or its text changed: its content, found or added first.
			c := row.Content.args()
			wb.queue(addContent, c...)
			wb.queue(putProfile, append(c, tenant, id, row.Rank, row.MaxScore, row.Deprecated, row.Tier)...)
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

// sameButRank is whether a and b differ in their rank at most.
func sameButRank(a, b ProfileRow) bool {
	a.Rank = b.Rank
	return a == b
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
			c = &r.Content
		)
		err := rows.Scan(&p.control, &p.name, &c.Title, &c.Category, &r.MaxScore, &r.Rank, &r.Tier, &c.UserImpact,
			&c.Cost, &c.ActionType, &c.ActionURL, &c.Service, &c.Threats, &r.Deprecated,
			&c.Remediation, &r.Removed)
		return p, err
	}, `
		SELECT p.control, c.name, pc.title, pc.category, p.max_score, p.rank, p.tier, pc.user_impact,
		       pc.implementation_cost, pc.action_type, pc.action_url, pc.service, pc.threats, p.deprecated,
		       pc.remediation, p.removed
		FROM profiles p
		JOIN controls c ON c.id = p.control
		JOIN profile_contents pc ON pc.id = p.content
		WHERE p.tenant = ? AND (NOT p.removed OR NOT ?)
		ORDER BY c.name`, tenant, currentOnly)
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	return out, nil
}

// leanContent is what a lean read of profiles (TenantProfiles) takes of a
// profile_contents row.
type leanContent struct{ title, category, userImpact, cost, actionURL string }

// contentCache keeps the lean part of the profile_contents rows read, by
// key, for every tenant's lean reads: a row is never changed nor deleted
// (a new text is a new row), so what a key held once it always holds.
// Microsoft gives every tenant the same few hundred controls: a few
// hundred rows, shared by the fleet, of ~200 bytes each.
type contentCache struct {
	mu sync.RWMutex
	m  map[int64]leanContent
}

// maxCachedContents bounds the rows contentCache keeps; past it, the rows
// not kept are read each time.
const maxCachedContents = 20000

// loadLeanProfileRows is loadProfileRows of the current profiles without
// the columns TenantProfiles leaves out, their content from the store's
// contentCache: the profiles' rows and their controls' names read, and
// only the contents not seen before.
func loadLeanProfileRows(ctx context.Context, q q, tenant int64) ([]storedProfile, error) {
	type leanRow struct {
		p       storedProfile
		content int64
	}
	rows, err := all(ctx, q, func(rows *sql.Rows) (leanRow, error) {
		var l leanRow
		r := &l.p.row
		return l, rows.Scan(&l.p.control, &l.p.name, &l.content, &r.MaxScore, &r.Rank, &r.Tier, &r.Deprecated)
	}, `
		SELECT p.control, c.name, p.content, p.max_score, p.rank, p.tier, p.deprecated
		FROM profiles p
		JOIN controls c ON c.id = p.control
		WHERE p.tenant = ? AND NOT p.removed
		ORDER BY c.name`, tenant)
	if err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	cache := &q.s.contents
	out := make([]storedProfile, len(rows))
	set := func(i int, c leanContent) {
		out[i] = rows[i].p
		out[i].row.Content = ProfileContent{Title: c.title, Category: c.category, UserImpact: c.userImpact,
			Cost: c.cost, ActionURL: c.actionURL, Threats: "[]"}
	}
	var missing []int64 // the contents not kept yet
	var waiting []int   // the rows that wait for them
	cache.mu.RLock()
	for i, l := range rows {
		if c, ok := cache.m[l.content]; ok {
			set(i, c)
		} else {
			missing, waiting = append(missing, l.content), append(waiting, i)
		}
	}
	cache.mu.RUnlock()
	if len(missing) == 0 {
		return out, nil
	}
	list, err := json.Marshal(missing)
	if err != nil {
		return nil, err
	}
	type keyed struct {
		id int64
		c  leanContent
	}
	read, err := all(ctx, q, func(rows *sql.Rows) (keyed, error) {
		var r keyed
		return r, rows.Scan(&r.id, &r.c.title, &r.c.category, &r.c.userImpact, &r.c.cost, &r.c.actionURL)
	}, `
		SELECT id, title, category, user_impact, implementation_cost, action_url
		FROM profile_contents
		WHERE id IN (SELECT CAST(value AS BIGINT) FROM `+q.s.d.jsonList+`)`, string(list))
	if err != nil {
		return nil, fmt.Errorf("load profile contents: %w", err)
	}
	found := make(map[int64]leanContent, len(read))
	cache.mu.Lock()
	if cache.m == nil {
		cache.m = map[int64]leanContent{}
	}
	for _, r := range read {
		found[r.id] = r.c
		if len(cache.m) < maxCachedContents {
			cache.m[r.id] = r.c
		}
	}
	cache.mu.Unlock()
	for _, i := range waiting {
		c, ok := found[rows[i].content]
		if !ok {
			return nil, fmt.Errorf("load profiles: content %d of control %s not found", rows[i].content, rows[i].p.name)
		}
		set(i, c)
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
	return s.readProfiles(ctx, tenantID, false)
}

// TenantProfiles is Profiles without the fields one tenant's page, report
// and controls never show: each profile's ActionType, Service, Threats and
// Remediation are left empty (Remediation, the long text, is most of a
// profile's bytes). Every other field, the state updates included, is as
// Profiles has it.
func (s *Store) TenantProfiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error) {
	return s.readProfiles(ctx, tenantID, true)
}

func (s *Store) readProfiles(ctx context.Context, tenantID string, lean bool) ([]fleetscore.ControlProfile, error) {
	var out []fleetscore.ControlProfile
	err := s.read(ctx, func(q q) error {
		var err error
		out, err = profiles(ctx, q, tenantID, lean)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("profiles of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

func profiles(ctx context.Context, q q, tenantID string, lean bool) ([]fleetscore.ControlProfile, error) {
	tenant, err := tenantKey(ctx, q, tenantID)
	if err != nil {
		return nil, err
	}
	var stored []storedProfile
	if lean {
		stored, err = loadLeanProfileRows(ctx, q, tenant)
	} else {
		stored, err = loadProfileRows(ctx, q, tenant, true)
	}
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
