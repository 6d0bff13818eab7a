package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Source is what the views read: the store and its fleet-wide reads.
type Source interface {
	fleetscore.Store
	fleetscore.FleetReader
}

// SparkDays is how many days the overview's sparklines and fleet trend show.
const SparkDays = 90

// CarryForwardDays is how long a tenant's last snapshot stands in for the
// days after it that have none. The fleet trend counts a tenant on a day
// without a snapshot at its latest earlier one, if that is at most this
// many days older, so that one missed collection does not move the fleet's
// average by the tenant's distance from it. A tenant whose latest snapshot
// is older than this before today is stale: it is flagged, and the
// overview's fleet figures leave it out, as the trend's last day does.
const CarryForwardDays = 3

// OverviewRow is one tenant on the overview: the API's tenant object plus
// its sparkline.
type OverviewRow struct {
	Tenant
	// Spark is the percent of each of the last SparkDays days, oldest
	// first; NaN where the tenant has no snapshot.
	Spark   []float64 `json:"-"`
	Falling bool      `json:"-"` // lost ground over 7 days
}

// IsStale reports whether the tenant's latest snapshot is more than
// CarryForwardDays before today: the fleet figures no longer count it. A
// tenant without a snapshot is not stale (it was never scored).
func IsStale(st fleetscore.TenantStatus, today fleetscore.Day) bool {
	return st.Latest != nil && today.Sub(st.Latest.Day) > CarryForwardDays
}

// FleetDay is the fleet on one day: GET /api/v1/fleet.
type FleetDay struct {
	Date string `json:"date"`
	// AveragePercent is the mean of the percents of the Tenants counted
	// that day.
	AveragePercent float64 `json:"average_percent"`
	// Tenants is how many tenants are counted that day, including
	// snapshots carried forward up to CarryForwardDays (3) days.
	Tenants int `json:"tenants"`
	// TenantsMeetingTarget is how many of those Tenants meet their target.
	TenantsMeetingTarget int     `json:"tenants_meeting_target"`
	ShareMeetingTarget   float64 `json:"-"` // percent of Tenants meeting their target
}

// Overview is the home page: every tenant and the fleet.
type Overview struct {
	Today   fleetscore.Day
	Rows    []OverviewRow
	Tenants int // all tenants
	// Scored is how many tenants have a snapshot that is not stale: the
	// base of Meeting and AveragePercent, and the Tenants of the trend's
	// day today.
	Scored         int
	Stale          int     // tenants whose latest snapshot is stale, left out of Scored
	Meeting        int     // scored tenants meeting their target
	AveragePercent float64 // mean of the scored tenants' latest percents
	Trend          []FleetDay
	byID           map[string]int // a row's position in Rows by its TenantID (the first)
}

// daily groups a Daily result by tenant.
func daily(scores []fleetscore.Score) map[string][]fleetscore.Score {
	out := make(map[string][]fleetscore.Score)
	for i := 0; i < len(scores); {
		j := i
		for j < len(scores) && scores[j].TenantID == scores[i].TenantID {
			j++
		}
		out[scores[i].TenantID] = scores[i:j:j]
		i = j
	}
	return out
}

// percentOn is the percent of the tenant's snapshot on day d or, when that
// day is missing, the nearest earlier one within a week; ok is false when
// there is none.
func percentOn(days []fleetscore.Score, d fleetscore.Day) (float64, bool) {
	i, found := slices.BinarySearchFunc(days, d, func(s fleetscore.Score, d fleetscore.Day) int {
		return cmp.Compare(s.Day.Unix(), d.Unix())
	})
	if found {
		return days[i].Percent(), true
	}
	if i > 0 && d.Sub(days[i-1].Day) <= 7 {
		return days[i-1].Percent(), true
	}
	return 0, false
}

// change is the percent now minus the percent n days before the snapshot.
func change(days []fleetscore.Score, latest fleetscore.Score, n int) *float64 {
	before, ok := percentOn(days, latest.Day.AddDays(-n))
	if !ok {
		return nil
	}
	c := latest.Percent() - before
	return &c
}

