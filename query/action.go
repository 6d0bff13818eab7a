package query

// One recommended action across the fleet (the action page and
// GET /api/v1/actions/{control}), the actions page's sort orders, and what
// lifting a tenant over its target means: every number the page and the
// API show of an action comes from ActionDetail.

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/fleetscore/fleetscore"
)

// ActionDetail is one action at every tenant where it is part of the
// Secure Score: GET /api/v1/actions/{control} and /actions/{control}.
type ActionDetail struct {
	Control  string `json:"control"`
	Title    string `json:"title"`
	Category string `json:"category"`
	// MaxScore is the control's maximum: the largest of the tenants'
	// profiles (Microsoft gives every tenant the same one).
	MaxScore    float64        `json:"max_score"`
	OpenTenants int            `json:"open_tenants"`
	Tenants     []ActionTenant `json:"tenants"` // open first, most percent to gain first, then by name
	// What the page shows beside the API's fields.
	Tier               string `json:"-"`
	UserImpact         string `json:"-"`
	ImplementationCost string `json:"-"`
	// Remediation is Graph's remediation text, HTML as Graph sends it:
	// sanitise before showing it.
	Remediation string `json:"-"`
}

// ActionTenant is the action at one tenant, on the tenant's latest day.
type ActionTenant struct {
	TenantID string  `json:"tenant_id"`
	Name     string  `json:"name"`
	State    string  `json:"state"` // the profile's state: Default, Ignored, ThirdParty, Reviewed
	Score    float64 `json:"score"`
	MaxScore float64 `json:"max_score"` // the control's maximum at this tenant
	Open     bool    `json:"open"`
	// GainPoints is MaxScore − Score where the action is open, else 0.
	GainPoints float64 `json:"gain_points"`
	// GainPercent is GainPoints as a percent of the tenant's maxScore:
	// how far its Secure Score would rise.
	GainPercent float64 `json:"gain_percent"`
	// LiftsOverTarget: the tenant is below its target now and would meet
	// it with this action done.
	LiftsOverTarget bool   `json:"lifts_over_target"`
	PortalURL       string `json:"portal_url"`

	Percent       float64 `json:"-"` // the tenant's Secure Score now
	TargetPercent float64 `json:"-"`
	Deprecated    bool    `json:"-"`
	// Excepted is the state a live exception of the register sets here;
	// "" when none. An excepted action is not open.
	Excepted string `json:"-"`
	// ActionURL is where the profile says to fix the action.
	ActionURL string `json:"-"`
}

// liftsOverTarget reports whether gaining gain points takes a tenant whose
// snapshot is s from below its target to at least it.
func liftsOverTarget(s *fleetscore.Score, target, gain float64) bool {
	if s == nil || s.MaxScore <= 0 || gain <= 0 {
		return false
	}
	return s.Percent() < target && fleetscore.Percent(s.CurrentScore+gain, s.MaxScore) >= target
}

// DefenderPortal is the Microsoft Defender portal, where a tenant's Secure
// Score and its recommended actions are.
const DefenderPortal = "https://security.microsoft.com/securescore?viewid=actions"

// PortalURL is where an action is fixed at a tenant, in that tenant's
// portal: the profile's actionUrl when it points into the Defender portal
// (https://security.microsoft.com), else the Defender portal's Secure
// Score actions view; either with tid=<tenant ID>, which makes the portal
// open that tenant for a signed-in MSSP (GDAP) rather than the user's home
// tenant, replacing any tid Graph put there.
func PortalURL(tenantID, actionURL string) string {
	u, err := url.Parse(actionURL)
	if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, "security.microsoft.com") || u.User != nil {
		u, _ = url.Parse(DefenderPortal)
	}
	q := u.Query()
	q.Set("tid", tenantID)
	u.RawQuery = q.Encode()
	return u.String()
}

