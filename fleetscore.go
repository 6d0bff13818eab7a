// Package fleetscore holds the domain of the fleetscore collector: client
// tenants, their daily Secure Score snapshots, the control profiles behind the
// recommended actions, and the log of collections. It depends on the standard
// library only; Graph, the stores, the emulator and the command line adapt it.
package fleetscore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// DayLayout is how a Day is written everywhere: in the store, the API and CSV.
const DayLayout = "2006-01-02"

// Day is a UTC calendar date, the unit of Secure Score history: Graph keeps one
// snapshot per tenant per day, dated by the UTC date of createdDateTime.
type Day struct{ t time.Time }

// DayOf returns the UTC date of t.
func DayOf(t time.Time) Day {
	y, m, d := t.UTC().Date()
	return Day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// ParseDay parses YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(DayLayout, s)
	if err != nil {
		return Day{}, fmt.Errorf("%q is not a date in the form YYYY-MM-DD", s)
	}
	return Day{t}, nil
}

// MustDay is ParseDay for constants in tests and examples; it panics on a bad date.
func MustDay(s string) Day {
	d, err := ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

// String renders the day as YYYY-MM-DD.
func (d Day) String() string { return d.t.Format(DayLayout) }

// Time is midnight UTC of the day.
func (d Day) Time() time.Time { return d.t }

// IsZero reports whether d was never set.
func (d Day) IsZero() bool { return d.t.IsZero() }

// AddDays moves the day by n days.
func (d Day) AddDays(n int) Day { return Day{d.t.AddDate(0, 0, n)} }

// Before reports whether d is earlier than o.
func (d Day) Before(o Day) bool { return d.t.Before(o.t) }

// After reports whether d is later than o.
func (d Day) After(o Day) bool { return d.t.After(o.t) }

// Sub is the number of days from o to d.
func (d Day) Sub(o Day) int { return int(d.t.Sub(o.t).Hours() / 24) }

// Unix is the day as days since 1970-01-01, the compact form the stores keep.
func (d Day) Unix() int64 { return d.t.Unix() / 86400 }

// DayFromUnix is the inverse of Day.Unix.
func DayFromUnix(n int64) Day { return Day{time.Unix(n*86400, 0).UTC()} }

// Control categories as Graph names them.
const (
	CategoryIdentity       = "Identity"
	CategoryData           = "Data"
	CategoryDevice         = "Device"
	CategoryApps           = "Apps"
	CategoryInfrastructure = "Infrastructure"
)

// Categories lists the control categories in the order the pages show them.
var Categories = []string{CategoryIdentity, CategoryData, CategoryDevice, CategoryApps, CategoryInfrastructure}

// Control states (the state of the latest controlStateUpdates entry).
const (
	StateDefault    = "Default"
	StateIgnored    = "Ignored"
	StateThirdParty = "ThirdParty"
	StateReviewed   = "Reviewed"
)

// Comparative-average bases.
const (
	BasisAllTenants    = "AllTenants"
	BasisTotalSeats    = "TotalSeats"
	BasisIndustryTypes = "IndustryTypes"
)

// Tenant is one client tenant as configured.
type Tenant struct {
	ID            string  // the Entra tenant ID (a GUID, lower case)
	Name          string  // the MSSP's name for the client
	TargetPercent float64 // the KPI target, e.g. 75
}

// Score is one tenant's Secure Score snapshot of one day.
type Score struct {
	TenantID          string
	Day               Day
	CurrentScore      float64
	MaxScore          float64
	ActiveUserCount   int
	LicensedUserCount int
	EnabledServices   []string
	// Averages are Microsoft's comparative averages by basis; a basis Graph
	// did not send (or sent as the -1 sentinel) is absent.
	Averages map[string]float64
	Controls []ControlScore
}

// Percent is currentScore / maxScore * 100 of this one snapshot; 0 when the
// snapshot has no max. It is never a sum across days or tenants.
func (s Score) Percent() float64 { return Percent(s.CurrentScore, s.MaxScore) }

// Percent is current / max * 100, or 0 when max is not positive.
func Percent(current, max float64) float64 {
	if max <= 0 {
		return 0
	}
	return current / max * 100
}

// ScoreTolerance is how far a snapshot's currentScore may pass its
// maxScore before it is refused: Graph rounds the two apart by hundredths,
// never by half a point.
const ScoreTolerance = 0.5

// Check refuses a snapshot no tenant can have: a score or maximum that is
// not a finite number, a negative one, a current score above the maximum
// (beyond ScoreTolerance), or a control with negative or non-finite
// points. Stored, such a day would turn into 500 % and drag the fleet's
// average past 100 %.
func (s Score) Check() error {
	switch {
	case !finite(s.CurrentScore) || !finite(s.MaxScore):
		return fmt.Errorf("secure score of %s is not a number (current %v, max %v)", s.Day, s.CurrentScore, s.MaxScore)
	case s.CurrentScore < 0 || s.MaxScore < 0:
		return fmt.Errorf("secure score of %s is negative (current %v, max %v)", s.Day, s.CurrentScore, s.MaxScore)
	case s.CurrentScore > s.MaxScore+ScoreTolerance:
		return fmt.Errorf("secure score of %s is above its maximum (current %v, max %v)", s.Day, s.CurrentScore, s.MaxScore)
	}
	for _, c := range s.Controls {
		if !finite(c.Score) || c.Score < 0 {
			return fmt.Errorf("secure score of %s: control %s has %v points", s.Day, c.Name, c.Score)
		}
	}
	return nil
}

// Check refuses a control profile whose maximum is negative or not a number.
func (p ControlProfile) Check() error {
	if !finite(p.MaxScore) || p.MaxScore < 0 {
		return fmt.Errorf("control profile %s has a maximum of %v points", p.ID, p.MaxScore)
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// ControlScore is one control's points in one day's snapshot.
type ControlScore struct {
	Name     string // controlName, the id of the matching control profile
	Category string
	Score    float64
}

// ControlProfile is a tenant's recommended action as Graph describes it.
type ControlProfile struct {
	ID                 string
	Title              string
	Category           string
	MaxScore           float64
	Rank               int
	Tier               string
	UserImpact         string
	ImplementationCost string
	ActionType         string
	ActionURL          string
	Service            string
	Threats            []string
	Deprecated         bool
	Remediation        string
	// StateUpdates is Graph's controlStateUpdates, oldest first; the last one
	// is the current state.
	StateUpdates []ControlStateUpdate
}

// State is the control's current state: that of its latest state update, or
// Default when it has none.
func (p ControlProfile) State() string {
	if n := len(p.StateUpdates); n > 0 && p.StateUpdates[n-1].State != "" {
		return p.StateUpdates[n-1].State
	}
	return StateDefault
}

// ControlStateUpdate is one entry of a control profile's controlStateUpdates.
type ControlStateUpdate struct {
	State      string
	AssignedTo string
	Comment    string
	UpdatedBy  string
	UpdatedAt  time.Time // zero when Graph sent null
}

// Collection statuses.
const (
	StatusOK      = "ok"
	StatusError   = "error"
	StatusRunning = "running"
)

// Collection is one collection of one tenant: the collection log's row.
type Collection struct {
	ID         int64
	TenantID   string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	Status     string    // StatusOK, StatusError or StatusRunning
	Error      string    // what went wrong, for people; never holds a secret
	Advice     string    // how to fix it
	Days       int       // score days written
	Controls   int       // control profiles written
	Requests   int       // Graph and token requests made
}

// Duration is how long the collection took.
func (c Collection) Duration() time.Duration {
	if c.FinishedAt.IsZero() {
		return 0
	}
	return c.FinishedAt.Sub(c.StartedAt)
}

// Batch is everything one collection of one tenant writes, in one transaction.
type Batch struct {
	Tenant   Tenant
	Scores   []Score          // any order; a day already stored is replaced
	Profiles []ControlProfile // the tenant's full list; nil leaves profiles as they were
}

// TenantStatus is a tenant with its latest snapshot and its last collection,
// the row of `fleetscore tenants` and of GET /api/v1/tenants.
type TenantStatus struct {
	Tenant
	Latest         *Score      // nil before the first successful collection; Controls not loaded
	LastCollection *Collection // nil before the first collection
}

// ErrNotFound is returned (wrapped) when a tenant, day or record does not exist.
var ErrNotFound = errors.New("not found")

// Store keeps the history. Implementations: sqlite.Store (and postgres.Store).
type Store interface {
	// SyncTenants records the configured tenants (name, target); tenants no
	// longer configured keep their history.
	SyncTenants(ctx context.Context, tenants []Tenant) error
	// LatestDay is the newest stored day of a tenant; ok is false when none.
	LatestDay(ctx context.Context, tenantID string) (day Day, ok bool, err error)
	// SaveBatch writes one tenant's batch atomically and idempotently.
	SaveBatch(ctx context.Context, b Batch) error
	// StartCollection logs a collection as running and returns its ID.
	StartCollection(ctx context.Context, c Collection) (int64, error)
	// FinishCollection records the outcome of a collection started earlier.
	FinishCollection(ctx context.Context, c Collection) error
	// Scores returns a tenant's snapshots from..to inclusive (zero days mean
	// unbounded), oldest first, with their control scores.
	Scores(ctx context.Context, tenantID string, from, to Day) ([]Score, error)
	// Profiles returns a tenant's current control profiles.
	Profiles(ctx context.Context, tenantID string) ([]ControlProfile, error)
	// Tenants lists every tenant with its latest snapshot and last collection.
	Tenants(ctx context.Context) ([]TenantStatus, error)
	// Collections returns the newest collections first, at most limit.
	Collections(ctx context.Context, tenantID string, limit int) ([]Collection, error)
	Close() error
}

// FleetReader reads across every tenant at once, for the fleet views (the
// overview, the actions ranking, the fleet trend). Stores implement it next
// to Store.
type FleetReader interface {
	// Daily returns every tenant's snapshots from..to inclusive (zero days
	// mean unbounded) without control scores, ordered by tenant ID, then day.
	Daily(ctx context.Context, from, to Day) ([]Score, error)
	// LatestControls returns, by tenant ID, the control scores of each
	// tenant's latest day.
	LatestControls(ctx context.Context) (map[string][]ControlScore, error)
	// ProfileSummaries returns, by tenant ID, each tenant's current control
	// profiles without Remediation and Threats, and with only the latest
	// state update: what a ranking across tenants needs.
	ProfileSummaries(ctx context.Context) (map[string][]ControlProfile, error)
	// RecentScores returns, by tenant ID, each tenant's last n stored days
	// (fewer when it has fewer), oldest first, for the change ledger: their
	// Controls hold only the controls whose score differs between some two
	// of those days, so every difference between two of them is there
	// without replaying every control of every tenant.
	RecentScores(ctx context.Context, n int) (map[string][]Score, error)
	// RecentChanges is what the change ledger of the fleet reads, in one
	// pass: RecentScores(n), and by tenant ID the current profiles (ID,
	// Title, Category, MaxScore and every state update) of the controls
	// that can make an item in those days: those that change after the
	// first of them, and those with a state update dated on or after it.
	RecentChanges(ctx context.Context, n int) (map[string][]Score, map[string][]ControlProfile, error)
}

// Version is a store's version: what a reader holding figures built from
// the store compares to know whether they are still current. Collections
// moves with the collection log (a collection saves its scores and
// profiles before it finishes), Changes with every other write the views
// read (exceptions, tenants sync). Both only grow.
type Version struct{ Collections, Changes int64 }

// Versioned is a store that says its Version cheaply (one indexed read).
type Versioned interface {
	Version(ctx context.Context) (Version, error)
}