// Tenants lists every tenant with its latest snapshot and its 7- and 30-day
// change, ordered by name, as of now: `fleetscore tenants`.
func Tenants(ctx context.Context, src Source) ([]Tenant, error) {
	return TenantsAsOf(ctx, src, time.Now())
}

// TenantsAsOf is Tenants as of now (which decides which tenants are
// stale): GET /api/v1/tenants.
func TenantsAsOf(ctx context.Context, src Source, now time.Time) ([]Tenant, error) {
	o, err := TenantOverview(ctx, src, now)
	if err != nil {
		return nil, err
	}
	out := make([]Tenant, len(o.Rows))
	for i, r := range o.Rows {
		out[i] = r.Tenant
	}
	return out, nil
}

// TenantOverview builds the overview as of now. Over the fleet model it
// is built once per version and day; the caller gets its own copy of Rows.
func TenantOverview(ctx context.Context, src Source, now time.Time) (*Overview, error) {
	o, err := overviewOf(ctx, src, now)
	if err != nil {
		return nil, err
	}
	c := *o
	c.Rows = slices.Clone(o.Rows)
	return &c, nil
}

// overviewOf is the overview as of now, shared over the fleet model: the
// caller may not change it.
func overviewOf(ctx context.Context, src Source, now time.Time) (*Overview, error) {
	today := fleetscore.DayOf(now)
	return viewMemo(ctx, src, "overview/"+today.String(), func(ctx context.Context, src Source) (*Overview, error) {
		return tenantOverview(ctx, src, now)
	})
}

func tenantOverview(ctx context.Context, src Source, now time.Time) (*Overview, error) {
	statuses, err := src.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	today := fleetscore.DayOf(now)
	// 30 days of change before a latest day that may be a little old.
	from := today.AddDays(-max(SparkDays, 45) - 7)
	all, err := src.Daily(ctx, from, fleetscore.Day{})
	if err != nil {
		return nil, err
	}
	byTenant := daily(all)
	o := &Overview{Today: today, Tenants: len(statuses), byID: make(map[string]int, len(statuses))}
	for _, st := range statuses {
		if _, dup := o.byID[st.ID]; !dup {
			o.byID[st.ID] = len(o.Rows)
		}
		row := OverviewRow{Tenant: TenantRow(st)}
		row.Stale = IsStale(st, today)
		if row.Stale {
			o.Stale++
		}
		days := byTenant[st.ID]
		if st.Latest != nil {
			row.Change7d = change(days, *st.Latest, 7)
			row.Change30d = change(days, *st.Latest, 30)
			row.Falling = row.Change7d != nil && *row.Change7d < -0.05
		}
		row.Spark = make([]float64, SparkDays)
		first := today.AddDays(-SparkDays + 1)
		for i := range row.Spark {
			row.Spark[i] = math.NaN()
		}
		for _, s := range days {
			if i := s.Day.Sub(first); i >= 0 && i < SparkDays {
				row.Spark[i] = s.Percent()
			}
		}
		o.Rows = append(o.Rows, row)
	}
	rows := make([]Tenant, len(o.Rows))
	for i, r := range o.Rows {
		rows[i] = r.Tenant
	}
	o.Scored, o.Meeting, o.AveragePercent = Summarize(rows)
	o.Trend = fleetTrend(statuses, byTenant, today.AddDays(-SparkDays+1), today)
	return o, nil
}

