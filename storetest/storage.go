package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Sized is a store that can tell the bytes it takes (sqlite.Store and
// postgres.Store: the file and its WAL; every table with its indexes and
// TOAST).
type Sized interface {
	fleetscore.Store
	Size() (int64, error)
}

// Storage is the shape of BenchmarkStorage's simulation.
type Storage struct {
	Tenants  int // 50 in the stores' benchmarks, or TenantsEnv's
	Backfill int // days of the first collection: Graph's 90
	Days     int // daily collections after it: 365
	Controls int // per tenant: about 250
	Window   int // the last days whose growth is reported on its own: 30
}

// TenantsEnv, when set, is the number of tenants BenchmarkStorage simulates
// in place of Storage.Tenants: the goal is stated at 1,000 tenants, which
// takes hours, so the stores' benchmarks run 50 by default.
const TenantsEnv = "FLEETSCORE_STORAGE_TENANTS"

// StorageGoal is issue 17's: under 1 KB per tenant-day at steady state.
const StorageGoal = 1000

// BenchmarkStorage measures the bytes a year of daily collections takes:
// Tenants tenants backfilled with Backfill days, then Days daily
// collections each as the collector makes them (a collection log row, the
// newest day re-fetched with the new one, the full profile list), with the
// churn of a real fleet: Generator's scores (a few controls change a day, now
// and then one goes or comes back, which shifts the ranks of the profiles
// after it); now and then Microsoft rewords a profile's title or
// remediation, for every tenant from one day on; now and then a tenant
// changes a control's state. Sizes are read with Size, whatever the store
// does in between (PostgreSQL's autovacuum runs as configured, by default
// every minute: the simulated year takes minutes, so each vacuum sees days
// of dead rows at once, more than a real fleet's daily run leaves).
//
// It reports, per tenant-day: B/tenant-day, the growth over the Days (the
// steady state, the backfill left out); total-B/tenant-day, the whole
// database over every day it holds; window-B/tenant-day, the growth over the
// last Window days alone; and goal-B/tenant-day, StorageGoal. Run it once
// (-benchtime=1x): each iteration is a new store, from open. It logs the
// size every 30 days too, with the growth per tenant-day over each 30, to
// show whether the growth is steady.
func BenchmarkStorage(b *testing.B, open func(b *testing.B) Sized, sh Storage) {
	if v := os.Getenv(TenantsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a number of tenants, at least 1", TenantsEnv, v)
		}
		sh.Tenants = n
	}
	for b.Loop() {
		b.StopTimer()
		s := open(b)
		b.StartTimer()
		r := simulateYear(b, s, sh)
		b.ReportMetric(r.steady, "B/tenant-day")
		b.ReportMetric(r.total, "total-B/tenant-day")
		b.ReportMetric(r.window, "window-B/tenant-day")
		b.ReportMetric(StorageGoal, "goal-B/tenant-day")
		b.Logf("size by simulated day: %s", strings.Join(r.curve, ", "))
		b.Logf("%d tenants x (%d + %d) days x %d controls: %d bytes after the backfill, %d after the year; "+
			"%.0f B per tenant-day over the year, %.0f over the last %d days, %.0f in all (goal: under %d)",
			sh.Tenants, sh.Backfill, sh.Days, sh.Controls, r.base, r.end, r.steady, r.window, sh.Window, r.total, StorageGoal)
	}
}

type storageResult struct {
	base, end             int64
	steady, total, window float64
	curve                 []string // the size every 30 days, and the growth over them
}

// catalogue is Microsoft's control profiles as every tenant sees them; a
// tenant's list is those of its present controls, ranked in that order.
type catalogue struct {
	rng      *rand.Rand
	profiles map[string]fleetscore.ControlProfile
}

var (
	remediationWords = strings.Fields(`Go to the Microsoft Entra admin center and open Protection, then Conditional
		Access. Create a new policy that targets all users in administrative roles, excluding the break-glass accounts,
		and require multifactor authentication for every cloud app. Review the sign-in logs for a week in report-only
		mode before you turn it on. See <a href="https://learn.microsoft.com/entra/identity/">the documentation</a>.`)
	tiers   = []string{"Core", "Defense in depth", "Advanced"}
	threats = []string{"Account Breach", "Elevation of Privilege", "Data Exfiltration", "Phishing", "Malware", "Password Cracking"}
)

func newCatalogue(seed uint64) *catalogue {
	return &catalogue{rng: rand.New(rand.NewPCG(seed, 0xca7a)), profiles: map[string]fleetscore.ControlProfile{}}
}

// remediation is HTML of a realistic size: 0.5-2.5 KB.
func (c *catalogue) remediation() string {
	var b strings.Builder
	for n := 500 + c.rng.IntN(2000); b.Len() < n; {
		b.WriteString("<p>")
		for range 20 {
			b.WriteString(remediationWords[c.rng.IntN(len(remediationWords))])
			b.WriteByte(' ')
		}
		b.WriteString("</p>")
	}
	return b.String()
}

