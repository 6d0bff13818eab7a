package query

import (
	"cmp"
	"slices"
	"strings"
)

// Gap is how far a tenant is from its target, and the smallest set of its
// open actions that would close it.
type Gap struct {
	// Need is the points the tenant lacks: target% × maxScore −
	// currentScore of its latest snapshot.
	Need float64
	// Actions are the chosen open actions, most points first: the fewest
	// whose points reach Need; among sets of that size, the lowest total
	// user impact, then the lowest total implementation cost (Level), then
	// the set whose titles, in alphabetical order, come first. Empty when
	// not Reachable.
	Actions []Control
	Gain    float64 // the points of Actions
	// Reachable is false when even every open action falls short.
	Reachable bool
	Open      int     // the tenant's open actions with points to gain
	Available float64 // their points
	// Exact is false when the tie-break search stopped at its bound
	// (gapSearchNodes) and Actions is the best set found by then: still
	// the fewest actions, and reaching Need.
	Exact bool
}

// gapSearchNodes bounds the tie-break search: far above what a tenant's
// few hundred actions need, as the search prunes on points, impact, cost
// and dominance.
const gapSearchNodes = 1 << 20

// gapEpsilon absorbs the float error of summing points given to hundredths.
const gapEpsilon = 1e-9

// GapToTarget is the gap of a tenant with the given latest score, maximum
// and target percent, choosing among controls those that are open with
// points to gain. It is nil when the tenant meets its target (or has no
// maximum).
func GapToTarget(current, maxScore, target float64, controls []Control) *Gap {
	if maxScore <= 0 {
		return nil
	}
	need := target/100*maxScore - current
	if need <= gapEpsilon {
		return nil
	}
	g := &Gap{Need: need, Actions: []Control{}, Exact: true}
	var cands []Control
	for _, c := range controls {
		if c.Open && c.PointsAvailable > 0 {
			cands = append(cands, c)
			g.Available += c.PointsAvailable
		}
	}
	g.Open = len(cands)
	if g.Available < need-gapEpsilon {
		return g
	}
	g.Reachable = true
	g.Actions, g.Exact = fewestActions(cands, need)
	for _, c := range g.Actions {
		g.Gain += c.PointsAvailable
	}
	return g
}

// gapItem is a candidate of the search.
type gapItem struct {
	c            Control
	gain         float64
	impact, cost int
	class        int // impact and cost together: items of a class differ only in points and title
	rank         int // alphabetical position by title, then control ID
}

// fewestActions picks the set described at Gap.Actions; cands reach need
// together. The size k is that of the greedy choice (the k largest gains
// are the first to reach need, so no smaller set does); the set is found
// by a depth-first search over the items, largest gain first, that keeps
// the best complete set and prunes a branch when its k largest remaining
// gains cannot reach need, when its impact and cost cannot beat the best,
// or when it skipped an item of the same impact and cost with at least as
// many points and an earlier title (swapping that item in is never worse).
func fewestActions(cands []Control, need float64) ([]Control, bool) {
	items := make([]gapItem, len(cands))
	for i, c := range cands {
		items[i] = gapItem{c: c, gain: c.PointsAvailable, impact: Level(c.UserImpact), cost: Level(c.ImplementationCost)}
		items[i].class = items[i].impact*8 + items[i].cost
	}
	byTitle := make([]int, len(items))
	for i := range byTitle {
		byTitle[i] = i
	}
	slices.SortFunc(byTitle, func(a, b int) int {
		if c := strings.Compare(items[a].c.Title, items[b].c.Title); c != 0 {
			return c
		}
		return strings.Compare(items[a].c.Control, items[b].c.Control)
	})
	for r, i := range byTitle {
		items[i].rank = r
	}
	slices.SortFunc(items, func(a, b gapItem) int {
		if c := cmp.Compare(b.gain, a.gain); c != 0 {
			return c
		}
		if c := cmp.Compare(a.impact+a.cost, b.impact+b.cost); c != 0 {
			return c
		}
		return cmp.Compare(a.rank, b.rank)
	})
	n := len(items)
	prefix := make([]float64, n+1)
	for i, it := range items {
		prefix[i+1] = prefix[i] + it.gain
	}
	k := 1
	for k < n && prefix[k] < need-gapEpsilon {
		k++
	}
	// Suffix minima of impact and cost, for the bounds.
	minImpact, minCost := make([]int, n+1), make([]int, n+1)
	minImpact[n], minCost[n] = 5, 5
	for i := n - 1; i >= 0; i-- {
		minImpact[i], minCost[i] = min(minImpact[i+1], items[i].impact), min(minCost[i+1], items[i].cost)
	}

	s := &gapSearch{items: items, prefix: prefix, need: need, k: k, minImpact: minImpact, minCost: minCost}
	// Start from the greedy set: the k largest gains.
	s.best = make([]int, k)
	for i := range k {
		s.best[i] = i
		s.bestImpact += items[i].impact
		s.bestCost += items[i].cost
	}
	s.bestRanks = s.ranks(s.best)
	skipped := map[int]int{} // class -> the lowest rank skipped
	s.search(0, make([]int, 0, k), 0, 0, 0, skipped)

	out := make([]Control, 0, k)
	for _, i := range s.best {
		out = append(out, items[i].c)
	}
	return out, s.nodes < gapSearchNodes
}

type gapSearch struct {
	items                []gapItem
	prefix               []float64
	need                 float64
	k                    int
	minImpact, minCost   []int
	best                 []int
	bestImpact, bestCost int
	bestRanks            []int
	nodes                int
}

func (s *gapSearch) ranks(set []int) []int {
	r := make([]int, len(set))
	for i, j := range set {
		r[i] = s.items[j].rank
	}
	slices.Sort(r)
	return r
}

// better reports whether a complete set beats the best so far.
func (s *gapSearch) better(impact, cost int, set []int) bool {
	if impact != s.bestImpact {
		return impact < s.bestImpact
	}
	if cost != s.bestCost {
		return cost < s.bestCost
	}
	return slices.Compare(s.ranks(set), s.bestRanks) < 0
}

func (s *gapSearch) search(i int, chosen []int, gain float64, impact, cost int, skipped map[int]int) {
	s.nodes++
	if s.nodes >= gapSearchNodes {
		return
	}
	r := s.k - len(chosen)
	if r == 0 {
		if gain >= s.need-gapEpsilon && s.better(impact, cost, chosen) {
			s.best = slices.Clone(chosen)
			s.bestImpact, s.bestCost, s.bestRanks = impact, cost, s.ranks(chosen)
		}
		return
	}
	if i+r > len(s.items) || gain+s.prefix[i+r]-s.prefix[i] < s.need-gapEpsilon {
		return // even the r largest gains left fall short
	}
	if lo := impact + r*s.minImpact[i]; lo > s.bestImpact || lo == s.bestImpact && cost+r*s.minCost[i] > s.bestCost {
		return
	}
	it := s.items[i]
	if low, ok := skipped[it.class]; !ok || it.rank < low {
		s.search(i+1, append(chosen, i), gain+it.gain, impact+it.impact, cost+it.cost, skipped)
	}
	// Skipping it forbids the later items of its class with a later title:
	// they have no more points, so it would always do instead of them.
	next := skipped
	if low, ok := skipped[it.class]; !ok || it.rank < low {
		next = make(map[int]int, len(skipped)+1)
		for c, v := range skipped {
			next[c] = v
		}
		next[it.class] = it.rank
	}
	s.search(i+1, chosen, gain, impact, cost, next)
}
