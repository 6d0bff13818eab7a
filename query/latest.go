package query

import (
	"context"

	"github.com/fleetscore/fleetscore"
)

// latest is every tenant's latest control scores as the fleet model keeps
// them: each (name, category) once in pairs, and per tenant, in the
// store's order, the pair's position and the score. 16 bytes a control
// where a fleetscore.ControlScore takes 40 (at 10,000 tenants, 2.5
// million of them). LatestControls hands them out expanded, new each
// call; the fleet views read this form.
type latest struct {
	pairs []fleetscore.ControlScore // Name and Category; Score unused
	by    map[string][]cscore
}

// cscore is one tenant's latest score of the control pairs[k].
type cscore struct {
	k     int32
	score float64
}

func compactLatest(all map[string][]fleetscore.ControlScore) *latest {
	var pairs positions[fleetscore.ControlScore] // Score 0
	n := 0
	for _, cs := range all {
		n += len(cs)
	}
	l := &latest{by: make(map[string][]cscore, len(all))}
	flat := make([]cscore, 0, n) // one array for every tenant's
	for id, cs := range all {
		if cs == nil {
			l.by[id] = nil
			continue
		}
		start := len(flat)
		for _, c := range cs {
			k := pairs.of(fleetscore.ControlScore{Name: c.Name, Category: c.Category})
			flat = append(flat, cscore{k: k, score: c.Score})
		}
		l.by[id] = flat[start:len(flat):len(flat)]
	}
	l.pairs = pairs.vals
	return l
}

// positions numbers distinct values in the order first seen: the model's
// compact forms keep a value's position (4 bytes) where it recurs, and
// the values once (vals).
type positions[K comparable] struct {
	pos  map[K]int32
	vals []K
}

// of is k's position, k added when new.
func (p *positions[K]) of(k K) int32 {
	if i, ok := p.pos[k]; ok {
		return i
	}
	if p.pos == nil {
		p.pos = map[K]int32{}
	}
	i := int32(len(p.vals))
	p.pos[k] = i
	p.vals = append(p.vals, k)
	return i
}

// name is c's control name.
func (l *latest) name(c cscore) string { return l.pairs[c.k].Name }

// control is c as the store gave it.
func (l *latest) control(c cscore) fleetscore.ControlScore {
	s := l.pairs[c.k]
	s.Score = c.score
	return s
}

// expand is LatestControls' answer: new slices, the caller's to keep.
func (l *latest) expand() map[string][]fleetscore.ControlScore {
	out := make(map[string][]fleetscore.ControlScore, len(l.by))
	for id, cs := range l.by {
		if cs == nil {
			out[id] = nil
			continue
		}
		e := make([]fleetscore.ControlScore, len(cs))
		for i, c := range cs {
			e[i] = l.control(c)
		}
		out[id] = e
	}
	return out
}

// latestOf is the latest controls of src in the compact form: the model's
// own when src is the fleet model or a view of it (or a restricted view
// of either, filtered).
func latestOf(ctx context.Context, src Source) (*latest, error) {
	return compactOf(ctx, src, view.latest, func(r *restricted, l *latest) *latest {
		return &latest{pairs: l.pairs, by: seen(r, l.by)}
	}, func(ctx context.Context, src Source) (*latest, error) {
		all, err := src.LatestControls(ctx)
		if err != nil {
			return nil, err
		}
		return compactLatest(all), nil
	})
}
