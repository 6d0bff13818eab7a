package query

// The views the dashboard's pages need that the API does not: the
// overview's filters and sort orders, a tenant's points per category and
// each control's history, the actions page's groups and filter choices, and
// the collection log grouped into runs. They are built from the same reads
// and definitions as the rest of the package, so a page and the API agree.

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/ledger"
)

// Overview filters, as the overview's ?filter= names them.
const (
	FilterBelow   = "below"   // scored and below target
	FilterFalling = "falling" // lost ground over 7 days
	FilterFailing = "failing" // the last collection failed
)

// Below reports whether the tenant's latest percent is under its target. A
// tenant without a snapshot is not below: its score is unknown.
func (r OverviewRow) Below() bool { return r.Percent != nil && !r.MeetsTarget }

// Failing reports whether the tenant's last collection failed.
func (r OverviewRow) Failing() bool {
	return r.LastCollection != nil && r.LastCollection.Status == fleetscore.StatusError
}

// Matches reports whether the row passes an overview filter ("" passes all;
// an unknown filter passes all).
func (r OverviewRow) Matches(filter string) bool {
	switch filter {
	case FilterBelow:
		return r.Below()
	case FilterFalling:
		return r.Falling
	case FilterFailing:
		return r.Failing()
	}
	return true
}

// OverviewCounts is how many tenants each overview filter keeps.
type OverviewCounts struct {
	All, Below, Falling, Failing int
}

// Counts counts the overview's rows by filter.
func (o *Overview) Counts() OverviewCounts {
	c := OverviewCounts{All: len(o.Rows)}
	for _, r := range o.Rows {
		if r.Below() {
			c.Below++
		}
		if r.Falling {
			c.Falling++
		}
		if r.Failing() {
			c.Failing++
		}
	}
	return c
}

// WithSnapshot is how many tenants have a snapshot, stale or not: the
// tenants the actions ranking reads.
func (o *Overview) WithSnapshot() int { return o.Scored + o.Stale }

// FleetChange is the change of the fleet's average percent and of the
// share of tenants meeting their target, from n days before the trend's
// last day to that day; nil when the trend lacks either day.
func (o *Overview) FleetChange(n int) (average, share *float64) {
	if len(o.Trend) == 0 {
		return nil, nil
	}
	last := o.Trend[len(o.Trend)-1]
	day, err := fleetscore.ParseDay(last.Date)
	if err != nil {
		return nil, nil
	}
	want := day.AddDays(-n).String()
	for _, d := range o.Trend {
		if d.Date == want {
			a, s := last.AveragePercent-d.AveragePercent, last.ShareMeetingTarget-d.ShareMeetingTarget
			return &a, &s
		}
	}
	return nil, nil
}

// OverviewSort is a sort order of the overview's rows.
type OverviewSort struct {
	Key  string // one of OverviewSortKeys
	Desc bool
}

// OverviewSortKeys are the overview's sort keys, as ?sort= names them.
var OverviewSortKeys = []string{"name", "percent", "target", "change7d", "change30d", "points", "collected"}

// SortOverview orders rows by the key (unknown keys sort by name); rows
// without a value for the key come last in either direction, and ties go by
// name.
func SortOverview(rows []OverviewRow, s OverviewSort) {
	val := func(r OverviewRow) *float64 {
		switch s.Key {
		case "percent":
			return r.Percent
		case "target":
			return &r.TargetPercent
		case "change7d":
			return r.Change7d
		case "change30d":
			return r.Change30d
		case "points":
			return r.CurrentScore
		case "collected":
			if r.LastCollection == nil {
				return nil
			}
			f := float64(r.LastCollection.At.UnixNano())
			return &f
		}
		return nil
	}
	byName := func(a, b OverviewRow) int {
		if c := cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return cmp.Compare(a.TenantID, b.TenantID)
	}
	slices.SortStableFunc(rows, func(a, b OverviewRow) int {
		if s.Key == "name" || !slices.Contains(OverviewSortKeys, s.Key) {
			if s.Desc {
				return byName(b, a)
			}
			return byName(a, b)
		}
		va, vb := val(a), val(b)
		switch {
		case va == nil && vb == nil:
			return byName(a, b)
		case va == nil:
			return 1
		case vb == nil:
			return -1
		}
		c := cmp.Compare(*va, *vb)
		if s.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return byName(a, b)
	})
}

// TenantDetail is the tenant page: the tenant's row, its days in a range
// with Microsoft's comparative averages, its points per category, and its
// controls with their history over the same days.
type TenantDetail struct {
	Tenant
	From, To   fleetscore.Day // the days shown; zero when the tenant has none
	Days       []DayScore     // oldest first
	Categories []CategoryPoints
	Controls   []ControlHistory // as TenantControls orders them: most points available first
	// Changes is the change ledger of the days shown, newest first, the
	// first one against the nearest stored day before it (TenantChanges).
	Changes []ledger.Change
	// Gap is the points to the target and the fewest open actions that
	// reach it, from the latest snapshot; nil when the target is met.
	Gap *Gap
}

