package query

import (
	"context"

	"github.com/fleetscore/fleetscore"
)

// summary is one profile summary as the fleet model keeps it: the fields
// every tenant shares with the others that have the same profile (all of
// them but the state, Microsoft gives every tenant the same few hundred
// controls) in one shared ControlProfile, and the tenant's own state
// updates (nil when it has none, as most have). 16 bytes a profile
// instead of ControlProfile's 232 (at 10,000 tenants, 2 million).
type summary struct {
	shared *fleetscore.ControlProfile // without StateUpdates; shared: read only
	states *[]fleetscore.ControlStateUpdate
}

// full is the summary as the store gave it.
func (s summary) full() fleetscore.ControlProfile {
	p := *s.shared
	if s.states != nil {
		p.StateUpdates = *s.states
	}
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
			var st *[]fleetscore.ControlStateUpdate
			if p.StateUpdates != nil {
				u := p.StateUpdates // not &p.StateUpdates: that would keep all of p
				st = &u
			}
			flat = append(flat, summary{shared: sh, states: st})
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
	return compactOf(ctx, src, view.summaries, seen[[]summary], func(ctx context.Context, src Source) (map[string][]summary, error) {
		all, err := src.ProfileSummaries(ctx)
		if err != nil {
			return nil, err
		}
		return compactSummaries(all), nil
	})
}

// compactOf is one of the model's compact parts of src: the model's own
// (own) when src is the fleet model or a view of it, filtered (seen) for
// a restricted view of either, else read (from src's answer).
func compactOf[C any](ctx context.Context, src Source, own func(view, context.Context) (C, error), seen func(*restricted, C) C, read func(context.Context, Source) (C, error)) (C, error) {
	if r, ok := src.(*restricted); ok {
		c, err := compactOf(ctx, r.src, own, seen, read)
		if err != nil {
			var zero C
			return zero, err
		}
		return seen(r, c), nil
	}
	v, ok, err := modelOf(ctx, src)
	if err != nil {
		var zero C
		return zero, err
	}
	if ok {
		return own(v, ctx)
	}
	return read(ctx, src)
}
