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
	c := newCompactor(len(all))
	for id, ps := range all {
		c.add(id, ps)
	}
	return c.out
}

// compactor builds the compact form tenant by tenant, sharing what the
// tenants have alike across all of them.
type compactor struct {
	shared map[summaryKey]*fleetscore.ControlProfile
	out    map[string][]summary
}

func newCompactor(tenants int) *compactor {
	return &compactor{shared: map[summaryKey]*fleetscore.ControlProfile{}, out: make(map[string][]summary, tenants)}
}

// add is one tenant's profiles; ps is not kept (its states are).
func (c *compactor) add(id string, ps []fleetscore.ControlProfile) {
	if ps == nil {
		c.out[id] = nil
		return
	}
	ss := make([]summary, len(ps))
	for i, p := range ps {
		var sh *fleetscore.ControlProfile
		if len(p.Threats) == 0 {
			k := summaryKey{p.ID, p.Title, p.Category, p.Tier, p.UserImpact, p.ImplementationCost, p.ActionType,
				p.ActionURL, p.Service, p.Remediation, p.MaxScore, p.Rank, p.Deprecated}
			if sh = c.shared[k]; sh == nil {
				cp := p
				cp.StateUpdates = nil
				sh = &cp
				c.shared[k] = sh
			}
		} else {
			cp := p
			cp.StateUpdates = nil
			sh = &cp
		}
		var st *[]fleetscore.ControlStateUpdate
		if p.StateUpdates != nil {
			u := p.StateUpdates // not &p.StateUpdates: that would keep all of p
			st = &u
		}
		ss[i] = summary{shared: sh, states: st}
	}
	c.out[id] = ss
}

// summariesEacher is a store that reads the profile summaries one tenant
// at a time (relational.Store.EachProfileSummaries).
type summariesEacher interface {
	EachProfileSummaries(ctx context.Context, fn func(tenantID string, ps []fleetscore.ControlProfile) error) error
}

// readSummaries is src's profile summaries in the compact form, compacted
// as the store reads them when it can (the whole fleet's profiles are
// then never in memory at once).
func readSummaries(ctx context.Context, src Source) (map[string][]summary, error) {
	if e, ok := src.(summariesEacher); ok {
		c := newCompactor(0)
		err := e.EachProfileSummaries(ctx, func(id string, ps []fleetscore.ControlProfile) error {
			c.add(id, ps)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return c.out, nil
	}
	all, err := src.ProfileSummaries(ctx)
	if err != nil {
		return nil, err
	}
	return compactSummaries(all), nil
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
	return compactOf(ctx, src, view.summaries, seen[[]summary], readSummaries)
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
