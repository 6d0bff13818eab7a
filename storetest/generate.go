package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Generator makes a synthetic, reproducible Secure Score history shaped like
// a real tenant's: a few hundred controls of which a few change score each
// day, now and then one that disappears or comes back, and totals and
// averages that drift.
type Generator struct {
	tenantID string
	day      fleetscore.Day
	rng      *rand.Rand
	names    []string
	category []string
	max      []float64
	score    []float64
	present  []bool
	changes  int
	active   int
	licensed int
	averages [3]float64
}

// NewGenerator returns a generator whose first snapshot is of day first, for
// a tenant with the given number of controls (about 250 is typical). Each
// day, about 1.6 % of the controls change score (at least one). The same
// arguments give the same history.
func NewGenerator(tenantID string, first fleetscore.Day, controls int, seed uint64) *Generator {
	g := &Generator{
		tenantID: tenantID,
		day:      first,
		rng:      rand.New(rand.NewPCG(seed, 0x5ec0e5c0e)),
		changes:  max(1, controls*16/1000),
		licensed: 50 + int(seed%400),
	}
	g.active = g.licensed * 9 / 10
	for i := range controls {
		g.names = append(g.names, fmt.Sprintf("control%03d_%s", i, []string{"MFA", "DLP", "Defender", "Audit", "Sharing"}[i%5]))
		g.category = append(g.category, fleetscore.Categories[i%len(fleetscore.Categories)])
		mx := float64(1 + g.rng.IntN(10))
		g.max = append(g.max, mx)
		g.score = append(g.score, g.points(mx))
		g.present = append(g.present, true)
	}
	g.averages = [3]float64{40 + g.rng.Float64()*20, 30 + g.rng.Float64()*30, 35 + g.rng.Float64()*25}
	return g
}

// points is a plausible score of a control worth mx: often none or all of
// it, otherwise a fraction as Graph reports it (8.33, 2.5...).
func (g *Generator) points(mx float64) float64 {
	switch g.rng.IntN(3) {
	case 0:
		return 0
	case 1:
		return mx
	}
	return float64(int(mx*g.rng.Float64()*100)) / 100
}

// Next returns the snapshot of the next day.
func (g *Generator) Next() fleetscore.Score {
	s := fleetscore.Score{
		TenantID:          g.tenantID,
		Day:               g.day,
		ActiveUserCount:   g.active,
		LicensedUserCount: g.licensed,
		EnabledServices:   []string{"HasExchange", "HasSharePoint", "HasOD4B"},
		Averages: map[string]float64{
			fleetscore.BasisAllTenants:    g.averages[0],
			fleetscore.BasisTotalSeats:    g.averages[1],
			fleetscore.BasisIndustryTypes: g.averages[2],
		},
	}
	for i, name := range g.names {
		if !g.present[i] {
			continue
		}
		s.Controls = append(s.Controls, fleetscore.ControlScore{Name: name, Category: g.category[i], Score: g.score[i]})
		s.CurrentScore += g.score[i]
		s.MaxScore += g.max[i]
	}

	// Tomorrow.
	g.day = g.day.AddDays(1)
	for range g.changes {
		i := g.rng.IntN(len(g.names))
		g.score[i] = g.points(g.max[i])
	}
	if len(g.names) > 0 && g.rng.IntN(20) == 0 { // about every 20 days, a control goes or comes back
		i := g.rng.IntN(len(g.names))
		g.present[i] = !g.present[i]
	}
	if g.rng.IntN(4) == 0 {
		g.active += g.rng.IntN(3) - 1
	}
	for i := range g.averages {
		g.averages[i] += (g.rng.Float64() - 0.5) / 10
	}
	return s
}

// Days returns the snapshots of the next n days, oldest first.
func (g *Generator) Days(n int) []fleetscore.Score {
	out := make([]fleetscore.Score, 0, n)
	for range n {
		out = append(out, g.Next())
	}
	return out
}

// History is the first n days of NewGenerator(tenantID, first, controls, seed).
func History(tenantID string, first fleetscore.Day, n, controls int, seed uint64) []fleetscore.Score {
	return NewGenerator(tenantID, first, controls, seed).Days(n)
}

// shuffled returns a copy of scores in a random but reproducible order.
func shuffled(scores []fleetscore.Score, seed uint64) []fleetscore.Score {
	out := slices.Clone(scores)
	rand.New(rand.NewPCG(seed, 1)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// FillTenant is tenant i of Fill: its ID and name.
func FillTenant(i int) fleetscore.Tenant {
	return fleetscore.Tenant{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Name: fmt.Sprintf("Client %04d", i), TargetPercent: 60 + float64(i%3)*5}
}

// Fill saves through st tenants × days of history ending on the day of
// now, 250 controls each (the generator's: a few change a day), with a
// profile per control, one batch per tenant: a fleet for benchmarks,
// reproducible. progress, when set, is called after each tenant.
func Fill(ctx context.Context, st fleetscore.Store, tenants, days int, now time.Time, progress func(done int)) error {
	first := fleetscore.DayOf(now).AddDays(-days + 1)
	for i := range tenants {
		t := FillTenant(i)
		scores := History(t.ID, first, days, 250, uint64(i+1))
		var profiles []fleetscore.ControlProfile
		for k, c := range scores[len(scores)-1].Controls {
			profiles = append(profiles, fleetscore.ControlProfile{ID: c.Name, Title: "Ensure " + c.Name + " is on", Category: c.Category,
				MaxScore: 10, Rank: k + 1, Tier: "Core", UserImpact: "Low", ImplementationCost: "Low"})
		}
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: t, Scores: scores, Profiles: profiles}); err != nil {
			return fmt.Errorf("fill tenant %d: %w", i, err)
		}
		if progress != nil {
			progress(i + 1)
		}
	}
	return nil
}
