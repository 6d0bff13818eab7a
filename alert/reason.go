package alert

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/ledger"
	"github.com/fleetscore/fleetscore/query"
)

// ReasonItems is how many of the ledger's items a reason names at most.
const ReasonItems = 3

// changes is the tenant's change ledger over a rule's window: the changes
// of its stored days in the days up to its latest, none before its baseline
// (the history its first collection wrote). Loaded once per tenant and
// window per evaluation.
func (v *view) changes(ctx context.Context, st fleetscore.TenantStatus, days int) ([]ledger.Change, error) {
	if st.Latest == nil {
		return nil, nil
	}
	k := ledgerKey{st.ID, days}
	if cs, ok := v.ledgers[k]; ok {
		return cs, nil
	}
	to := st.Latest.Day
	from := to.AddDays(-days + 1)
	if b, ok := v.baseline[st.ID]; ok && !b.AddDays(1).Before(from) {
		from = b.AddDays(1)
	}
	var cs []ledger.Change
	if !to.Before(from) {
		var err error
		cs, err = query.TenantChanges(ctx, v.src, st.ID, from, to)
		if err != nil {
			return nil, fmt.Errorf("read the changes of %s: %w", st.Name, err)
		}
	}
	if v.ledgers == nil {
		v.ledgers = map[ledgerKey][]ledger.Change{}
	}
	v.ledgers[k] = cs
	return cs, nil
}

// topItems are the window's items, largest effect on the tenant's percent
// first (as ledger.Fleet ranks them); first, when not "", puts that
// control's items before the others, and falls only keeps the items that
// lowered the score (all of them when none did).
func topItems(cs []ledger.Change, first string, falls bool) []ledger.TopItem {
	var all []ledger.TopItem
	for _, c := range cs {
		for _, it := range c.Items {
			all = append(all, ledger.TopItem{Day: c.Day.String(), Item: it, PercentEffect: c.Effect(it)})
		}
	}
	slices.SortStableFunc(all, func(a, b ledger.TopItem) int {
		return cmp.Or(cmp.Compare(math.Abs(b.PercentEffect), math.Abs(a.PercentEffect)),
			cmp.Compare(math.Abs(b.PointsChange), math.Abs(a.PointsChange)),
			cmp.Compare(b.Day, a.Day), cmp.Compare(a.Control, b.Control))
	})
	if falls {
		down := slices.DeleteFunc(slices.Clone(all), func(t ledger.TopItem) bool {
			return t.PercentEffect >= 0 && t.PointsChange >= 0
		})
		if len(down) > 0 {
			all = down
		}
	}
	if first != "" {
		slices.SortStableFunc(all, func(a, b ledger.TopItem) int {
			return boolOrder(a.Control == first, b.Control == first)
		})
	}
	return all
}

func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// Reason writes items as a message's reason, at most ReasonItems of them:
// "Require MFA for administrative roles regressed −10 pts; Microsoft added
// Enable Copilot access reviews (0 of 8)".
func Reason(items []ledger.TopItem) string {
	var parts []string
	for _, it := range items[:min(len(items), ReasonItems)] {
		parts = append(parts, ItemText(it.Item))
	}
	return strings.Join(parts, "; ")
}

// ItemText is one ledger item in words.
func ItemText(it ledger.Item) string {
	switch it.Kind {
	case ledger.KindAdded:
		return fmt.Sprintf("Microsoft added %s (%s of %s)", it.Title, short(it.PointsChange), short(it.MaxChange))
	case ledger.KindRetired:
		return fmt.Sprintf("Microsoft retired %s (%s pts)", it.Title, signed(it.PointsChange))
	case ledger.KindState:
		s := fmt.Sprintf("%s marked %s", it.Title, it.StateTo)
		if it.By != "" {
			s += " by " + it.By
		}
		if math.Abs(it.PointsChange) >= ledger.Tolerance {
			s += " (" + signed(it.PointsChange) + " pts)"
		}
		return s
	case ledger.KindProgress:
		return fmt.Sprintf("%s progressed %s pts", it.Title, signed(it.PointsChange))
	case ledger.KindRegression:
		return fmt.Sprintf("%s regressed %s pts", it.Title, signed(it.PointsChange))
	}
	return fmt.Sprintf("%s pts not explained by Microsoft's control scores", signed(it.PointsChange))
}

