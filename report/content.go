// Package report builds a client's Secure Score report for a period (a
// month, a quarter, or from..to) and writes it as print-friendly HTML or as
// a PDF made in-process (fpdf, with the Go fonts embedded, charts drawn as
// vectors). Every figure comes from package query, so a report, the tenant
// page and the API cannot disagree. It also schedules and delivers the
// reports by e-mail (schedule.go), recording each one sent so that a period
// is never sent twice.
package report

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/ledger"
	"github.com/fleetscore/fleetscore/query"
)

// Section names, in the order the report shows them. A new section is a
// field of Content, a name here, and a case in each writer's section switch.
const (
	SectionSummary      = "summary"
	SectionComparatives = "comparatives"
	SectionTrend        = "trend"
	SectionCategories   = "categories"
	SectionMoves        = "moves"
	SectionActions      = "actions"
	SectionExceptions   = "exceptions"
	SectionCampaigns    = "campaigns"
)

// Sections is the report's order of sections.
var Sections = []string{SectionSummary, SectionComparatives, SectionTrend, SectionCategories, SectionMoves,
	SectionActions, SectionExceptions, SectionCampaigns}

// Bounds of the lists.
const (
	TopActions = 5 // the open actions with the most points to gain
	TopMoves   = 8 // the ledger's biggest moves
)

// Content is everything a report shows, from the query layer.
type Content struct {
	Tenant    query.Tenant // the tenant's row as the API has it (its latest snapshot, not the period's)
	Period    Period
	Generated time.Time
	// First and Last are the period's first and last stored days; nil
	// when the period has none.
	First, Last *query.DayScore
	// Change is Last's percent minus First's, in percentage points.
	Change float64
	// Target is the tenant's target percent; Met says Last reaches it.
	Target float64
	Met    bool
	// Comparatives are Microsoft's averages on Last, by basis, in
	// fleetscore's order (all tenants, similar seat size, same industry).
	Comparatives []Comparative
	Trend        []query.DayScore // every stored day of the period, oldest first
	Categories   []Category
	Moves        []Move
	Actions      []query.Control  // the TopActions open actions with the most points to gain
	Exceptions   []ExceptionEntry // in force (exceptions.Exception.Live), by review date
	Campaigns    []CampaignEntry  // the campaigns that touch the tenant, by due date
}

// CampaignEntry is a campaign that touches the tenant, as the tenant
// stands in it: never the other clients' statuses, nor how many they are.
type CampaignEntry struct {
	Title  string         // the action's title (its control ID when no profile names it)
	Owner  string         // who runs it at the MSSP
	Due    fleetscore.Day // the campaign's due date
	Status string         // the tenant's: campaign.StatusOpen ...
	Since  fleetscore.Day // the first day of that status
}

// Comparative is one of Microsoft's averages against the tenant's percent.
type Comparative struct {
	Basis   string  // fleetscore.BasisAllTenants ...
	Average float64 // as Graph sends it, shown as the tenant page shows it (a percent)
	Diff    float64 // the tenant's percent minus the average
}

// Category is one control category at the period's end.
type Category struct {
	Category         string
	Points, MaxScore float64
	Change           float64 // points over the period
	HasChange        bool
	Open             int
	PointsAvailable  float64
}

// Percent is the share of the category's points achieved.
func (c Category) Percent() float64 { return fleetscore.Percent(c.Points, c.MaxScore) }

// Move is one item of the change ledger in the period with its effect on
// the tenant's percent.
type Move struct {
	Day    fleetscore.Day
	Item   ledger.Item
	Effect float64 // percentage points
}

// ExceptionEntry is an exception in force with its action's title.
type ExceptionEntry struct {
	exceptions.Exception
	Title string
}

// Exceptions reads a tenant's exceptions of the register; nil reads none.
type Exceptions func(ctx context.Context, tenantID string) ([]exceptions.Exception, error)

// Campaigns reads the campaigns that touch a tenant, with that tenant
// alone among their members (campaign.Service.List with a sees of the
// one tenant); nil reads none.
type Campaigns func(ctx context.Context, tenantID string) ([]campaign.Progress, error)

// Registers are the registers a report reads beside the scores: the
// exceptions and the campaigns. A nil one leaves its section empty.
type Registers struct {
	Exceptions Exceptions
	Campaigns  Campaigns
}

