// Package query turns what the store keeps into the figures people and
// programs read: the `tenants` command, the JSON API and (later) the pages
// all take their numbers from here, so they can never disagree.
package query

import (
	"time"

	"github.com/fleetscore/fleetscore"
)

// Tenant is one row of GET /api/v1/tenants and `fleetscore tenants --json`.
type Tenant struct {
	TenantID       string          `json:"tenant_id"`
	Name           string          `json:"name"`
	Percent        *float64        `json:"percent"` // null before the first snapshot
	CurrentScore   *float64        `json:"current_score"`
	MaxScore       *float64        `json:"max_score"`
	AsOf           *string         `json:"as_of"` // the snapshot's date, YYYY-MM-DD
	TargetPercent  float64         `json:"target_percent"`
	MeetsTarget    bool            `json:"meets_target"`
	Change7d       *float64        `json:"change_7d"`       // percent now minus 7 days before; null without history
	Change30d      *float64        `json:"change_30d"`      // the same over 30 days
	LastCollection *LastCollection `json:"last_collection"` // null before the first collection
	// Stale: the latest snapshot is more than CarryForwardDays (3) days
	// before today, so the fleet's figures no longer count the tenant.
	Stale bool `json:"stale"`
}

// LastCollection is a tenant's most recent collection.
type LastCollection struct {
	At     time.Time `json:"at"`     // when it finished (or started, while running)
	Status string    `json:"status"` // ok, error (or running)
	Error  string    `json:"error"`  // empty when ok
	Advice string    `json:"advice,omitempty"`
}

// TenantRow builds one row. Percent is current/max of the latest snapshot
// itself, never an average.
func TenantRow(t fleetscore.TenantStatus) Tenant {
	r := Tenant{TenantID: t.ID, Name: t.Name, TargetPercent: t.TargetPercent}
	if t.Latest != nil {
		p := t.Latest.Percent()
		cur, mx := t.Latest.CurrentScore, t.Latest.MaxScore
		day := t.Latest.Day.String()
		r.Percent, r.CurrentScore, r.MaxScore, r.AsOf = &p, &cur, &mx, &day
		r.MeetsTarget = p >= t.TargetPercent
	}
	if c := t.LastCollection; c != nil {
		at := c.FinishedAt
		if at.IsZero() {
			at = c.StartedAt
		}
		r.LastCollection = &LastCollection{At: at.UTC(), Status: c.Status, Error: c.Error, Advice: c.Advice}
	}
	return r
}

// Summarize is the fleet's headline from its tenant rows: how many have a
// snapshot that is not stale, how many of those meet their target, and the
// mean of their percents (each a percent of its own snapshot, never a ratio
// of summed points). Leaving the stale out gives the base the fleet trend
// counts today.
func Summarize(rows []Tenant) (scored, meeting int, average float64) {
	sum := 0.0
	for _, r := range rows {
		if r.Percent == nil || r.Stale {
			continue
		}
		scored++
		sum += *r.Percent
		if r.MeetsTarget {
			meeting++
		}
	}
	if scored > 0 {
		average = sum / float64(scored)
	}
	return scored, meeting, average
}
