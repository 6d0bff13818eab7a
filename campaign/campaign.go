// Package campaign owns campaigns: one recommended action rolled out to
// many client tenants, with an owner, a due date and a note per tenant,
// and each tenant's status derived day by day from the collected Secure
// Score data (never typed by anyone). The register is kept by the store
// (Register); Derive is the pure derivation the pages, the API and the
// alerts all read through Service.
package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Statuses of a tenant in a campaign.
const (
	// StatusOpen: the control is not at full points and has gained none
	// since the campaign started.
	StatusOpen = "open"
	// StatusInProgress: the control scores more than it did when the
	// campaign started, but not full points. A tenant that had some
	// points already at the start (say MFA for half its users) is open,
	// not in progress, until someone moves it: the campaign shows work
	// done during it, not what was there before.
	StatusInProgress = "in_progress"
	// StatusDone: full points (the control's score reaches the profile's
	// maxScore).
	StatusDone = "done"
	// StatusExcepted: an exception is in force for the tenant and the
	// control (the exceptions register): settled, as done is.
	StatusExcepted = "excepted"
	// StatusNotApplicable: the tenant has no such control.
	StatusNotApplicable = "not_applicable"
	// StatusRegressed: was done on some day of the campaign, and is not
	// at full points any more.
	StatusRegressed = "regressed"
)

// Statuses lists every status in the order the pages explain them.
var Statuses = []string{StatusOpen, StatusInProgress, StatusDone, StatusExcepted, StatusNotApplicable, StatusRegressed}

// Settled reports whether a status needs no more work: done, excepted or
// not applicable. The others are open in the burndown.
func Settled(status string) bool {
	return status == StatusDone || status == StatusExcepted || status == StatusNotApplicable
}

// Bounds of what a request may carry.
const (
	MaxOwner   = 200  // bytes
	MaxNote    = 2000 // bytes
	MaxControl = 200  // bytes
	MaxTenants = 1000 // tenants in one campaign
)

// fullTolerance is how far below maxScore a control's score still counts
// as full points: Graph rounds scores to hundredths.
const fullTolerance = 0.005

// Campaign is one rollout of one control.
type Campaign struct {
	ID        int64
	Control   string
	Tenants   []Member // in the order they were given
	Owner     string
	Due       fleetscore.Day
	CreatedAt time.Time
	CreatedBy string
}

// Start is the campaign's first day: the UTC day it was created.
func (c Campaign) Start() fleetscore.Day { return fleetscore.DayOf(c.CreatedAt) }

// Member is one tenant of a campaign with the campaign's note about it.
type Member struct {
	TenantID string
	Note     string
}

// Register keeps the campaigns: the relational store implements it.
type Register interface {
	// PutCampaign adds a campaign with its tenants and returns it with its ID.
	PutCampaign(ctx context.Context, c Campaign) (Campaign, error)
	// Campaign returns one; an unknown ID is fleetscore.ErrNotFound.
	Campaign(ctx context.Context, id int64) (Campaign, error)
	// Campaigns returns every campaign, oldest first.
	Campaigns(ctx context.Context) ([]Campaign, error)
	// SetCampaignNote replaces the note of one tenant of a campaign; an
	// unknown campaign or a tenant not in it is fleetscore.ErrNotFound.
	SetCampaignNote(ctx context.Context, id int64, tenantID, note string) error
}

// Error kinds: the API maps them to statuses; a missing campaign is
// fleetscore.ErrNotFound.
var ErrInvalid = errors.New("invalid campaign")

// DayScore is a tenant's control on one stored day: its points, or Has
// false when that day's snapshot does not score the control.
type DayScore struct {
	Day   fleetscore.Day
	Score float64
	Has   bool
}

// History is what Derive reads of one tenant: the control's maximum (the
// profile's maxScore; 0 when the tenant has no such profile), its points
// on each stored day, oldest first, from the last day on or before the
// campaign's start, and since when an exception is in force (zero: none).
type History struct {
	MaxScore     float64
	Days         []DayScore
	ExceptedFrom fleetscore.Day
}

// Tenant is one tenant's progress in a campaign.
type Tenant struct {
	TenantID   string
	Name       string
	Status     string
	Since      fleetscore.Day // the first day of the current status run
	Score      float64        // the control's points on the latest day
	StartScore float64        // ... on the campaign's start
	MaxScore   float64
	Note       string
}

// BurnDay is one day of the burndown: the tenants still open (neither
// done, excepted nor not applicable) at the end of that day.
type BurnDay struct {
	Day  fleetscore.Day
	Open int
}

// Progress is a campaign as of one day.
type Progress struct {
	Campaign
	Title   string // the control's title ("" when no tenant has its profile)
	Today   fleetscore.Day
	Done    int // tenants settled: done, excepted or not applicable
	Total   int
	Overdue bool // the due date has passed and tenants are still open
	// PointsGained sums, over the tenants, the control's points now minus
	// at the start, never below 0 for a tenant.
	PointsGained float64
	Members      []Tenant
	Burndown     []BurnDay // the campaign's start to Today, one entry per day
}

