package query

import (
	"context"

	"github.com/fleetscore/fleetscore"
)

// summary is one profile summary as the fleet model keeps it: the fields
// every tenant shares with the others that have the same profile (all of
// them but the state, Microsoft gives every tenant the same few hundred
// controls) in one shared ControlProfile, and the tenant's own state
// updates. 32 bytes a profile instead of ControlProfile's 232.
type summary struct {
	shared *fleetscore.ControlProfile // without StateUpdates; shared: read only
	states []fleetscore.ControlStateUpdate
}

// full is the summary as the store gave it.
func (s summary) full() fleetscore.ControlProfile {
	p := *s.shared
	p.StateUpdates = s.states
	return p
}

// summaryKey is what makes two profiles' shared parts one: every field but
// the state updates (and Threats, which summaries do not hold: a profile
// with threats is kept apart).
type summaryKey struct {
	ID, Title, Category, Tier, UserImpact, ImplementationCost, ActionType, ActionURL, Service, Remediation string
	MaxScore                                                                                               float64
	Rank                                                                                                   int
	Deprecated                                                                                             bool
}

// compactSummaries is the compact form of ProfileSummaries' answer.
func compactSummaries(all map[string][]fleetscore.ControlProfile) map[string][]summary {
	shared := map[summaryKey]*fleetscore.ControlProfile{}
	n := 0
	for _, ps := range all {
		n += len(ps)
	}
	// One array for every tenant's summaries.
	flat := make([]summary, 0, n)
	out := make(map[string][]summary, len(all))
	for id, ps := range all {
		start := len(flat)
		for _, p := range ps {
			var sh *fleetscore.ControlProfile
			if len(p.Threats) == 0 {
				k := summaryKey{p.ID, p.Title, p.Category, p.Tier, p.UserImpact, p.ImplementationCost, p.ActionType,
					p.ActionURL, p.Service, p.Remediation, p.MaxScore, p.Rank, p.Deprecated}
				if sh = shared[k]; sh == nil {
					c := p
					c.StateUpdates = nil
					sh = &c
					shared[k] = sh
				}
			} else {
				c := p
				c.StateUpdates = nil
				sh = &c
			}
			flat = append(flat, summary{shared: sh, states: p.StateUpdates})
		}
		if ps == nil {
			out[id] = nil
			continue
		}
		out[id] = flat[start:len(flat):len(flat)]
	}
	return out
}

// expandSummaries is ProfileSummaries' answer from its compact form: new
// slices, the caller's to keep.
func expandSummaries(c map[string][]summary) map[string][]fleetscore.ControlProfile {
	if c == nil {
		return nil
	}
	out := make(map[string][]fleetscore.ControlProfile, len(c))
	for id, ss := range c {
		if ss == nil {
			out[id] = nil
			continue
		}
		ps := make([]fleetscore.ControlProfile, len(ss))
		for i, s := range ss {
			ps[i] = s.full()
		}
		out[id] = ps
	}
	return out
}

// summariesOf is the profile summaries of src in the compact form: the
// model's own when src is the fleet model or a view of it (or a
// restricted view of either, filtered).
func summariesOf(ctx context.Context, src Source) (map[string][]summary, error) {
	if r, ok := src.(*restricted); ok {
		m, err := summariesOf(ctx, r.src)
		return seen(r, m), err
	}
	v, ok, err := modelOf(ctx, src)
	if err != nil {
		return nil, err
	}
	if ok {
		return v.summaries(ctx)
	}
	all, err := src.ProfileSummaries(ctx)
	if err != nil {
		return nil, err
	}
	return compactSummaries(all), nil
}