// fleetTrend is the fleet per day from..to: the mean of the percents of
// the tenants counted that day, and how many of them meet their target. A
// tenant counts on a day with its snapshot of that day or, without one, its
// latest earlier snapshot if at most CarryForwardDays older; before its
// first snapshot, and once that gap is longer, it does not count. Days
// that count no tenant are left out.
func fleetTrend(statuses []fleetscore.TenantStatus, byTenant map[string][]fleetscore.Score, from, to fleetscore.Day) []FleetDay {
	n := to.Sub(from) + 1
	if n <= 0 {
		return nil
	}
	sums := make([]float64, n)
	out := make([]FleetDay, n)
	// Tenants in a fixed order, so that the float sums, and the figures a
	// page and the API show, are the same on every call.
	for _, st := range statuses {
		days := byTenant[st.ID]
		for k, s := range days {
			// s stands for its own day and the days after it, up to the
			// next snapshot or CarryForwardDays, whichever comes first.
			last := s.Day.Sub(from) + CarryForwardDays
			if k+1 < len(days) {
				last = min(last, days[k+1].Day.Sub(from)-1)
			}
			p := s.Percent()
			meets := p >= st.TargetPercent
			for i := max(s.Day.Sub(from), 0); i <= min(last, n-1); i++ {
				sums[i] += p
				out[i].Tenants++
				if meets {
					out[i].TenantsMeetingTarget++
				}
			}
		}
	}
	kept := out[:0]
	for i := range out {
		if out[i].Tenants == 0 {
			continue
		}
		d := out[i]
		d.Date = from.AddDays(i).String()
		d.AveragePercent = sums[i] / float64(d.Tenants)
		d.ShareMeetingTarget = float64(d.TenantsMeetingTarget) / float64(d.Tenants) * 100
		kept = append(kept, d)
	}
	return kept
}

// Fleet is GET /api/v1/fleet: the fleet per day from..to, counted as the
// overview's trend counts it. A zero from starts at the first snapshot; a
// zero to ends at the last one (with to set, snapshots carry forward up to
// it). The snapshots of the CarryForwardDays before from are read too: they
// stand in for from's first days.
func Fleet(ctx context.Context, src Source, from, to fleetscore.Day) ([]FleetDay, error) {
	days, err := viewMemo(ctx, src, "fleet/"+from.String()+"/"+to.String(), func(ctx context.Context, src Source) ([]FleetDay, error) {
		return fleet(ctx, src, from, to)
	})
	return slices.Clone(days), err
}

func fleet(ctx context.Context, src Source, from, to fleetscore.Day) ([]FleetDay, error) {
	statuses, err := sharedTenants(ctx, src)
	if err != nil {
		return nil, err
	}
	if to.IsZero() {
		if out, ok, err := fleetByChunks(ctx, src, statuses, from); ok || err != nil {
			return out, err
		}
	}
	read := from
	if !from.IsZero() {
		read = from.AddDays(-CarryForwardDays)
	}
	all, err := src.Daily(ctx, read, to)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return []FleetDay{}, nil
	}
	lo, hi := all[0].Day, all[0].Day
	for _, s := range all {
		if s.Day.Before(lo) {
			lo = s.Day
		}
		if s.Day.After(hi) {
			hi = s.Day
		}
	}
	if lo.Before(from) {
		lo = from
	}
	if !to.IsZero() {
		hi = hi.AddDays(CarryForwardDays)
		if hi.After(to) {
			hi = to
		}
	}
	if out := fleetTrend(statuses, daily(all), lo, hi); out != nil {
		return out, nil
	}
	return []FleetDay{}, nil // only snapshots before from
}

// fleetChunkDays is how many days of the fleet fleetByChunks reads at once.
const fleetChunkDays = 31

// firstDayer is a store that says its oldest stored day cheaply.
type firstDayer interface {
	FirstDay(ctx context.Context) (fleetscore.Day, bool, error)
}

// fleetByChunks is fleet from..(the newest stored day) read fleetChunkDays
// days at a time, so that the whole history is never in memory at once; ok
// is false when src cannot say its first stored day (then fleet reads it
// all). A day's figures depend only on the snapshots of the
// CarryForwardDays before it and its own (the one that counts that day and
// the next one, which ends its carrying forward), so each chunk of days is
// counted from the snapshots of the chunk and of the days just before it:
// the same sums, added in the same order of tenants, as over every day at
// once. Over the fleet model the chunks are read from the store, never kept.
func fleetByChunks(ctx context.Context, src Source, statuses []fleetscore.TenantStatus, from fleetscore.Day) ([]FleetDay, bool, error) {
	st := src
	if v, ok := src.(view); ok {
		st = v.Model.Source
	}
	fd, ok := st.(firstDayer)
	if !ok {
		return nil, false, nil
	}
	first, stored, err := fd.FirstDay(ctx)
	if err != nil {
		return nil, true, err
	}
	out := []FleetDay{}
	if !stored {
		return out, true, nil
	}
	lo, hi := first, newestOf(statuses)
	if lo.Before(from) {
		lo = from
	}
	for c := lo; !c.After(hi); c = c.AddDays(fleetChunkDays) {
		end := c.AddDays(fleetChunkDays - 1)
		if end.After(hi) {
			end = hi
		}
		all, err := st.Daily(ctx, c.AddDays(-CarryForwardDays), end)
		if err != nil {
			return nil, true, err
		}
		out = append(out, fleetTrend(statuses, daily(all), c, end)...)
	}
	return out, true, nil
}