// Derive works out every tenant's status on each day from the campaign's
// start to today and returns the campaign as of today. hist holds each
// member's history (a member missing from it has no data yet: open);
// names gives tenants' names. It is pure: the same input, the same answer.
//
// On a day, a tenant's control counts at its latest stored day on or
// before it (a day without a collection repeats the one before). Excepted
// wins from the day the exception was applied; then a day without the
// control is not_applicable; full points are done; below full after a
// done day of the campaign is regressed; above the start's points is
// in_progress; else open.
func Derive(c Campaign, hist map[string]History, names map[string]string, today fleetscore.Day) Progress {
	start := c.Start()
	if today.Before(start) {
		today = start
	}
	p := Progress{Campaign: c, Today: today, Total: len(c.Tenants)}
	n := today.Sub(start) + 1
	openByDay := make([]int, n)
	for _, m := range c.Tenants {
		h := hist[m.TenantID]
		t := Tenant{TenantID: m.TenantID, Name: names[m.TenantID], Note: m.Note, MaxScore: h.MaxScore}
		// The start's points: those of the start day, or of the first day
		// collected after it for a tenant collected only since.
		if s, ok := at(h.Days, start); ok {
			t.StartScore = s.Score
		} else if len(h.Days) > 0 {
			t.StartScore = h.Days[0].Score
		}
		wasDone := false
		prev := ""
		for i := range n {
			d := start.AddDays(i)
			cur, ok := at(h.Days, d)
			st := status(h, cur, ok, d, t.StartScore, wasDone)
			if st == StatusDone {
				wasDone = true
			}
			if st != prev {
				t.Since, prev = d, st
			}
			if !Settled(st) {
				openByDay[i]++
			}
			if ok && cur.Has {
				t.Score = cur.Score
			}
		}
		t.Status = prev
		if Settled(t.Status) {
			p.Done++
		}
		if g := t.Score - t.StartScore; g > 0 && t.Status != StatusNotApplicable {
			p.PointsGained += g
		}
		p.Members = append(p.Members, t)
	}
	for i, o := range openByDay {
		p.Burndown = append(p.Burndown, BurnDay{Day: start.AddDays(i), Open: o})
	}
	p.Overdue = !c.Due.IsZero() && today.After(c.Due) && p.Done < p.Total
	return p
}

// status is a tenant's status on day d.
func status(h History, cur DayScore, ok bool, d fleetscore.Day, startScore float64, wasDone bool) string {
	switch {
	case !h.ExceptedFrom.IsZero() && !d.Before(h.ExceptedFrom):
		return StatusExcepted
	case !ok:
		return StatusOpen // nothing collected yet
	case !cur.Has || h.MaxScore <= 0:
		return StatusNotApplicable
	case cur.Score >= h.MaxScore-fullTolerance:
		return StatusDone
	case wasDone:
		return StatusRegressed
	case cur.Score > startScore:
		return StatusInProgress
	}
	return StatusOpen
}

// at is the latest day of days on or before d; ok is false when there is
// none.
func at(days []DayScore, d fleetscore.Day) (DayScore, bool) {
	var best DayScore
	found := false
	for _, x := range days {
		if x.Day.After(d) {
			break
		}
		best, found = x, true
	}
	return best, found
}

// progressJSON is the API's campaign object.
type progressJSON struct {
	ID           int64        `json:"id"`
	Control      string       `json:"control"`
	Title        string       `json:"title"`
	Owner        string       `json:"owner"`
	Due          string       `json:"due"`
	Start        string       `json:"start"`
	Today        string       `json:"today"`
	Done         int          `json:"done"`
	Total        int          `json:"total"`
	Overdue      bool         `json:"overdue"`
	PointsGained float64      `json:"points_gained"`
	CreatedAt    time.Time    `json:"created_at"`
	CreatedBy    string       `json:"created_by"`
	Tenants      []tenantJSON `json:"tenants"`
	Burndown     []burnJSON   `json:"burndown"`
}

type tenantJSON struct {
	TenantID   string  `json:"tenant_id"`
	Name       string  `json:"name"`
	Status     string  `json:"status"`
	Since      string  `json:"since"`
	Score      float64 `json:"score"`
	StartScore float64 `json:"start_score"`
	MaxScore   float64 `json:"max_score"`
	Note       string  `json:"note"`
}

type burnJSON struct {
	Day  string `json:"day"`
	Open int    `json:"open"`
}

// MarshalJSON writes the API's campaign object: {id, control, owner, due,
// done, total, tenants: [{tenant_id, status, since}], ...}.
func (p Progress) MarshalJSON() ([]byte, error) {
	j := progressJSON{ID: p.ID, Control: p.Control, Title: p.Title, Owner: p.Owner, Due: p.Due.String(),
		Start: p.Start().String(), Today: p.Today.String(), Done: p.Done, Total: p.Total, Overdue: p.Overdue,
		PointsGained: round2(p.PointsGained), CreatedAt: p.CreatedAt.UTC(), CreatedBy: p.CreatedBy,
		Tenants: []tenantJSON{}, Burndown: []burnJSON{}}
	for _, t := range p.Members {
		j.Tenants = append(j.Tenants, tenantJSON{TenantID: t.TenantID, Name: t.Name, Status: t.Status, Since: t.Since.String(),
			Score: t.Score, StartScore: t.StartScore, MaxScore: t.MaxScore, Note: t.Note})
	}
	for _, b := range p.Burndown {
		j.Burndown = append(j.Burndown, burnJSON{Day: b.Day.String(), Open: b.Open})
	}
	return json.Marshal(j)
}

func round2(v float64) float64 {
	r, _ := json.Number(fmt.Sprintf("%.2f", v)).Float64()
	return r
}