// short is a number of points with at most two decimals, without trailing
// zeros: 10, 8.55, 0.5.
func short(v float64) string {
	s := strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

// signed is short with its sign, a minus sign (−) for a fall.
func signed(v float64) string {
	s := short(math.Abs(v))
	switch {
	case s == "0":
		return "0"
	case v < 0:
		return "−" + s
	}
	return "+" + s
}

// fleetDrops turns the score drops that one fleet event caused into one
// alert: when Microsoft adds (or retires) a control at many tenants on one
// day, every one of their percentages falls, and that is one piece of news,
// not one per tenant. A fleet event is an added or retired item that two or
// more of the firing tenants' ledgers share (same kind, control and day, as
// ledger.Fleet finds them). A tenant's drop is the event's when, without
// the fleet events' part of it, it would be below the rule's threshold; it
// then fires no alert of its own, and the event's alert (key: the rule and
// the control, no tenant) names every such tenant. A tenant whose own alert
// is open already keeps it; an event that explains one tenant's drop only
// stays that tenant's alert.
func (v *view) fleetDrops(ctx context.Context, r Rule, fs []finding, open map[Key]bool) ([]finding, error) {
	type event struct{ kind, control, day string }
	days := r.days()
	count := map[event]int{}
	var firing []int
	for i, f := range fs {
		if !f.firing || open[f.key] {
			continue
		}
		cs, err := v.changes(ctx, v.byID[f.key.Tenant], days)
		if err != nil {
			return nil, err
		}
		seen := map[event]bool{}
		for _, c := range cs {
			for _, it := range c.Items {
				e := event{it.Kind, it.Control, c.Day.String()}
				if (it.Kind == ledger.KindAdded || it.Kind == ledger.KindRetired) && !seen[e] {
					seen[e] = true
					count[e]++
				}
			}
		}
		firing = append(firing, i)
	}
	type group struct {
		item     ledger.Item
		days     []string
		members  []int // indexes in fs
		names    []string
		min, max float64 // the tenants' falls from the event
	}
	groups := map[Key]*group{}
	for _, i := range firing {
		f := fs[i]
		cs, _ := v.changes(ctx, v.byID[f.key.Tenant], days) // loaded above
		var (
			part, topPart float64
			top           ledger.Item
			topDay        string
		)
		for _, c := range cs {
			for _, it := range c.Items {
				if (it.Kind != ledger.KindAdded && it.Kind != ledger.KindRetired) || count[event{it.Kind, it.Control, c.Day.String()}] < 2 {
					continue
				}
				x := it.PointsChange
				if f.percent {
					x = c.Effect(it)
				}
				part += x
				if x < topPart {
					topPart, top, topDay = x, it, c.Day.String()
				}
			}
		}
		if topDay == "" || f.drop+part >= f.threshold-1e-9 {
			continue // not the event's: the tenant's own drop is enough
		}
		k := Key{Rule: r.Name, Subject: top.Control}
		g := groups[k]
		if g == nil {
			g = &group{item: top, min: -topPart, max: -topPart}
			groups[k] = g
		}
		if !slices.Contains(g.days, topDay) {
			g.days = append(g.days, topDay)
		}
		g.members = append(g.members, i)
		g.names = append(g.names, f.tenant)
		g.min, g.max = min(g.min, -topPart), max(g.max, -topPart)
	}
	drop := map[int]bool{}
	var out []finding
	for k, g := range groups {
		if len(g.members) < 2 {
			continue
		}
		for _, i := range g.members {
			drop[i] = true
		}
		slices.Sort(g.days)
		it, n := g.item, len(g.members)
		verb := "added"
		if it.Kind == ledger.KindRetired {
			verb = "retired"
		}
		unit, show := "points", pts
		if fs[g.members[0]].percent {
			unit, show = "percentage points", func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }
		}
		span := show(g.min)
		if show(g.max) != span {
			span += " to " + show(g.max)
		}
		f := finding{key: k, firing: true, order: "\x00" + it.Title,
			title: fmt.Sprintf("%s: Microsoft %s %s at %d tenants", r.Name, verb, it.Title, n)}
		f.summary = fmt.Sprintf("Microsoft %s %q (%s) on %s at %d tenants; it lowered their Secure Score by %s %s each, "+
			"which makes their fall reach the rule's threshold: %s.", verb, it.Title, it.Control, strings.Join(g.days, ", "), n, span, unit,
			strings.Join(g.names, ", "))
		f.reason = fmt.Sprintf("%s at %d tenants", ItemText(it), n)
		f.facts = []Fact{{"Control", it.Title}, {"Control ID", it.Control}, {"Day", strings.Join(g.days, ", ")},
			{"Tenants", strconv.Itoa(n)}, {"Fall from it", span + " " + unit}, {"Names", strings.Join(g.names, ", ")}}
		if profiles, err := v.profileMaps(ctx); err != nil {
			return nil, err
		} else if p, ok := profiles[fs[g.members[0]].key.Tenant][it.Control]; ok {
			f.link = p.ActionURL
		}
		out = append(out, f)
	}
	for i, f := range fs {
		if !drop[i] {
			out = append(out, f)
		}
	}
	for k := range open {
		if _, ok := groups[k]; (ok && len(groups[k].members) >= 2) || k.Tenant != "" || k.Subject == "" {
			continue
		}
		out = append(out, finding{key: k, order: "\x00" + k.Subject, title: r.Name + ": " + k.Subject,
			summary: fmt.Sprintf("No tenant's Secure Score is down by the rule's threshold because of %s any more.", k.Subject)})
	}
	return out, nil
}
