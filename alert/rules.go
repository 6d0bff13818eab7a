package alert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/ledger"
	"github.com/fleetscore/fleetscore/query"
)

// Conditions: what a rule's when: names.
const (
	// BelowTarget holds while a tenant's latest Secure Score percentage is
	// below its target (the dashboard's "below").
	BelowTarget = "below_target"
	// ScoreDrop holds while a tenant's latest score is Points Secure Score
	// points (or Percent percentage points) or more below its best of the
	// Days days before.
	ScoreDrop = "score_drop"
	// ControlRegressed holds for a tenant's control that was met (full
	// points) on one of the Days days before the latest and is open on the
	// latest, its score Points (default 1) or more below what it was, and
	// then until it is no longer open: met again, marked Ignored or
	// ThirdParty, deprecated, or gone.
	ControlRegressed = "control_regressed"
	// CollectionFailing holds while a tenant's last Runs collections failed.
	CollectionFailing = "collection_failing"
	// NewAction holds for a recommended action that is open at Tenants
	// tenants or more where it is new: scored on the tenant's latest day but
	// not on its last day at least Days days before.
	NewAction = "new_action"
	// ExceptionReview holds for an exception (a control set to Third party,
	// Risk accepted or Reviewed in the register) whose review date is Days
	// days away or less, or passed, until it is reviewed (a later date) or
	// removed.
	ExceptionReview = "exception_review"
	// ExceptionDrift holds while an exception has drifted: Microsoft's state
	// of the control stopped matching it (someone changed it in the portal).
	ExceptionDrift = "exception_drift"
	// CampaignOverdue holds for a campaign whose due date has passed while
	// tenants are still open (neither done, excepted nor not applicable),
	// until every tenant is settled.
	CampaignOverdue = "campaign_overdue"
	// CampaignRegressed holds for a tenant of a campaign that was done
	// during it and is open again, until it is done again (or excepted).
	CampaignRegressed = "campaign_regressed"
)

// Conditions lists every condition, in the order the docs describe them.
func Conditions() []string {
	return []string{BelowTarget, ScoreDrop, ControlRegressed, CollectionFailing, NewAction, ExceptionReview, ExceptionDrift,
		CampaignOverdue, CampaignRegressed}
}

// Defaults of a rule's optional settings.
const (
	DefaultDays = 7 // score_drop, control_regressed and new_action
	DefaultRuns = 3 // collection_failing

	DefaultRegressedPoints = 1.0 // control_regressed: the fall, in points, that fires
)

// Rule is one alert rule of the config.
type Rule struct {
	Name string
	When string // one of Conditions
	// Points and Percent are score_drop's threshold: Secure Score points
	// (currentScore) or percentage points of the score's percentage. One
	// is set; when both are, either fires. Points is also
	// control_regressed's threshold: a control fires only when its score
	// fell by at least that many points from the day it was last met (0
	// means DefaultRegressedPoints), so a partial wobble pages no one.
	Points, Percent float64
	Days            int // score_drop, control_regressed, new_action: the window; 0 means DefaultDays
	Runs            int // collection_failing: failed runs in a row; 0 means DefaultRuns
	Tenants         int // new_action: how many tenants at least
	Channels        []string
}

func (r Rule) days() int {
	if r.Days > 0 {
		return r.Days
	}
	return DefaultDays
}

func (r Rule) minFall() float64 {
	if r.Points > 0 {
		return r.Points
	}
	return DefaultRegressedPoints
}

func (r Rule) runs() int {
	if r.Runs > 0 {
		return r.Runs
	}
	return DefaultRuns
}

// check says what makes a rule unusable; config reports the same problems
// with their line.
func (r Rule) check() error {
	switch r.When {
	case BelowTarget, ControlRegressed, CollectionFailing, ExceptionReview, ExceptionDrift, CampaignOverdue, CampaignRegressed:
	case ScoreDrop:
		if r.Points <= 0 && r.Percent <= 0 {
			return errors.New("score_drop needs points or percent above 0")
		}
	case NewAction:
		if r.Tenants < 1 {
			return errors.New("new_action needs tenants of 1 or more")
		}
	default:
		return fmt.Errorf("unknown condition %q", r.When)
	}
	return nil
}

// finding is what a rule found about one key: that its condition holds
// (firing), or, for a key whose alert is open, that it no longer does and
// why. The message of a change is made from it.
type finding struct {
	key     Key
	firing  bool
	tenant  string // the tenant's name
	title   string
	summary string
	reason  string // the ledger's top items (score_drop, control_regressed)
	facts   []Fact
	link    string
	order   string // findings are reported in this order (tenant, then control)

	// score_drop: the fall that fired, its threshold and whether it is in
	// percentage points (else Secure Score points).
	drop, threshold float64
	percent         bool
}