// CategoryPoints is one control category of a tenant.
type CategoryPoints struct {
	Category string
	// Points is the sum of the category's control scores on the latest
	// day; MaxScore the sum of those controls' maxScore (from their
	// profiles).
	Points, MaxScore float64
	Open             int     // open actions
	PointsAvailable  float64 // their points still to gain
	// Daily is the category's points on each of TenantDetail.Days; NaN on
	// a day whose controls were not stored.
	Daily []float64
}

// Percent is the share of the category's points achieved.
func (c CategoryPoints) Percent() float64 { return fleetscore.Percent(c.Points, c.MaxScore) }

// Change is the points on the latest day minus those on the first day
// shown; ok is false with fewer than two days.
func (c CategoryPoints) Change() (float64, bool) {
	first, last := math.NaN(), math.NaN()
	for _, v := range c.Daily {
		if math.IsNaN(v) {
			continue
		}
		if math.IsNaN(first) {
			first = v
		}
		last = v
	}
	if math.IsNaN(first) || len(c.Daily) < 2 {
		return 0, false
	}
	return last - first, true
}

// ControlHistory is a control of the tenant with its score over the days
// shown.
type ControlHistory struct {
	Control
	Daily   []float64     // the score on each of TenantDetail.Days; NaN where the control was absent
	Changes []ScoreChange // the days its score changed, oldest first
}

// ScoreChange is a day a control's score changed. Absent (the control was
// not part of the score) before or after is HadFrom / HasTo false.
type ScoreChange struct {
	Date           string
	From, To       float64
	HadFrom, HasTo bool
}