// DayScore is one day of a tenant: GET /api/v1/tenants/{id}/scores.
type DayScore struct {
	Date         string             `json:"date"`
	CurrentScore float64            `json:"current_score"`
	MaxScore     float64            `json:"max_score"`
	Percent      float64            `json:"percent"`
	Averages     map[string]float64 `json:"averages"` // by basis: AllTenants, TotalSeats, IndustryTypes
}

// TenantScores is a tenant's days from..to, oldest first.
func TenantScores(ctx context.Context, src Source, tenantID string, from, to fleetscore.Day) ([]DayScore, error) {
	st, err := tenantStatus(ctx, src, tenantID)
	if err != nil {
		return nil, err
	}
	out := []DayScore{}
	if st.Latest == nil {
		return out, nil
	}
	days, err := tenantDaily(ctx, src, st.ID, from, to)
	if err != nil {
		return nil, err
	}
	out = slices.Grow(out, len(days))
	for _, s := range days {
		// The days were read for this call alone: each day's Averages is
		// its own, not the store's to share, so it is not copied again.
		avg := s.Averages
		if avg == nil {
			avg = map[string]float64{}
		}
		out = append(out, dayScoreWith(s, avg))
	}
	return out, nil
}

// TenantDailyReader is a store that reads one tenant's snapshots without
// their control scores (Scores without Controls) cheaply.
type TenantDailyReader interface {
	TenantDaily(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error)
}

// tenantDaily is the tenant's snapshots from..to; their Controls may be
// left out.
func tenantDaily(ctx context.Context, src Source, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	if r, ok := src.(TenantDailyReader); ok {
		return r.TenantDaily(ctx, tenantID, from, to)
	}
	return src.Scores(ctx, tenantID, from, to)
}

func dayScore(s fleetscore.Score) DayScore {
	avg := make(map[string]float64, len(s.Averages))
	for k, v := range s.Averages {
		avg[k] = v
	}
	return dayScoreWith(s, avg)
}

// dayScoreWith is dayScore with the averages given.
func dayScoreWith(s fleetscore.Score, avg map[string]float64) DayScore {
	return DayScore{Date: s.Day.String(), CurrentScore: s.CurrentScore, MaxScore: s.MaxScore, Percent: s.Percent(), Averages: avg}
}

// tenantStatus finds one tenant; an unknown one wraps fleetscore.ErrNotFound.
func tenantStatus(ctx context.Context, src Source, tenantID string) (fleetscore.TenantStatus, error) {
	if ix, ok, err := tenantsIndexed(ctx, src); err != nil {
		return fleetscore.TenantStatus{}, err
	} else if ok {
		return ix.status(tenantID)
	}
	statuses, err := src.Tenants(ctx)
	if err != nil {
		return fleetscore.TenantStatus{}, err
	}
	for _, st := range statuses {
		if strings.EqualFold(st.ID, tenantID) {
			return st, nil
		}
	}
	return fleetscore.TenantStatus{}, fmt.Errorf("tenant %q: %w", tenantID, fleetscore.ErrNotFound)
}

// Control is a tenant's recommended action with its latest score:
// GET /api/v1/tenants/{id}/controls.
type Control struct {
	Control            string  `json:"control"`
	Title              string  `json:"title"`
	Category           string  `json:"category"`
	Score              float64 `json:"score"`
	MaxScore           float64 `json:"max_score"`
	State              string  `json:"state"`
	UserImpact         string  `json:"user_impact"`
	ImplementationCost string  `json:"implementation_cost"`
	Tier               string  `json:"tier"`
	ActionURL          string  `json:"action_url"`
	Deprecated         bool    `json:"deprecated"`
	Open               bool    `json:"open"`
	PointsAvailable    float64 `json:"points_available"`
}

