// Package relational is the SQL store of fleetscore, one for SQLite and
// PostgreSQL over database/sql (modernc.org/sqlite, pgx's stdlib driver):
// every query is written once, and what the two disagree on is the
// Dialect's (dialect.go), with the migrations of each dialect numbered
// together (migrations/sqlite, migrations/postgres). Packages sqlite and
// postgres open the database and hand it over.
//
// It keeps the history compactly, about 200 bytes per tenant-day where
// Graph's JSON is 25-100 KB:
//
//   - tenants and control names are integers everywhere but in their own
//     tables; a day is an integer (fleetscore.Day.Unix), times are unix
//     nanoseconds;
//   - the totals are one row per tenant per day;
//   - control scores are stored as changes only: a row (tenant, control, day,
//     score) says the control scores that from that day on, NULL that it is
//     absent from that day on. Saving re-encodes the changes from the oldest
//     day of the batch on (Encode), so a batch may carry any days (backfill,
//     re-fetch, a hole in the middle) and saving it twice writes nothing the
//     second time; any day is replayed from the changes (Replay);
//   - a control's category is kept once per tenant and control (that of the
//     newest day saved), and EnabledServices for the newest day only: Scores
//     returns them on that day and leaves them nil on older ones.
//
// A control profile's text (title, remediation, threats...) is kept once per
// distinct content across tenants (profile_contents); a tenant's profile is a
// narrow row of its own (rank, max score, tier, deprecated, removed) that
// names its content, updated in place when it changes (a moved rank alone
// when only the rank moved). Profiles missing from a batch's list are marked
// removed and kept. Every distinct state update is kept, in the order first
// seen.
package relational

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/fleetscore/fleetscore"
)

// State is the controls of one day: control key -> score; a control that is
// absent is not in the map.
type State map[int64]float64

// Change is a row of control_changes: from Day on, Control scores Score, or
// is absent when Valid is false (a NULL score). Prev is what the control
// scored just before Day (PrevValid false: it was absent), kept on the row
// so that a reader of a window of days has each control's score at the
// window's start from its first row in it, without seeking the rows before.
type Change struct {
	Control, Day int64
	Score        float64
	Valid        bool
	Prev         float64
	PrevValid    bool
}

// Apply moves s past c.
func (s State) Apply(c Change) {
	if c.Valid {
		s[c.Control] = c.Score
	} else {
		delete(s, c.Control)
	}
}

// Encode computes the change rows of days (ascending, every stored day from
// the first on) given the state before them, the change rows stored for
// those days (ascending by day), and the batch's states, which replace the
// stored state of their day. The rows come sorted by control, then day: the
// order of the tables' key. Each row's Prev is the control's score before
// it: that of the previous row, or of before for the first.
func Encode(before State, days []int64, stored []Change, batch map[int64]State) []Change {
	old := maps.Clone(before) // the stored state of the day, replayed
	if old == nil {
		old = State{}
	}
	prev := maps.Clone(old) // the state the rows written so far describe
	var out []Change
	i := 0
	for _, d := range days {
		for ; i < len(stored) && stored[i].Day <= d; i++ {
			old.Apply(stored[i])
		}
		target, ok := batch[d]
		if !ok {
			target = old
		}
		for id, v := range target {
			if p, ok := prev[id]; !ok || p != v {
				out = append(out, Change{Control: id, Day: d, Score: v, Valid: true, Prev: p, PrevValid: ok})
				prev[id] = v
			}
		}
		for id, p := range prev {
			if _, ok := target[id]; !ok {
				out = append(out, Change{Control: id, Day: d, Prev: p, PrevValid: true})
				delete(prev, id)
			}
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Control, b.Control), cmp.Compare(a.Day, b.Day))
	})
	return out
}

// BatchDays checks a batch's scores and returns them by day, oldest first,
// one per day (the last given).
func BatchDays(b fleetscore.Batch) ([]fleetscore.Score, error) {
	byDay := make(map[int64]fleetscore.Score, len(b.Scores))
	for _, sc := range b.Scores {
		switch {
		case sc.TenantID != "" && sc.TenantID != b.Tenant.ID:
			return nil, fmt.Errorf("the score of %s belongs to tenant %s", sc.Day, sc.TenantID)
		case sc.Day.IsZero():
			return nil, errors.New("a score without a day")
		case !Finite(sc.CurrentScore) || !Finite(sc.MaxScore):
			return nil, fmt.Errorf("the score of %s is not a number", sc.Day)
		}
		for _, c := range sc.Controls {
			if c.Name == "" {
				return nil, fmt.Errorf("the score of %s has a control without a name", sc.Day)
			}
			if !Finite(c.Score) {
				return nil, fmt.Errorf("the score of %s: control %s is not a number", sc.Day, c.Name)
			}
		}
		for basis, v := range sc.Averages {
			if !Finite(v) {
				return nil, fmt.Errorf("the score of %s: the %s average is not a number", sc.Day, basis)
			}
		}
		byDay[sc.Day.Unix()] = sc
	}
	return slices.SortedFunc(maps.Values(byDay), func(a, b fleetscore.Score) int {
		return cmp.Compare(a.Day.Unix(), b.Day.Unix())
	}), nil
}

// Finite reports whether f is a number a store can keep.
func Finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Control is a control a tenant's scores had: its key, name and category.
type Control struct {
	ID             int64
	Name, Category string
}

// Replay fills the Controls of days (ascending) from the state in effect
// before the first of them and the change rows of their range (ascending by
// day); controls, sorted by name, gives each key its name and category, and
// the controls of every day come out sorted by name.
func Replay(days []fleetscore.Score, before State, changes []Change, controls []Control) {
	// The state as a score per position in controls: a day's controls are
	// then read in name order without a map lookup each (250 controls x 97
	// days on a tenant's page), into one array for all the days.
	pos := make(map[int64]int, len(controls))
	for i, c := range controls {
		pos[c.ID] = i
	}
	score := make([]float64, len(controls))
	has := make([]bool, len(controls))
	n := 0 // how many has
	apply := func(c Change) {
		i, ok := pos[c.Control]
		if !ok {
			return // a control the caller did not ask for
		}
		switch {
		case c.Valid && !has[i]:
			n++
		case !c.Valid && has[i]:
			n--
		}
		score[i], has[i] = c.Score, c.Valid
	}
	for id, v := range before {
		apply(Change{Control: id, Score: v, Valid: true})
	}
	var all []fleetscore.ControlScore
	i := 0
	for k := range days {
		d := days[k].Day.Unix()
		for ; i < len(changes) && changes[i].Day <= d; i++ {
			apply(changes[i])
		}
		if all == nil || len(all)+n > cap(all) {
			// The days left, as many controls each as this one (never
			// nil: a day without controls has an empty list).
			all = make([]fleetscore.ControlScore, 0, n*(len(days)-k)+len(controls))
		}
		start := len(all)
		for j, c := range controls {
			if has[j] {
				all = append(all, fleetscore.ControlScore{Name: c.Name, Category: c.Category, Score: score[j]})
			}
		}
		days[k].Controls = all[start:len(all):len(all)]
	}
}