// TenantDetailView builds the tenant page for the days from..to (zero days
// leave that end open). An unknown tenant wraps fleetscore.ErrNotFound.
func TenantDetailView(ctx context.Context, src Source, tenantID string, from, to fleetscore.Day) (*TenantDetail, error) {
	st, err := tenantStatus(ctx, src, tenantID)
	if err != nil {
		return nil, err
	}
	d := &TenantDetail{Tenant: TenantRow(st), Days: []DayScore{}, Controls: []ControlHistory{}}
	if st.Latest == nil {
		return d, nil
	}
	// The changes over 7 and 30 days need the days before the latest one,
	// whatever the range shown.
	// And the day before from, for its change: a week before nearly
	// always holds one.
	load := st.Latest.Day.AddDays(-37)
	if !from.IsZero() && from.AddDays(-7).Before(load) {
		load = from.AddDays(-7)
	} else if from.IsZero() {
		load = fleetscore.Day{}
	}
	// A range that ends a little before the latest day (a report's month)
	// reads on to it: the latest day's controls come with the days shown,
	// where a read of that day alone seeks every control's state first.
	read := to
	if ahead := st.Latest.Day.Sub(to); !to.IsZero() && ahead > 0 && ahead <= readAheadDays {
		read = st.Latest.Day
	}
	scores, err := src.Scores(ctx, st.ID, load, read)
	if err != nil {
		return nil, err
	}
	var latestDay *fleetscore.Score // st.Latest's day, with its controls, when read
	if n := len(scores); n > 0 && scores[n-1].Day == st.Latest.Day {
		latestDay = &scores[n-1]
	}
	if read != to {
		i, _ := slices.BinarySearchFunc(scores, to.AddDays(1), func(s fleetscore.Score, d fleetscore.Day) int {
			return cmp.Compare(s.Day.Unix(), d.Unix())
		})
		scores = scores[:i:i]
	}
	if len(scores) > 0 {
		latest := scores[len(scores)-1]
		if latest.Day == st.Latest.Day {
			d.Change7d = change(scores, latest, 7)
			d.Change30d = change(scores, latest, 30)
		}
	}
	shown := scores
	if !from.IsZero() {
		i, _ := slices.BinarySearchFunc(scores, from, func(s fleetscore.Score, d fleetscore.Day) int {
			return cmp.Compare(s.Day.Unix(), d.Unix())
		})
		shown = scores[i:]
	}
	if len(shown) == 0 {
		return d, nil
	}
	d.From, d.To = shown[0].Day, shown[len(shown)-1].Day
	for _, s := range shown {
		d.Days = append(d.Days, dayScore(s))
	}

	profiles, err := tenantProfiles(ctx, src, st.ID)
	if err != nil {
		return nil, err
	}
	controls, err := latestControls(ctx, src, st, latestDay, profiles)
	if err != nil {
		return nil, err
	}
	withPrev, err := withPrevious(ctx, src, st.ID, scores, from)
	if err != nil {
		return nil, err
	}
	d.Changes = ledger.Tenant(withPrev, profiles)
	d.Gap = GapToTarget(st.Latest.CurrentScore, st.Latest.MaxScore, st.TargetPercent, controls)
	index := make(map[string]int, len(controls))
	for i, c := range controls {
		index[c.Control] = i
		h := ControlHistory{Control: c, Daily: make([]float64, len(shown))}
		for j := range h.Daily {
			h.Daily[j] = math.NaN()
		}
		d.Controls = append(d.Controls, h)
	}
	maxOf := make(map[string]float64, len(controls))
	for _, c := range controls {
		maxOf[c.Control] = c.MaxScore
	}

	cats := map[string]*CategoryPoints{}
	category := func(name string) *CategoryPoints {
		c := cats[name]
		if c == nil {
			c = &CategoryPoints{Category: name, Daily: make([]float64, len(shown))}
			for j := range c.Daily {
				c.Daily[j] = math.NaN()
			}
			cats[name] = c
		}
		return c
	}
	for _, name := range fleetscore.Categories {
		category(name)
	}
	// Where each control of a day goes: its category and its history (-1:
	// none). A day's controls are most often the day before's, in the
	// same order: their places are the day before's, without a lookup.
	type place struct {
		cat  *CategoryPoints
		hist int
	}
	var prev []fleetscore.ControlScore
	var prevPlaces, places []place
	for j, s := range shown {
		if len(s.Controls) == 0 {
			continue
		}
		for _, name := range fleetscore.Categories {
			cats[name].Daily[j] = 0
		}
		places = places[:0]
		for k, c := range s.Controls {
			var pl place
			if k < len(prev) && prev[k].Name == c.Name && prev[k].Category == c.Category {
				pl = prevPlaces[k]
			} else {
				pl.cat, pl.hist = category(c.Category), -1
				if i, ok := index[c.Name]; ok {
					pl.hist = i
				}
			}
			places = append(places, pl)
			if math.IsNaN(pl.cat.Daily[j]) {
				pl.cat.Daily[j] = 0
			}
			pl.cat.Daily[j] += c.Score
			if pl.hist >= 0 {
				d.Controls[pl.hist].Daily[j] = c.Score
			}
		}
		prev, prevPlaces, places = s.Controls, places, prevPlaces
	}
	if last := shown[len(shown)-1]; last.Day == st.Latest.Day {
		for _, c := range last.Controls {
			cp := category(c.Category)
			cp.Points += c.Score
			cp.MaxScore += maxOf[c.Name]
		}
	}
	for _, c := range controls {
		if c.Open {
			cp := category(c.Category)
			cp.Open++
			cp.PointsAvailable += c.PointsAvailable
		}
	}
	for i := range d.Controls {
		d.Controls[i].Changes = changesOf(d.Days, d.Controls[i].Daily)
	}
	for _, name := range fleetscore.Categories {
		d.Categories = append(d.Categories, *cats[name])
		delete(cats, name)
	}
	var other []string
	for name := range cats {
		other = append(other, name)
	}
	slices.Sort(other)
	for _, name := range other {
		d.Categories = append(d.Categories, *cats[name])
	}
	return d, nil
}

// readAheadDays is how far past the end of its range TenantDetailView
// reads on to the latest day: a month's report, and a little more.
const readAheadDays = 45

// latestControls are TenantControls of the tenant of st, from its latest
// day when the caller read it (latest; nil: read here) and the profiles.
func latestControls(ctx context.Context, src Source, st fleetscore.TenantStatus, latest *fleetscore.Score, profiles []fleetscore.ControlProfile) ([]Control, error) {
	if latest == nil {
		scores, err := src.Scores(ctx, st.ID, st.Latest.Day, st.Latest.Day)
		if err != nil {
			return nil, err
		}
		if len(scores) == 0 {
			return []Control{}, nil
		}
		latest = &scores[0]
	}
	return controlsOf(*latest, profiles), nil
}

// changesOf lists the days a daily series changed value or presence.
func changesOf(days []DayScore, daily []float64) []ScoreChange {
	var out []ScoreChange
	for j := 1; j < len(daily); j++ {
		a, b := daily[j-1], daily[j]
		if a == b || math.IsNaN(a) && math.IsNaN(b) {
			continue
		}
		c := ScoreChange{Date: days[j].Date, HadFrom: !math.IsNaN(a), HasTo: !math.IsNaN(b)}
		if c.HadFrom {
			c.From = a
		}
		if c.HasTo {
			c.To = b
		}
		out = append(out, c)
	}
	return out
}