// IsOpen says whether an action is open at a tenant, as the dashboard
// defines it: on the tenant's latest day its score is below the profile's
// maxScore, the control is not deprecated, and its current state is neither
// Ignored (risk accepted) nor ThirdParty.
func IsOpen(score float64, p fleetscore.ControlProfile) bool {
	if p.Deprecated || score >= p.MaxScore {
		return false
	}
	st := p.State()
	return st != fleetscore.StateIgnored && st != fleetscore.StateThirdParty
}

// TenantControls joins a tenant's latest control scores with its profiles,
// sorted by points still available, then title.
func TenantControls(ctx context.Context, src Source, tenantID string) ([]Control, error) {
	st, err := tenantStatus(ctx, src, tenantID)
	if err != nil {
		return nil, err
	}
	out := []Control{}
	if st.Latest == nil {
		return out, nil
	}
	profiles, err := tenantProfiles(ctx, src, st.ID)
	if err != nil {
		return nil, err
	}
	return latestControls(ctx, src, st, nil, profiles)
}

// profilesOf is the tenant's control profiles; none (not an error) before
// its first collection.
func profilesOf(ctx context.Context, src Source, tenantID string) ([]fleetscore.ControlProfile, error) {
	return noneIfNotFound(src.Profiles(ctx, tenantID))
}

// noneIfNotFound is a tenant's profiles as read, none (not an error) when
// the store found none.
func noneIfNotFound(profiles []fleetscore.ControlProfile, err error) ([]fleetscore.ControlProfile, error) {
	if err != nil && !errors.Is(err, fleetscore.ErrNotFound) {
		return nil, err
	}
	return profiles, nil
}

// controlsOf joins a day's control scores with the profiles, sorted by
// points still available, then title.
func controlsOf(day fleetscore.Score, profiles []fleetscore.ControlProfile) []Control {
	byID := make(map[string]fleetscore.ControlProfile, len(profiles))
	for _, p := range profiles {
		byID[p.ID] = p
	}
	out := []Control{}
	for _, c := range day.Controls {
		p, ok := byID[c.Name]
		row := Control{Control: c.Name, Title: c.Name, Category: c.Category, Score: c.Score, State: fleetscore.StateDefault}
		if ok {
			row.Title, row.MaxScore, row.State = p.Title, p.MaxScore, p.State()
			row.UserImpact, row.ImplementationCost, row.Tier = p.UserImpact, p.ImplementationCost, p.Tier
			row.ActionURL, row.Deprecated = p.ActionURL, p.Deprecated
			if row.Category == "" {
				row.Category = p.Category
			}
			row.Open = IsOpen(c.Score, p)
			if row.Open {
				row.PointsAvailable = p.MaxScore - c.Score
			}
		}
		out = append(out, row)
	}
	slices.SortStableFunc(out, func(a, b Control) int {
		if c := cmp.Compare(b.PointsAvailable, a.PointsAvailable); c != 0 {
			return c
		}
		return cmp.Compare(a.Title, b.Title)
	})
	return out
}

// Action is one recommended action across the fleet: GET /api/v1/actions.
type Action struct {
	Control            string   `json:"control"`
	Title              string   `json:"title"`
	Category           string   `json:"category"`
	Tier               string   `json:"tier"`
	UserImpact         string   `json:"user_impact"`
	ImplementationCost string   `json:"implementation_cost"`
	OpenTenants        int      `json:"open_tenants"`
	Tenants            []string `json:"tenants"` // IDs of the tenants where it is open
	PointsAvailable    float64  `json:"points_available"`
	// FleetPercentGain is the mean, over all scored tenants, of the percent
	// each would gain if the action were done (0 where it is not open).
	FleetPercentGain  float64 `json:"fleet_percent_gain"`
	IgnoredTenants    int     `json:"ignored_tenants"`
	ThirdPartyTenants int     `json:"third_party_tenants"`
	DeprecatedTenants int     `json:"deprecated_tenants"`
	// ExceptedTenants are the tenants where a live exception of the
	// register (written, in effect or local; not Default) sets the
	// action's state: neither open nor done there, and not counted as
	// ignored or third party either.
	ExceptedTenants int `json:"excepted_tenants"`
	// LiftedTenants are the open tenants below their target that the
	// action alone would take to it (ActionTenant.LiftsOverTarget).
	LiftedTenants int `json:"lifted_tenants"`
}