// profile is the catalogue's profile of control, made the first time.
func (c *catalogue) profile(control fleetscore.ControlScore) fleetscore.ControlProfile {
	if p, ok := c.profiles[control.Name]; ok {
		return p
	}
	p := fleetscore.ControlProfile{
		ID: control.Name, Title: "Ensure " + control.Name + " is configured as recommended", Category: control.Category,
		MaxScore: float64(1 + c.rng.IntN(10)), Tier: tiers[c.rng.IntN(len(tiers))], UserImpact: "Low",
		ImplementationCost: "Moderate", ActionType: "Config", Service: "AzureAD",
		ActionURL:   "https://security.microsoft.com/securescore?viewid=actions&actionId=" + control.Name,
		Threats:     []string{threats[c.rng.IntN(len(threats))], threats[c.rng.IntN(len(threats))]},
		Remediation: c.remediation(),
	}
	c.profiles[control.Name] = p
	return p
}

// reword changes a random profile's title or remediation, as Microsoft
// does now and then.
func (c *catalogue) reword() {
	for name, p := range c.profiles {
		if c.rng.IntN(2) == 0 {
			p.Title += " (updated)"
		} else {
			p.Remediation = c.remediation()
		}
		c.profiles[name] = p
		return
	}
}

func simulateYear(b *testing.B, s Sized, sh Storage) storageResult {
	ctx := context.Background()
	first := fleetscore.MustDay("2025-01-01")
	cat := newCatalogue(17)
	rng := rand.New(rand.NewPCG(17, 0x57a7e))
	type tenant struct {
		t      fleetscore.Tenant
		g      *Generator
		last   fleetscore.Score
		states map[string][]fleetscore.ControlStateUpdate
	}
	ts := make([]*tenant, sh.Tenants)
	profilesOf := func(tn *tenant, day fleetscore.Score) []fleetscore.ControlProfile {
		ps := make([]fleetscore.ControlProfile, len(day.Controls))
		for i, c := range day.Controls {
			p := cat.profile(c)
			p.Rank = i + 1
			p.StateUpdates = tn.states[c.Name]
			ps[i] = p
		}
		return ps
	}
	save := func(tn *tenant, scores []fleetscore.Score, at time.Time) {
		id, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: tn.t.ID, StartedAt: at})
		if err != nil {
			b.Fatal(err)
		}
		batch := fleetscore.Batch{Tenant: tn.t, Scores: scores, Profiles: profilesOf(tn, scores[len(scores)-1])}
		if err := s.SaveBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		err = s.FinishCollection(ctx, fleetscore.Collection{ID: id, Status: fleetscore.StatusOK, FinishedAt: at.Add(4 * time.Second),
			Days: len(scores), Controls: len(batch.Profiles), Requests: 3})
		if err != nil {
			b.Fatal(err)
		}
		tn.last = scores[len(scores)-1]
	}
	for i := range ts {
		tn := &tenant{
			t:      fleetscore.Tenant{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000017", i), Name: fmt.Sprint("Tenant ", i), TargetPercent: 70},
			g:      NewGenerator(fmt.Sprintf("%08d-0000-4000-8000-000000000017", i), first, sh.Controls, uint64(i+1)),
			states: map[string][]fleetscore.ControlStateUpdate{},
		}
		ts[i] = tn
		days := tn.g.Days(sh.Backfill)
		save(tn, days, days[len(days)-1].Day.Time().Add(26*time.Hour))
	}
	size := func() int64 {
		n, err := s.Size()
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	r := storageResult{base: size()}
	var windowStart int64
	last := r.base
	for d := range sh.Days {
		if d == sh.Days-sh.Window {
			windowStart = size()
		}
		if d%30 == 0 && d > 0 {
			n := size()
			r.curve = append(r.curve, fmt.Sprintf("day %d: %d (%+.0f B/tenant-day)", d, n, float64(n-last)/float64(sh.Tenants*30)))
			last = n
		}
		if rng.IntN(30) == 0 { // about monthly, Microsoft rewords a profile
			cat.reword()
		}
		for _, tn := range ts {
			next := tn.g.Next()
			if rng.IntN(20) == 0 && len(next.Controls) > 0 { // now and then, a state change
				c := next.Controls[rng.IntN(len(next.Controls))].Name
				tn.states[c] = append(tn.states[c], fleetscore.ControlStateUpdate{
					State: fleetscore.StateIgnored, AssignedTo: "ops@mssp.example", Comment: "accepted risk",
					UpdatedBy: "alice@client.example", UpdatedAt: next.Day.Time().Add(10 * time.Hour)})
			}
			save(tn, []fleetscore.Score{tn.last, next}, next.Day.Time().Add(26*time.Hour))
		}
	}
	r.end = size()
	perDay := func(bytes int64, days int) float64 { return float64(bytes) / float64(sh.Tenants*max(days, 1)) }
	r.steady = perDay(r.end-r.base, sh.Days)
	r.total = perDay(r.end, sh.Backfill+sh.Days)
	r.window = perDay(r.end-windowStart, sh.Window)
	return r
}