// ActionDetailView builds one action across the tenants of src. A control that
// is part of no tenant's latest snapshot (or of none src shows) wraps
// fleetscore.ErrNotFound. Open, gain and excepted are counted as Actions
// counts them, so open_tenants matches the ranking's.
func ActionDetailView(ctx context.Context, src Source, control string) (*ActionDetail, error) {
	d := &ActionDetail{Control: control, Tenants: []ActionTenant{}}
	var first string // a tenant whose full profile holds the remediation text
	add := func(st fleetscore.TenantStatus, c fleetscore.ControlScore, p fleetscore.ControlProfile, except map[string]map[string]string) {
		if first == "" || d.Title == "" && p.Title != "" {
			first = st.ID
			d.Title, d.Category, d.Tier, d.UserImpact, d.ImplementationCost = p.Title, p.Category, p.Tier, p.UserImpact, p.ImplementationCost
			if d.Category == "" {
				d.Category = c.Category
			}
		}
		d.MaxScore = max(d.MaxScore, p.MaxScore)
		t := ActionTenant{TenantID: st.ID, Name: st.Name, State: p.State(), Score: c.Score, MaxScore: p.MaxScore,
			Percent: st.Latest.Percent(), TargetPercent: st.TargetPercent, Deprecated: p.Deprecated,
			Excepted: except[st.ID][p.ID], ActionURL: p.ActionURL, PortalURL: PortalURL(st.ID, p.ActionURL)}
		t.Open = t.Excepted == "" && IsOpen(c.Score, p)
		if t.Open {
			d.OpenTenants++
			t.GainPoints = p.MaxScore - c.Score
			t.GainPercent = t.GainPoints / st.Latest.MaxScore * 100
			t.LiftsOverTarget = liftsOverTarget(st.Latest, st.TargetPercent, t.GainPoints)
		}
		d.Tenants = append(d.Tenants, t)
	}
	// Over the fleet model its shared parts, scanned: at 10,000 tenants
	// about 10 ms, once per version and control (the page and the API
	// keep what they build from it), where an index of every control at
	// every tenant kept 28 MB.
	fl, err := readFleet(ctx, src)
	if err != nil {
		return nil, err
	}
	statuses, controls, profiles, except := fl.statuses, fl.controls, fl.profiles, fl.except
	for _, st := range statuses {
		if st.Latest == nil || st.Latest.MaxScore <= 0 {
			continue
		}
		i := slices.IndexFunc(controls.by[st.ID], func(c cscore) bool { return controls.name(c) == control })
		j := slices.IndexFunc(profiles[st.ID], func(p summary) bool { return p.shared.ID == control })
		if i < 0 || j < 0 {
			continue
		}
		add(st, controls.control(controls.by[st.ID][i]), profiles[st.ID][j].full(), except)
	}
	if len(d.Tenants) == 0 {
		return nil, fmt.Errorf("action %q: %w", control, fleetscore.ErrNotFound)
	}
	if d.Title == "" {
		d.Title = control
	}
	if d.Remediation, err = remediationOf(ctx, src, first, control); err != nil {
		return nil, err
	}
	slices.SortStableFunc(d.Tenants, func(a, b ActionTenant) int {
		if a.Open != b.Open {
			if a.Open {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.GainPercent, a.GainPercent); c != 0 {
			return c
		}
		if c := cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return cmp.Compare(a.TenantID, b.TenantID)
	})
	return d, nil
}

// remediationOf is the control's remediation text in the full profile of
// the tenant first; over the fleet model it is read once per version and
// control (one part holds them all: a part each would crowd the
// version's other parts out).
func remediationOf(ctx context.Context, src Source, first, control string) (string, error) {
	read := func() (string, error) {
		full, err := profilesOf(ctx, src, first)
		if err != nil {
			return "", err
		}
		if k := slices.IndexFunc(full, func(p fleetscore.ControlProfile) bool { return p.ID == control }); k >= 0 {
			return full[k].Remediation, nil
		}
		return "", nil
	}
	v, ok, err := modelOf(ctx, src)
	if err != nil {
		return "", err
	}
	if !ok {
		return read()
	}
	texts, err := memoIn(ctx, v, "remediation", func(context.Context, Source) (*sync.Map, error) { return &sync.Map{}, nil })
	if err != nil {
		return "", err
	}
	if r, ok := texts.Load(control); ok {
		return r.(string), nil
	}
	r, err := read()
	if err == nil {
		texts.Store(control, r)
	}
	return r, err
}

// Lifted is how many of the tenants the action lifts over their target.
func (d *ActionDetail) Lifted() int {
	n := 0
	for _, t := range d.Tenants {
		if t.LiftsOverTarget {
			n++
		}
	}
	return n
}

// Action sort keys, as the actions page's ?sort= names them. Each sorts
// the way a reader wants first: the most open tenants, fleet gain, tenants
// lifted and points first; the lowest user impact and cost first.
const (
	SortOpen   = "open"
	SortGain   = "gain"
	SortLifted = "lifted"
	SortPoints = "points"
	SortImpact = "impact"
	SortCost   = "cost"
)

// ActionSortKeys are the actions page's sort keys; the first is the
// default, the ranking of Actions.
var ActionSortKeys = []string{SortOpen, SortGain, SortLifted, SortPoints, SortImpact, SortCost}

// Level orders Microsoft's user impact and implementation cost: Low 1,
// Moderate (or Medium) 2, High 3; anything else (Unknown, none) 4, after
// High, as nothing says it is cheap.
func Level(s string) int {
	switch strings.ToLower(s) {
	case "low":
		return 1
	case "moderate", "medium":
		return 2
	case "high":
		return 3
	}
	return 4
}

// SortActions orders actions, ranked as Actions ranks them, by a key of
// ActionSortKeys (an unknown key keeps the ranking). The sort is stable,
// so ties keep the ranking's order (open tenants, points, control ID): the
// same data always gives the same order.
func SortActions(as []Action, key string) {
	var c func(a, b Action) int
	switch key {
	case SortGain:
		c = func(a, b Action) int { return cmp.Compare(b.FleetPercentGain, a.FleetPercentGain) }
	case SortLifted:
		c = func(a, b Action) int { return cmp.Compare(b.LiftedTenants, a.LiftedTenants) }
	case SortPoints:
		c = func(a, b Action) int { return cmp.Compare(b.PointsAvailable, a.PointsAvailable) }
	case SortImpact:
		c = func(a, b Action) int { return cmp.Compare(Level(a.UserImpact), Level(b.UserImpact)) }
	case SortCost:
		c = func(a, b Action) int { return cmp.Compare(Level(a.ImplementationCost), Level(b.ImplementationCost)) }
	default:
		return
	}
	slices.SortStableFunc(as, c)
}