// view is what the rules read, loaded once per evaluation.
type view struct {
	now     time.Time // the evaluation's
	src     query.Source
	tenants []fleetscore.TenantStatus // the tenants checked, by name
	byID    map[string]fleetscore.TenantStatus

	profiles map[string]map[string]fleetscore.ControlProfile // by tenant, then control; loaded on demand

	// baseline is each tenant's baseline day: the change rules (score_drop,
	// control_regressed, new_action) read no day before it.
	baseline map[string]fleetscore.Day
	// ledgers are the tenants' change ledgers by window, loaded on demand.
	ledgers map[ledgerKey][]ledger.Change
}

type ledgerKey struct {
	tenant string
	days   int
}

// since is the first day of a tenant's window of days before its latest day:
// not before the tenant's baseline.
func (v *view) since(st fleetscore.TenantStatus, days int) fleetscore.Day {
	from := st.Latest.Day.AddDays(-days)
	if b, ok := v.baseline[st.ID]; ok && from.Before(b) {
		return b
	}
	return from
}

func newView(ctx context.Context, src query.Source, only []string) (*view, error) {
	all, err := src.Tenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("read tenants: %w", err)
	}
	var keep map[string]bool
	if only != nil {
		keep = make(map[string]bool, len(only))
		for _, id := range only {
			keep[strings.ToLower(id)] = true
		}
	}
	v := &view{src: src, byID: map[string]fleetscore.TenantStatus{}}
	for _, st := range all {
		if keep != nil && !keep[strings.ToLower(st.ID)] {
			continue
		}
		v.tenants = append(v.tenants, st)
		v.byID[st.ID] = st
	}
	slices.SortStableFunc(v.tenants, func(a, b fleetscore.TenantStatus) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return v, nil
}

func (v *view) profileMaps(ctx context.Context) (map[string]map[string]fleetscore.ControlProfile, error) {
	if v.profiles != nil {
		return v.profiles, nil
	}
	all, err := v.src.ProfileSummaries(ctx)
	if err != nil {
		return nil, fmt.Errorf("read control profiles: %w", err)
	}
	v.profiles = make(map[string]map[string]fleetscore.ControlProfile, len(all))
	for id, ps := range all {
		m := make(map[string]fleetscore.ControlProfile, len(ps))
		for _, p := range ps {
			m[p.ID] = p
		}
		v.profiles[id] = m
	}
	return v.profiles, nil
}

// evaluate runs one rule. open holds the keys of the rule's open alerts:
// conditions that hold "until" something need them.
func (v *view) evaluate(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	var (
		fs  []finding
		err error
	)
	switch r.When {
	case BelowTarget:
		fs = v.belowTarget(r)
	case ScoreDrop:
		fs, err = v.scoreDrop(ctx, r, open)
	case ControlRegressed:
		fs, err = v.controlRegressed(ctx, r, open)
	case CollectionFailing:
		fs, err = v.collectionFailing(ctx, r, open)
	case NewAction:
		fs, err = v.newAction(ctx, r, open)
	case ExceptionReview:
		fs, err = v.exceptionReview(ctx, r, open)
	case ExceptionDrift:
		fs, err = v.exceptionDrift(ctx, r, open)
	case CampaignOverdue:
		fs, err = v.campaignOverdue(ctx, r, open)
	case CampaignRegressed:
		fs, err = v.campaignRegressed(ctx, r, open)
	}
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(fs, func(a, b finding) int {
		return cmp.Or(cmp.Compare(a.order, b.order), compareKeys(a.key, b.key))
	})
	return fs, nil
}

// tenantFinding starts a finding about a tenant (and a control).
func tenantFinding(r Rule, st fleetscore.TenantStatus, control, controlTitle string) finding {
	f := finding{key: Key{Rule: r.Name, Tenant: st.ID, Subject: control}, tenant: st.Name,
		title: r.Name + ": " + st.Name, order: st.Name + "\x00" + controlTitle}
	if control != "" {
		f.title += " — " + controlTitle
	}
	return f
}

func tenantFacts(st fleetscore.TenantStatus) []Fact {
	return []Fact{{"Tenant", st.Name}, {"Tenant ID", st.ID}}
}

// Figures are written as the CLI writes them: percent with one decimal,
// points with two, out of a max without decimals.
func pct(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }

func pts(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func outOf(s fleetscore.Score) string {
	return fmt.Sprintf("%s / %s", pts(s.CurrentScore), strconv.FormatFloat(s.MaxScore, 'f', 0, 64))
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func (v *view) belowTarget(r Rule) []finding {
	var out []finding
	for _, st := range v.tenants {
		if st.Latest == nil {
			continue
		}
		row := query.TenantRow(st)
		p, s := *row.Percent, *st.Latest
		f := tenantFinding(r, st, "", "")
		f.firing = !row.MeetsTarget
		target := num(st.TargetPercent) + "%"
		if f.firing {
			f.summary = fmt.Sprintf("%s's Secure Score is %s (%s points), below its %s target.", st.Name, pct(p), outOf(s), target)
		} else {
			f.summary = fmt.Sprintf("%s's Secure Score is %s (%s points), meeting its %s target again.", st.Name, pct(p), outOf(s), target)
		}
		f.facts = append(tenantFacts(st), Fact{"Score", pct(p)}, Fact{"Points", outOf(s)},
			Fact{"Target", target}, Fact{"As of", s.Day.String()})
		out = append(out, f)
	}
	return out
}

func (v *view) scoreDrop(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	days := r.days()
	var from fleetscore.Day
	for _, st := range v.tenants {
		if st.Latest != nil && (from.IsZero() || st.Latest.Day.AddDays(-days).Before(from)) {
			from = st.Latest.Day.AddDays(-days)
		}
	}
	if from.IsZero() {
		return nil, nil
	}
	all, err := v.src.Daily(ctx, from, fleetscore.Day{})
	if err != nil {
		return nil, fmt.Errorf("read daily scores: %w", err)
	}
	byTenant := map[string][]fleetscore.Score{}
	for _, s := range all {
		byTenant[s.TenantID] = append(byTenant[s.TenantID], s)
	}
	type measure struct {
		of        func(fleetscore.Score) float64
		threshold float64
		unit      string
		show      func(float64) string
		percent   bool
	}
	var measures []measure
	if r.Points > 0 {
		measures = append(measures, measure{func(s fleetscore.Score) float64 { return s.CurrentScore }, r.Points, "points", pts, false})
	}
	if r.Percent > 0 {
		measures = append(measures, measure{fleetscore.Score.Percent, r.Percent, "percentage points",
			func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }, true})
	}
	describe := func(s fleetscore.Score) string {
		return fmt.Sprintf("%s (%s) on %s", outOf(s), pct(s.Percent()), s.Day)
	}
	var out []finding
	for _, st := range v.tenants {
		if st.Latest == nil {
			continue
		}
		cur := *st.Latest
		f := tenantFinding(r, st, "", "")
		var best fleetscore.Score
		for _, m := range measures {
			// The best of the window before the latest day; the latest of
			// equals, so the message names when the score was last there.
			var top *fleetscore.Score
			for i, s := range byTenant[st.ID] {
				if s.Day.Before(cur.Day) && !s.Day.Before(v.since(st, days)) && (top == nil || m.of(s) >= m.of(*top)) {
					top = &byTenant[st.ID][i]
				}
			}
			if top == nil {
				continue
			}
			best = *top
			if drop := m.of(best) - m.of(cur); drop >= m.threshold-1e-9 {
				f.firing = true
				f.drop, f.threshold, f.percent = drop, m.threshold, m.percent
				f.summary = fmt.Sprintf("%s's Secure Score fell %s %s within %d days: from %s to %s.",
					st.Name, m.show(drop), m.unit, days, describe(best), describe(cur))
				f.facts = append(tenantFacts(st), Fact{"Drop", m.show(drop) + " " + m.unit},
					Fact{"Rule", fmt.Sprintf("a fall of %s %s within %d days", num(m.threshold), m.unit, days)},
					Fact{"Before", describe(best)}, Fact{"Now", describe(cur)})
				break
			}
		}
		if best.Day.IsZero() {
			continue // no day to compare with
		}
		if f.firing {
			cs, err := v.changes(ctx, st, days)
			if err != nil {
				return nil, err
			}
			f.reason = Reason(topItems(cs, "", true))
		}
		if !f.firing {
			var limits []string
			for _, m := range measures {
				limits = append(limits, num(m.threshold)+" "+m.unit)
			}
			f.summary = fmt.Sprintf("%s's Secure Score is no longer %s below its best of the %d days before: now %s, best %s.",
				st.Name, strings.Join(limits, " or "), days, describe(cur), describe(best))
			f.facts = append(tenantFacts(st), Fact{"Now", describe(cur)}, Fact{"Best before", describe(best)})
		}
		out = append(out, f)
	}
	return v.fleetDrops(ctx, r, out, open)
}

func (v *view) controlRegressed(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	profiles, err := v.profileMaps(ctx)
	if err != nil {
		return nil, err
	}
	days := r.days()
	var out []finding
	for _, st := range v.tenants {
		if st.Latest == nil {
			continue
		}
		scores, err := v.src.Scores(ctx, st.ID, v.since(st, days), st.Latest.Day)
		if err != nil {
			return nil, fmt.Errorf("read scores of %s: %w", st.Name, err)
		}
		if len(scores) == 0 {
			continue
		}
		cur := scores[len(scores)-1]
		prof := profiles[st.ID]
		metOn := map[string]fleetscore.Day{} // the latest earlier day each control was met
		metAt := map[string]float64{}        // its score that day
		for _, s := range scores[:len(scores)-1] {
			for _, c := range s.Controls {
				if p, ok := prof[c.Name]; ok && p.MaxScore > 0 && c.Score >= p.MaxScore {
					metOn[c.Name], metAt[c.Name] = s.Day, c.Score
				}
			}
		}
		for _, c := range cur.Controls {
			p, ok := prof[c.Name]
			if !ok {
				continue
			}
			key := Key{Rule: r.Name, Tenant: st.ID, Subject: c.Name}
			isOpen := query.IsOpen(c.Score, p)
			met, wasMet := metOn[c.Name]
			// A partial wobble (9 of 9 to 8.55) is below the threshold.
			fell := wasMet && metAt[c.Name]-c.Score >= r.minFall()-1e-9
			if !(isOpen && fell) && !open[key] {
				continue
			}
			f := tenantFinding(r, st, c.Name, p.Title)
			f.link = p.ActionURL
			f.facts = append(tenantFacts(st), Fact{"Control", p.Title}, Fact{"Control ID", c.Name},
				Fact{"Category", p.Category}, Fact{"Points", fmt.Sprintf("%s / %s", pts(c.Score), num(p.MaxScore))})
			switch {
			case isOpen:
				f.firing = true
				cs, err := v.changes(ctx, st, days)
				if err != nil {
					return nil, err
				}
				f.reason = Reason(topItems(cs, c.Name, true))
				if wasMet {
					f.summary = fmt.Sprintf("%s: %q (%s) was met on %s and is open now: %s of %s points.",
						st.Name, p.Title, c.Name, met, pts(c.Score), num(p.MaxScore))
					f.facts = append(f.facts, Fact{"Last met", met.String()})
				} else {
					f.summary = fmt.Sprintf("%s: %q (%s) is still open: %s of %s points.", st.Name, p.Title, c.Name, pts(c.Score), num(p.MaxScore))
				}
			case c.Score >= p.MaxScore:
				f.summary = fmt.Sprintf("%s: %q (%s) is met again: %s of %s points.", st.Name, p.Title, c.Name, pts(c.Score), num(p.MaxScore))
			case p.Deprecated:
				f.summary = fmt.Sprintf("%s: %q (%s) was deprecated by Microsoft and no longer counts.", st.Name, p.Title, c.Name)
			default:
				f.summary = fmt.Sprintf("%s: %q (%s) was marked %s%s.", st.Name, p.Title, c.Name, stateText(p.State()), updatedBy(p))
			}
			out = append(out, f)
		}
	}
	return out, nil
}

func stateText(s string) string {
	switch s {
	case fleetscore.StateIgnored:
		return "Ignored (risk accepted)"
	case fleetscore.StateThirdParty:
		return "ThirdParty (resolved through a third party)"
	}
	return s
}

func updatedBy(p fleetscore.ControlProfile) string {
	if n := len(p.StateUpdates); n > 0 && p.StateUpdates[n-1].UpdatedBy != "" {
		return " by " + p.StateUpdates[n-1].UpdatedBy
	}
	return ""
}

func (v *view) collectionFailing(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	runs := r.runs()
	var out []finding
	for _, st := range v.tenants {
		// A couple more than needed: the newest may still be running.
		cs, err := v.src.Collections(ctx, st.ID, runs+2)
		if errors.Is(err, fleetscore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read collections of %s: %w", st.Name, err)
		}
		var done []fleetscore.Collection // newest first
		for _, c := range cs {
			if c.Status != fleetscore.StatusRunning && len(done) < runs {
				done = append(done, c)
			}
		}
		if len(done) == 0 {
			continue
		}
		failed := len(done) == runs
		for _, c := range done {
			failed = failed && c.Status == fleetscore.StatusError
		}
		key := Key{Rule: r.Name, Tenant: st.ID}
		if !failed && !open[key] {
			continue
		}
		f := tenantFinding(r, st, "", "")
		last := done[0]
		switch {
		case failed:
			f.firing = true
			since := done[len(done)-1].StartedAt
			inARow := fmt.Sprintf("%d times in a row", runs)
			if runs == 1 {
				inARow = "in its last run"
			}
			f.summary = fmt.Sprintf("%s could not be collected %s, since %s: %s", st.Name, inARow, when(since), last.Error)
			if last.Advice != "" {
				f.summary += " Fix: " + last.Advice
			}
			f.facts = append(tenantFacts(st), Fact{"Failed runs", fmt.Sprintf("%d in a row", runs)},
				Fact{"Since", when(since)}, Fact{"Error", last.Error})
			if last.Advice != "" {
				f.facts = append(f.facts, Fact{"Fix", last.Advice})
			}
		case last.Status == fleetscore.StatusOK:
			at := last.FinishedAt
			if at.IsZero() {
				at = last.StartedAt
			}
			f.summary = fmt.Sprintf("%s was collected again on %s.", st.Name, when(at))
			f.facts = append(tenantFacts(st), Fact{"Collected", when(at)}, Fact{"Days written", strconv.Itoa(last.Days)})
		default:
			f.summary = fmt.Sprintf("%s's last %d collections did not all fail.", st.Name, runs)
			f.facts = tenantFacts(st)
		}
		out = append(out, f)
	}
	return out, nil
}

func (v *view) newAction(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	profiles, err := v.profileMaps(ctx)
	if err != nil {
		return nil, err
	}
	latest, err := v.src.LatestControls(ctx)
	if err != nil {
		return nil, fmt.Errorf("read latest control scores: %w", err)
	}
	days := r.days()
	type action struct {
		profile fleetscore.ControlProfile
		tenants []string // names of the tenants where it is new and open
	}
	actions := map[string]*action{}
	for _, st := range v.tenants {
		if st.Latest == nil {
			continue
		}
		// The tenant's last day at least days before its latest, within a
		// week of that: a tenant without such a day has nothing "new" yet
		// (its first collection is not news).
		// Before its baseline, the day compared with is the baseline: what
		// the backfill found is not new.
		ref := st.Latest.Day.AddDays(-days)
		lo := ref.AddDays(-7)
		if b, ok := v.baseline[st.ID]; ok && ref.Before(b) {
			if !b.Before(st.Latest.Day) {
				continue
			}
			ref, lo = b, b
		} else if ok && lo.Before(b) {
			lo = b
		}
		before, err := v.src.Scores(ctx, st.ID, lo, ref)
		if err != nil {
			return nil, fmt.Errorf("read scores of %s: %w", st.Name, err)
		}
		if len(before) == 0 {
			continue
		}
		had := map[string]bool{}
		for _, c := range before[len(before)-1].Controls {
			had[c.Name] = true
		}
		for _, c := range latest[st.ID] {
			p, ok := profiles[st.ID][c.Name]
			if !ok || had[c.Name] || !query.IsOpen(c.Score, p) {
				continue
			}
			a := actions[c.Name]
			if a == nil {
				a = &action{profile: p}
				actions[c.Name] = a
			}
			a.tenants = append(a.tenants, st.Name)
		}
	}
	for k := range open {
		if actions[k.Subject] == nil {
			actions[k.Subject] = &action{profile: fleetscore.ControlProfile{ID: k.Subject, Title: k.Subject}}
		}
	}
	var out []finding
	for id, a := range actions {
		key := Key{Rule: r.Name, Subject: id}
		n := len(a.tenants)
		if n < r.Tenants && !open[key] {
			continue
		}
		p := a.profile
		f := finding{key: key, title: r.Name + ": " + p.Title, link: p.ActionURL, order: p.Title}
		f.facts = []Fact{{"Action", p.Title}, {"Control ID", id}}
		if p.Category != "" {
			f.facts = append(f.facts, Fact{"Category", p.Category}, Fact{"Max points", num(p.MaxScore)})
		}
		f.facts = append(f.facts, Fact{"New and open at", fmt.Sprintf("%d tenants", n)})
		if n > 0 {
			f.facts = append(f.facts, Fact{"Tenants", strings.Join(a.tenants, ", ")})
		}
		if n >= r.Tenants {
			f.firing = true
			f.summary = fmt.Sprintf("%q (%s) is a new recommended action, open at %d tenants: %s.", p.Title, id, n, strings.Join(a.tenants, ", "))
		} else {
			f.summary = fmt.Sprintf("%q (%s) is no longer a new action open at %d or more tenants: it is new and open at %d now.", p.Title, id, r.Tenants, n)
		}
		out = append(out, f)
	}
	return out, nil
}