// Excepter is the register's side of a source: by tenant ID, the controls a
// live exception sets a state on (control -> state). A source without it
// excepts nothing.
type Excepter interface {
	ExceptedControls(ctx context.Context) (map[string]map[string]string, error)
}

// excepted reads the source's live exceptions, if it keeps any.
func excepted(ctx context.Context, src Source) (map[string]map[string]string, error) {
	ex, ok := src.(Excepter)
	if !ok {
		return nil, nil
	}
	return ex.ExceptedControls(ctx)
}

// fleetActions is what the views of actions across the fleet read: every
// tenant, by tenant ID its latest control scores and its profiles
// (summaries), and the live exceptions.
type fleetActions struct {
	statuses []fleetscore.TenantStatus
	controls *latest
	profiles map[string][]summary
	except   map[string]map[string]string
}

func readFleet(ctx context.Context, src Source) (*fleetActions, error) {
	var (
		fl  fleetActions
		err error
	)
	if fl.statuses, err = src.Tenants(ctx); err != nil {
		return nil, err
	}
	if fl.controls, err = latestOf(ctx, src); err != nil {
		return nil, err
	}
	if fl.profiles, err = summariesOf(ctx, src); err != nil {
		return nil, err
	}
	if fl.except, err = excepted(ctx, src); err != nil {
		return nil, err
	}
	return &fl, nil
}

// ActionFilter narrows the ranking; empty fields match everything.
type ActionFilter struct {
	Category, Tier, UserImpact, ImplementationCost string
	Tenant                                         string // only actions present at this tenant
}

func (f ActionFilter) match(p fleetscore.ControlProfile) bool {
	eq := func(want, have string) bool { return want == "" || strings.EqualFold(want, have) }
	return eq(f.Category, p.Category) && eq(f.Tier, p.Tier) && eq(f.UserImpact, p.UserImpact) && eq(f.ImplementationCost, p.ImplementationCost)
}

// Actions ranks the recommended actions across the fleet: most open tenants
// first, then most points available. Only controls scored on a tenant's
// latest day count at that tenant (a profile without a score that day is not
// part of its Secure Score). An action with a live exception at a tenant is
// counted apart there (ExceptedTenants), so "open at the most clients"
// means what is left to do.
func Actions(ctx context.Context, src Source, f ActionFilter) ([]Action, error) {
	k, err := viewMemo(ctx, src, fmt.Sprintf("actions/%q", []string{f.Category, f.Tier, f.UserImpact, f.ImplementationCost, f.Tenant}), func(ctx context.Context, src Source) (*keptActions, error) {
		as, err := actions(ctx, src, f)
		if err != nil {
			return nil, err
		}
		return keepActions(as), nil
	})
	if err != nil {
		return nil, err
	}
	return k.actions(), nil
}

// keptActions is the ranking as the model keeps it: each action's open
// tenants by position in ids, 4 bytes a tenant where an ID takes 16 (at
// 10,000 tenants, 2.4 million of them). Actions hands out the ranking
// with its lists of IDs, new each call.
type keptActions struct {
	as   []Action // Tenants nil
	open [][]int32
	ids  []string
}

func keepActions(as []Action) *keptActions {
	k := &keptActions{as: as, open: make([][]int32, len(as))}
	var ids positions[string]
	n := 0
	for _, a := range as {
		n += len(a.Tenants)
	}
	flat := make([]int32, 0, n)
	for i := range as {
		start := len(flat)
		for _, id := range as[i].Tenants {
			flat = append(flat, ids.of(id))
		}
		k.open[i] = flat[start:len(flat):len(flat)]
		as[i].Tenants = nil
	}
	k.ids = ids.vals
	return k
}

// actions is the ranking, the caller's to change.
func (k *keptActions) actions() []Action {
	out := slices.Clone(k.as)
	for i := range out {
		ts := make([]string, len(k.open[i]))
		for j, p := range k.open[i] {
			ts[j] = k.ids[p]
		}
		out[i].Tenants = ts
	}
	return out
}

