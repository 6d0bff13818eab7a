package server

import (
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/ledger"
)

// The "why the score moved" parts of the pages: the tenant page's "What
// changed" and the overview's "What moved this week", both from the change
// ledger the API serves (query.TenantChanges, query.FleetChanges).

// shownItems is how many of a day's items a page lists before "and N more".
const shownItems = 5

// movedDays is the overview's window: "this week".
const movedDays = 7

// staleAfterDays: the tenant page says Microsoft sent nothing new when its
// latest day is this many days or more before today.
const staleAfterDays = 2

// dayChangeView is one stored day of "What changed".
type dayChangeView struct {
	Date      string // YYYY-MM-DD
	Label     string // "27 Nov 2026"
	Since     string // "since 25 Nov" when a day or more is missing before it
	Move      change // percentage points
	Points    string // "−4.1 pp from points"
	Maximum   string // "+0.2 pp from the maximum"
	Items     []itemView
	More      int // items not shown
	Percent   float64
	AllItems  int
	HasDetail bool
}

// itemView is one control behind a move, as a sentence.
type itemView struct {
	Kind    string
	Control string
	Title   string
	Text    string // what happened, after the title
	Lead    string // before the title ("Microsoft added")
	By      string
	Comment string
	Href    string // the control's own history on the tenant page
}

// signedPP is a change in percentage points: "+0.44 pp", "−4.1 pp".
func signedPP(v float64) string {
	r := math.Round(v*100) / 100
	switch {
	case r > 0:
		return fmt.Sprintf("+%s pp", trimZeros(r))
	case r < 0:
		return fmt.Sprintf("−%s pp", trimZeros(-r))
	}
	return "0 pp"
}

func trimZeros(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// stateText names a control state as the portal does.
func stateText(s string) string {
	switch s {
	case fleetscore.StateThirdParty:
		return "Third party"
	case fleetscore.StateIgnored:
		return "Risk accepted (Ignored)"
	case fleetscore.StateReviewed:
		return "Reviewed"
	case fleetscore.StateDefault, "":
		return "Default"
	}
	return s
}

// describe writes an item as a sentence: "Require MFA for administrative
// roles regressed −10 pts", "Microsoft added Enable Copilot access reviews
// (0 of 8)".
func describe(it ledger.Item) itemView {
	v := itemView{Kind: it.Kind, Control: it.Control, Title: it.Title}
	pts := signedPoints(it.PointsChange) + " pts"
	switch it.Kind {
	case ledger.KindRegression:
		v.Text = "regressed " + pts
	case ledger.KindProgress:
		v.Text = "improved " + pts
	case ledger.KindAdded:
		v.Lead = "Microsoft added"
		v.Text = fmt.Sprintf("(%s of %s)", points(it.PointsChange), points(it.MaxChange))
	case ledger.KindRetired:
		v.Lead = "Microsoft retired"
		v.Text = fmt.Sprintf("(%s of %s lost)", points(-it.PointsChange), points(-it.MaxChange))
	case ledger.KindState:
		v.Text = fmt.Sprintf("set from %s to %s", stateText(it.StateFrom), stateText(it.StateTo))
		if math.Abs(it.PointsChange) > ledger.Tolerance {
			v.Text += ", " + pts
		}
		v.By, v.Comment = it.By, it.Comment
	case ledger.KindUnexplained:
		v.Title = ""
		v.Lead = "Not explained by any control"
		v.Text = "(Microsoft's controls do not add up to its score): " + pts
	}
	return v
}

// firstReason is a one-line reason: the item with the largest effect.
func firstReason(items []ledger.TopItem) *itemView {
	if len(items) == 0 {
		return nil
	}
	v := describe(items[0].Item)
	return &v
}

// changeViews is the tenant page's "What changed" of the tenant's changes
// (query.TenantDetail.Changes), the items of one control only when control
// is set.
func changeViews(tenantID string, changes []ledger.Change, control string) []dayChangeView {
	base := "/tenants/" + url.PathEscape(tenantID)
	var out []dayChangeView
	for _, c := range changes {
		items := c.Items
		if control != "" {
			items = nil
			for _, it := range c.Items {
				if it.Control == control {
					items = append(items, it)
				}
			}
			if len(items) == 0 {
				continue
			}
		}
		if len(items) == 0 && math.Abs(c.PercentChange) < 0.005 {
			continue // nothing moved that day
		}
		v := dayChangeView{
			Date:     c.Day.String(),
			Label:    dayText(c.Day.String()),
			Move:     changeOf(&c.PercentChange),
			Points:   signedPP(c.PercentChangeFromPoints) + " from points",
			Maximum:  signedPP(c.PercentChangeFromMax) + " from the maximum",
			Percent:  c.Percent,
			AllItems: len(items),
		}
		v.HasDetail = math.Abs(c.PercentChangeFromMax) >= 0.005
		if gap := c.Day.Sub(c.PreviousDay); gap > 1 {
			v.Since = "since " + dayText(c.PreviousDay.String()) + " (no score from Microsoft in between)"
		}
		for i, it := range items {
			if i == shownItems && control == "" {
				v.More = len(items) - shownItems
				break
			}
			iv := describe(it)
			if it.Control != "" {
				iv.Href = base + "?control=" + url.QueryEscape(it.Control) + "#changes"
			}
			v.Items = append(v.Items, iv)
		}
		out = append(out, v)
	}
	return out
}

// movedRow is one tenant in "What moved this week".
type movedRow struct {
	Name, Href string
	Move       change
	Reason     *itemView
}

// fleetEventView is one control added or retired at several tenants.
type fleetEventView struct {
	Text string // "Microsoft added Enable Copilot access reviews at 18 tenants"
	Day  string
	Move string // "−0.9 pp across the fleet"
}

// movedView is the overview's "What moved this week".
type movedView struct {
	Days   int
	Falls  []movedRow
	Rises  []movedRow
	Events []fleetEventView
}

// moved builds "What moved this week" from the fleet's ledger.
func moved(rep ledger.Report) *movedView {
	v := &movedView{Days: movedDays}
	row := func(t ledger.Total) movedRow {
		return movedRow{Name: t.Name, Href: "/tenants/" + url.PathEscape(t.TenantID) + "#changes", Move: changeOf(&t.PercentChange), Reason: firstReason(t.Items)}
	}
	// Tenants come biggest fall first.
	for _, t := range rep.Tenants {
		if t.PercentChange <= -0.005 && len(v.Falls) < 5 {
			v.Falls = append(v.Falls, row(t))
		}
	}
	for i := len(rep.Tenants) - 1; i >= 0 && len(v.Rises) < 5; i-- {
		if t := rep.Tenants[i]; t.PercentChange >= 0.005 {
			v.Rises = append(v.Rises, row(t))
		}
	}
	for _, e := range rep.Events {
		verb := "added"
		if e.Kind == ledger.KindRetired {
			verb = "retired"
		}
		v.Events = append(v.Events, fleetEventView{
			Text: fmt.Sprintf("Microsoft %s %s at %d tenants", verb, e.Title, e.Tenants),
			Day:  dayText(e.Day),
			Move: signedPP(e.PercentChange) + " across the fleet",
		})
	}
	if len(v.Falls) == 0 && len(v.Rises) == 0 && len(v.Events) == 0 {
		return nil
	}
	return v
}