// ActionsView is the actions page: the ranking split into the actions open
// somewhere, those set aside everywhere they are scored (Ignored,
// ThirdParty, deprecated, excepted in the register), and a count of those
// done everywhere.
type ActionsView struct {
	Filter   ActionFilter
	Scored   int      // tenants with a snapshot: the N of "open at n of N"
	Open     []Action // open at one tenant or more, ranked as Actions ranks them
	SetAside []Action // open nowhere, but Ignored, ThirdParty, deprecated or excepted somewhere
	Done     int      // scored somewhere, open nowhere, set aside nowhere
	// Names are the tenants' names by ID.
	Names map[string]string
	// Choices are the values each filter can take, from the unfiltered
	// ranking, sorted.
	Categories, Tiers, UserImpacts, ImplementationCosts []string
}

// ActionsPage builds the actions page for a filter.
func ActionsPage(ctx context.Context, src Source, f ActionFilter) (*ActionsView, error) {
	statuses, err := src.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	v := &ActionsView{Filter: f, Names: make(map[string]string, len(statuses)), Open: []Action{}, SetAside: []Action{}}
	for _, st := range statuses {
		v.Names[st.ID] = st.Name
		if st.Latest != nil && st.Latest.MaxScore > 0 {
			v.Scored++
		}
	}
	all, err := Actions(ctx, src, ActionFilter{Tenant: f.Tenant})
	if err != nil {
		return nil, err
	}
	choices := func(get func(Action) string) []string {
		var out []string
		for _, a := range all {
			if s := get(a); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return out
	}
	v.Categories = choices(func(a Action) string { return a.Category })
	v.Tiers = choices(func(a Action) string { return a.Tier })
	v.UserImpacts = choices(func(a Action) string { return a.UserImpact })
	v.ImplementationCosts = choices(func(a Action) string { return a.ImplementationCost })
	ranked := all
	if f != (ActionFilter{Tenant: f.Tenant}) {
		if ranked, err = Actions(ctx, src, f); err != nil {
			return nil, err
		}
	}
	for _, a := range ranked {
		switch {
		case a.OpenTenants > 0:
			v.Open = append(v.Open, a)
		case a.IgnoredTenants+a.ThirdPartyTenants+a.DeprecatedTenants+a.ExceptedTenants > 0:
			v.SetAside = append(v.SetAside, a)
		default:
			v.Done++
		}
	}
	return v, nil
}

// CollectionRun is one run of the scheduler as the collection log shows it:
// the tenants' collections that overlapped in time.
type CollectionRun struct {
	Started, Finished time.Time // Finished is zero while a collection of the run is running
	Seconds           float64   // from the first start to the last finish
	Tenants           int
	OK, Failed        int
	Running           int
	Rows              []CollectionRow // failed first, then by tenant name
}

// runGap is how long after every earlier collection finished one may start
// and still belong to the same run: a run starts the next tenant as soon as
// a slot frees (milliseconds), while runs are minutes or hours apart.
const runGap = time.Second

// CollectionRuns is the collection log, newest run first, grouped into
// runs; at most limit collections are read (the oldest run may be cut).
func CollectionRuns(ctx context.Context, src Source, tenantID string, limit int) ([]CollectionRun, error) {
	rows, err := Collections(ctx, src, tenantID, limit)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(rows, func(a, b CollectionRow) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var runs []CollectionRun
	var end time.Time // the latest finish (or start) of the current run
	for _, r := range rows {
		last := r.FinishedAt
		if last.IsZero() {
			last = r.StartedAt
		}
		if len(runs) == 0 || r.StartedAt.After(end.Add(runGap)) {
			runs = append(runs, CollectionRun{Started: r.StartedAt})
			end = time.Time{}
		}
		run := &runs[len(runs)-1]
		run.Rows = append(run.Rows, r)
		if last.After(end) {
			end = last
		}
	}
	for i := range runs {
		run := &runs[i]
		run.Tenants = len(run.Rows)
		for _, r := range run.Rows {
			switch r.Status {
			case fleetscore.StatusOK:
				run.OK++
			case fleetscore.StatusError:
				run.Failed++
			case fleetscore.StatusRunning:
				run.Running++
			}
			if !r.FinishedAt.IsZero() && r.FinishedAt.After(run.Finished) {
				run.Finished = r.FinishedAt
			}
		}
		if run.Running > 0 {
			run.Finished = time.Time{}
		} else if !run.Finished.IsZero() {
			run.Seconds = run.Finished.Sub(run.Started).Seconds()
		}
		slices.SortStableFunc(run.Rows, func(a, b CollectionRow) int {
			if fa, fb := a.Status == fleetscore.StatusError, b.Status == fleetscore.StatusError; fa != fb {
				if fa {
					return -1
				}
				return 1
			}
			return cmp.Compare(strings.ToLower(a.Tenant), strings.ToLower(b.Tenant))
		})
	}
	slices.Reverse(runs)
	return runs, nil
}