func actions(ctx context.Context, src Source, f ActionFilter) ([]Action, error) {
	fl, err := readFleet(ctx, src)
	if err != nil {
		return nil, err
	}
	statuses, controls, profiles, except := fl.statuses, fl.controls, fl.profiles, fl.except
	byID := map[string]*Action{}
	var gains = map[string]float64{}
	scored := 0
	for _, st := range statuses {
		if st.Latest == nil || st.Latest.MaxScore <= 0 {
			continue
		}
		scored++
		if f.Tenant != "" && !strings.EqualFold(f.Tenant, st.ID) {
			continue
		}
		prof := make(map[string]summary, len(profiles[st.ID]))
		for _, p := range profiles[st.ID] {
			prof[p.shared.ID] = p
		}
		for _, cc := range controls.by[st.ID] {
			c := controls.control(cc)
			s, ok := prof[c.Name]
			if !ok || !f.match(*s.shared) {
				continue
			}
			p := s.full()
			a := byID[p.ID]
			if a == nil {
				a = &Action{Control: p.ID, Title: p.Title, Category: p.Category, Tier: p.Tier,
					UserImpact: p.UserImpact, ImplementationCost: p.ImplementationCost, Tenants: []string{}}
				byID[p.ID] = a
			}
			switch {
			case p.Deprecated:
				a.DeprecatedTenants++
			case except[st.ID][p.ID] != "":
				a.ExceptedTenants++
			case p.State() == fleetscore.StateIgnored:
				a.IgnoredTenants++
			case p.State() == fleetscore.StateThirdParty:
				a.ThirdPartyTenants++
			case IsOpen(c.Score, p):
				a.OpenTenants++
				a.Tenants = append(a.Tenants, st.ID)
				a.PointsAvailable += p.MaxScore - c.Score
				gains[p.ID] += (p.MaxScore - c.Score) / st.Latest.MaxScore * 100
				if liftsOverTarget(st.Latest, st.TargetPercent, p.MaxScore-c.Score) {
					a.LiftedTenants++
				}
			}
		}
	}
	out := make([]Action, 0, len(byID))
	for id, a := range byID {
		if scored > 0 {
			a.FleetPercentGain = gains[id] / float64(scored)
		}
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Action) int {
		if c := cmp.Compare(b.OpenTenants, a.OpenTenants); c != 0 {
			return c
		}
		if c := cmp.Compare(b.PointsAvailable, a.PointsAvailable); c != 0 {
			return c
		}
		return cmp.Compare(a.Control, b.Control)
	})
	return out, nil
}

// CollectionRow is one line of the collection log.
type CollectionRow struct {
	ID         int64     `json:"id"`
	TenantID   string    `json:"tenant_id"`
	Tenant     string    `json:"tenant"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Seconds    float64   `json:"seconds"`
	Status     string    `json:"status"`
	Error      string    `json:"error"`
	Advice     string    `json:"advice"`
	Days       int       `json:"days"`
	Requests   int       `json:"requests"`
}

// Collections is the collection log, newest first, at most limit rows;
// tenantID "" means every tenant.
func Collections(ctx context.Context, src Source, tenantID string, limit int) ([]CollectionRow, error) {
	statuses, err := src.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(statuses))
	for _, st := range statuses {
		names[st.ID] = st.Name
	}
	if tenantID != "" {
		if _, ok := names[tenantID]; !ok {
			return nil, fmt.Errorf("tenant %q: %w", tenantID, fleetscore.ErrNotFound)
		}
	}
	cs, err := src.Collections(ctx, tenantID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]CollectionRow, 0, len(cs))
	for _, c := range cs {
		out = append(out, CollectionRow{ID: c.ID, TenantID: c.TenantID, Tenant: names[c.TenantID],
			StartedAt: c.StartedAt, FinishedAt: c.FinishedAt, Seconds: c.Duration().Seconds(),
			Status: c.Status, Error: c.Error, Advice: c.Advice, Days: c.Days, Requests: c.Requests})
	}
	return out, nil
}
