package emulator

import (
	"slices"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Script makes a tenant's history scripted, for tests that assert exact
// day-to-day changes: from Base on, every control keeps the score and state
// it has on Base (no re-evaluations, no random state updates, no stream
// controls, no random missing days) except for what the script says. Days
// before Base are as without a script.
type Script struct {
	Base   fleetscore.Day
	Holes  []fleetscore.Day // days missing from the history
	Points []ScriptPoints   // a control scores this from a day on
	Added  []ScriptControl  // controls Microsoft adds on a day
	States []ScriptState    // controlStateUpdates entries added to a control
}

// ScriptPoints sets a control's score (in points) from a day on.
type ScriptPoints struct {
	Control string
	From    fleetscore.Day
	Points  float64
}

// ScriptControl is a control that appears in the scores and the profiles
// from a day on, with the given points.
type ScriptControl struct {
	ID, Title, Category string
	MaxScore            int
	From                fleetscore.Day
	Points              float64
}

// ScriptState is a state update of a control at a moment; it takes effect
// on the scores as the emulator's own do (ThirdParty: full points, Ignored:
// none). It is served with the emulator's UpdatedBy and comment for that
// state.
type ScriptState struct {
	Control string
	At      time.Time
	State   string
}

// script is a Script in the model's terms.
type script struct {
	base   int64
	holes  map[int64]bool
	points map[string][]ScriptPoints // by control, by From
	added  []addedControl
	states map[string][]stateEvent // by control, oldest first
}

type addedControl struct {
	tc     tcontrol
	from   int64
	points float64
}

// SetScript scripts a tenant's history (see Script); it keeps the tenant's
// faults and counters. An unknown tenant is ignored.
func (e *Emulator) SetScript(tenantID string, s Script) {
	e.mu.Lock()
	defer e.mu.Unlock()
	entry := e.tenants[strings.ToLower(tenantID)]
	if entry == nil {
		return
	}
	m := *entry.def.model // the model is immutable: a scripted copy
	sc := &script{base: s.Base.Unix(), holes: map[int64]bool{}, points: map[string][]ScriptPoints{}, states: map[string][]stateEvent{}}
	for _, d := range s.Holes {
		sc.holes[d.Unix()] = true
	}
	for _, p := range s.Points {
		sc.points[p.Control] = append(sc.points[p.Control], p)
	}
	for _, ps := range sc.points {
		slices.SortStableFunc(ps, func(a, b ScriptPoints) int { return int(a.From.Unix() - b.From.Unix()) })
	}
	for i, a := range s.Added {
		c := &control{id: a.ID, title: a.Title, category: a.Category, service: "MDO", maxScore: a.MaxScore, kind: kindBinary, weight: 1}
		finishControl(c, h(m.key, saltStreamAttr, uint64(1000+i)))
		c.id, c.title, c.category, c.maxScore = a.ID, a.Title, a.Category, a.MaxScore
		sc.added = append(sc.added, addedControl{tc: m.bind(c), from: a.From.Unix(), points: a.Points})
	}
	for _, st := range s.States {
		at := st.At.UTC()
		d := fleetscore.DayOf(at)
		sc.states[st.Control] = append(sc.states[st.Control], stateEvent{day: d.Unix(), secs: int(at.Sub(d.Time()) / time.Second), state: st.State})
	}
	m.script = sc
	m.streamShare = 0
	def := *entry.def
	def.model = &m
	entry.def = &def
}

// scripted reports whether day d follows the tenant's script.
func (t *tenantModel) scripted(d int64) bool { return t.script != nil && d >= t.script.base }

// statesAt is states, frozen at the script's base and with its updates.
// The states written through PATCH are merged in by time.
func (t *tenantModel) statesAt(tc *tcontrol, d int64, out []stateEvent) []stateEvent {
	if !t.scripted(d) {
		out = t.states(tc, d, out)
	} else {
		out = t.states(tc, t.script.base, out)
		for _, st := range t.script.states[tc.c.id] {
			if st.day <= d {
				out = append(out, st)
			}
		}
	}
	return t.writes.merge(tc.c.id, d, out)
}

// scriptedPoints is the score the script gives a control on day d, if any.
func (t *tenantModel) scriptedPoints(id string, d int64) (float64, bool) {
	var (
		v  float64
		ok bool
	)
	for _, p := range t.script.points[id] {
		if p.From.Unix() <= d {
			v, ok = p.Points, true
		}
	}
	return v, ok
}
