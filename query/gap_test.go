package query

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func gapControl(title string, gain float64, impact, cost string) Control {
	return Control{Control: "c_" + title, Title: title, Open: true, PointsAvailable: gain, MaxScore: gain,
		UserImpact: impact, ImplementationCost: cost}
}

func TestGapToTarget(t *testing.T) {
	closed := gapControl("Done already", 0, "Low", "Low")
	closed.Open = false
	ignored := gapControl("Ignored one", 9, "Low", "Low")
	ignored.Open = false // Ignored, third party, deprecated or excepted: never open
	for _, tc := range []struct {
		name                 string
		current, max, target float64
		controls             []Control
		wantNil, unreachable bool
		want                 []string // titles, most points first
		need                 float64
	}{
		{name: "5 short: one 6-point action rather than 3 and 3", current: 70, max: 100, target: 75,
			controls: []Control{gapControl("A three", 3, "Low", "Low"), gapControl("B three", 3, "Low", "Low"), gapControl("Six", 6, "High", "High")},
			want:     []string{"Six"}, need: 5},
		{name: "met: no gap", current: 75, max: 100, target: 75, controls: []Control{gapControl("Six", 6, "Low", "Low")}, wantNil: true},
		{name: "above target", current: 90, max: 100, target: 75, wantNil: true},
		{name: "no maximum", current: 0, max: 0, target: 75, wantNil: true},
		{name: "unreachable: every open action falls short", current: 60, max: 100, target: 75,
			controls: []Control{gapControl("Three", 3, "Low", "Low"), closed, ignored}, unreachable: true, need: 15},
		{name: "ties go to the lower user impact", current: 70, max: 100, target: 75,
			controls: []Control{gapControl("A high impact", 8, "High", "Low"), gapControl("B low impact", 5, "Low", "High")},
			want:     []string{"B low impact"}, need: 5},
		{name: "then to the lower cost", current: 70, max: 100, target: 75,
			controls: []Control{gapControl("A costly", 8, "Low", "High"), gapControl("B cheap", 5, "Low", "Moderate")},
			want:     []string{"B cheap"}, need: 5},
		{name: "unknown impact counts after high", current: 70, max: 100, target: 75,
			controls: []Control{gapControl("A unknown", 8, "Unknown", "Low"), gapControl("B high", 5, "High", "Low")},
			want:     []string{"B high"}, need: 5},
		{name: "then to the title", current: 70, max: 100, target: 75,
			controls: []Control{gapControl("Zulu", 9, "Low", "Low"), gapControl("Alpha", 5, "Low", "Low"), gapControl("Mike", 7, "Low", "Low")},
			want:     []string{"Alpha"}, need: 5},
		{name: "two needed: the pair of lowest impact, not the two largest", current: 60, max: 100, target: 70,
			controls: []Control{gapControl("Big", 9, "High", "Low"), gapControl("Bigger", 8, "High", "Low"),
				gapControl("Five a", 5, "Low", "Low"), gapControl("Five b", 5, "Low", "Low"), gapControl("Two", 2, "Low", "Low")},
			want: []string{"Five a", "Five b"}, need: 10},
		{name: "two needed, a title tie: alphabetically first set", current: 60, max: 100, target: 70,
			controls: []Control{gapControl("D", 6, "Low", "Low"), gapControl("C", 6, "Low", "Low"), gapControl("B", 4, "Low", "Low"),
				gapControl("A", 4, "Low", "Low")},
			want: []string{"C", "A"}, need: 10},
		{name: "closed and zero-point actions are never chosen", current: 70, max: 100, target: 75,
			controls: []Control{closed, ignored, gapControl("Five", 5, "High", "High")}, want: []string{"Five"}, need: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := GapToTarget(tc.current, tc.max, tc.target, tc.controls)
			if tc.wantNil {
				if g != nil {
					t.Fatalf("gap %+v; want none", g)
				}
				return
			}
			if g == nil {
				t.Fatal("no gap")
			}
			if diff := g.Need - tc.need; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("need %v; want %v", g.Need, tc.need)
			}
			if g.Reachable == tc.unreachable {
				t.Errorf("reachable %v", g.Reachable)
			}
			var got []string
			for _, c := range g.Actions {
				got = append(got, c.Title)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("actions %q; want %q", got, tc.want)
			}
			if !g.Exact {
				t.Error("the search stopped at its bound")
			}
		})
	}
}

// TestGapMatchesExhaustiveSearch compares the search with trying every
// subset, on random tenants small enough to enumerate.
func TestGapMatchesExhaustiveSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	levels := []string{"Low", "Moderate", "High", "Unknown"}
	for round := range 400 {
		n := 1 + rng.IntN(12)
		var cs []Control
		for i := range n {
			title := fmt.Sprintf("T%02d", rng.IntN(20)) // titles repeat: the control ID breaks the tie
			c := gapControl(title, float64(1+rng.IntN(6)), levels[rng.IntN(4)], levels[rng.IntN(4)])
			c.Control = fmt.Sprintf("c%02d", i)
			cs = append(cs, c)
		}
		maxScore := 100.0
		current := float64(40 + rng.IntN(30))
		target := current + float64(1+rng.IntN(25))
		g := GapToTarget(current, maxScore, target, cs)
		want, ok := exhaustive(cs, target/100*maxScore-current)
		if g == nil {
			t.Fatalf("round %d: no gap", round)
		}
		if g.Reachable != ok {
			t.Fatalf("round %d: reachable %v, exhaustive %v", round, g.Reachable, ok)
		}
		if !ok {
			continue
		}
		if got := key(g.Actions); got != key(want) {
			t.Fatalf("round %d: need %v of %v:\n got %s\nwant %s", round, g.Need, cs, got, key(want))
		}
	}
}

func exhaustive(cs []Control, need float64) ([]Control, bool) {
	var best []Control
	for mask := 1; mask < 1<<len(cs); mask++ {
		var set []Control
		sum := 0.0
		for i, c := range cs {
			if mask&(1<<i) != 0 {
				set = append(set, c)
				sum += c.PointsAvailable
			}
		}
		if sum < need-1e-9 {
			continue
		}
		if best == nil || lessSet(set, best) {
			best = set
		}
	}
	return best, best != nil
}

// lessSet is the rule as Gap.Actions states it, written plainly.
func lessSet(a, b []Control) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	sum := func(s []Control, f func(Control) string) int {
		n := 0
		for _, c := range s {
			n += Level(f(c))
		}
		return n
	}
	impact := func(c Control) string { return c.UserImpact }
	cost := func(c Control) string { return c.ImplementationCost }
	if x, y := sum(a, impact), sum(b, impact); x != y {
		return x < y
	}
	if x, y := sum(a, cost), sum(b, cost); x != y {
		return x < y
	}
	return key(a) < key(b)
}

// key is a set's titles (and IDs) in alphabetical order.
func key(s []Control) string {
	var parts []string
	for _, c := range s {
		parts = append(parts, c.Title+"\x00"+c.Control)
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01")
}