// Build gathers the report of a tenant for a period. src is the source the
// reader may see (query.Restrict for a client): another tenant is
// fleetscore.ErrNotFound, as on the pages.
func Build(ctx context.Context, src query.Source, regs Registers, tenantID string, p Period, now time.Time) (*Content, error) {
	d, err := query.TenantDetailView(ctx, src, tenantID, p.From, p.To)
	if err != nil {
		return nil, err
	}
	c := &Content{Tenant: d.Tenant, Period: p, Generated: now.UTC(), Target: d.TargetPercent, Trend: d.Days,
		Categories: []Category{}, Moves: []Move{}, Actions: []query.Control{}, Exceptions: []ExceptionEntry{}, Campaigns: []CampaignEntry{}}
	if n := len(d.Days); n > 0 {
		c.First, c.Last = &d.Days[0], &d.Days[n-1]
		c.Change = c.Last.Percent - c.First.Percent
		c.Met = c.Last.Percent >= c.Target
		for _, b := range []string{fleetscore.BasisAllTenants, fleetscore.BasisTotalSeats, fleetscore.BasisIndustryTypes} {
			if a, ok := c.Last.Averages[b]; ok {
				c.Comparatives = append(c.Comparatives, Comparative{Basis: b, Average: a, Diff: c.Last.Percent - a})
			}
		}
	}
	c.Categories = categories(d)
	for _, ch := range d.Changes {
		if ch.Day.Before(p.From) || ch.Day.After(p.To) {
			continue
		}
		for _, it := range ch.Items {
			c.Moves = append(c.Moves, Move{Day: ch.Day, Item: it, Effect: ch.Effect(it)})
		}
	}
	slices.SortStableFunc(c.Moves, func(a, b Move) int {
		if x := cmp.Compare(math.Abs(b.Effect), math.Abs(a.Effect)); x != 0 {
			return x
		}
		if x := cmp.Compare(a.Day.Unix(), b.Day.Unix()); x != 0 {
			return x
		}
		return cmp.Compare(a.Item.Title, b.Item.Title)
	})
	c.Moves = c.Moves[:min(len(c.Moves), TopMoves)]
	titles := map[string]string{}
	for _, h := range d.Controls {
		titles[h.Control.Control] = h.Title
		// d.Controls are ordered by points available, then title: the
		// open ones come first.
		if h.Open && len(c.Actions) < TopActions {
			c.Actions = append(c.Actions, h.Control)
		}
	}
	if regs.Exceptions != nil {
		es, err := regs.Exceptions(ctx, d.TenantID)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.Live() {
				t := titles[e.Control]
				if t == "" {
					t = e.Control
				}
				c.Exceptions = append(c.Exceptions, ExceptionEntry{Exception: e, Title: t})
			}
		}
		slices.SortStableFunc(c.Exceptions, func(a, b ExceptionEntry) int {
			if x := cmp.Compare(a.ReviewBy.Unix(), b.ReviewBy.Unix()); x != 0 {
				return x
			}
			return cmp.Compare(a.Title, b.Title)
		})
	}
	if regs.Campaigns != nil {
		cs, err := regs.Campaigns(ctx, d.TenantID)
		if err != nil {
			return nil, err
		}
		for _, p := range cs {
			for _, m := range p.Members {
				if !strings.EqualFold(m.TenantID, d.TenantID) {
					continue
				}
				t := cmp.Or(p.Title, titles[p.Control], p.Control)
				c.Campaigns = append(c.Campaigns, CampaignEntry{Title: t, Owner: p.Owner, Due: p.Due, Status: m.Status, Since: m.Since})
			}
		}
		slices.SortStableFunc(c.Campaigns, func(a, b CampaignEntry) int {
			if x := cmp.Compare(a.Due.Unix(), b.Due.Unix()); x != 0 {
				return x
			}
			return cmp.Compare(a.Title, b.Title)
		})
	}
	return c, nil
}

// categories are the tenant page's categories on the period's last stored
// day: its points are the category's on that day (CategoryPoints.Daily),
// its maximum the sum of the maxima of the controls scored that day.
func categories(d *query.TenantDetail) []Category {
	last := len(d.Days) - 1
	if last < 0 {
		return []Category{}
	}
	maxOf := map[string]float64{}
	for _, h := range d.Controls {
		if !math.IsNaN(h.Daily[last]) {
			maxOf[h.Category] += h.MaxScore
		}
	}
	out := []Category{}
	for _, cp := range d.Categories {
		pts := cp.Daily[last]
		if math.IsNaN(pts) {
			pts = 0
		}
		c := Category{Category: cp.Category, Points: pts, MaxScore: maxOf[cp.Category], Open: cp.Open, PointsAvailable: cp.PointsAvailable}
		c.Change, c.HasChange = cp.Change()
		if c.MaxScore == 0 && c.Points == 0 && c.Open == 0 {
			continue // not part of this tenant's score, as on the page
		}
		out = append(out, c)
	}
	return out
}
