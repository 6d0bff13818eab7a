package collect_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/sqlite"
)

var _ collect.Claimer = (*sqlite.Store)(nil)

// instance is a collector as one of several fleetscore instances sharing
// the fixture's store: it claims tenants, and its days follow the fixture's
// clock.
func (f *fixture) instance(owner string, ttl time.Duration) *collect.Collector {
	c := f.collector()
	c.Claims = f.store
	c.Owner = owner
	c.LeaseTTL = ttl
	c.Now = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	return c
}

func (f *fixture) tenants(n int, faults emulator.Faults) ([]emulator.TenantInfo, []collect.Job) {
	var (
		infos []emulator.TenantInfo
		jobs  []collect.Job
	)
	for range n {
		ti := f.emu.AddTenant(emulator.Tenant{ConsentedApps: []string{certAppID}})
		f.emu.SetFaults(ti.ID, faults)
		infos = append(infos, ti)
		jobs = append(jobs, f.job(ti, false))
	}
	return infos, jobs
}

// TestClaimsShareTheCollection runs two instances over the same tenants at
// once: each tenant is collected by exactly one of them, the other skips it
// without error, and a later run the same day collects nothing again.
func TestClaimsShareTheCollection(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 11})
	infos, jobs := f.tenants(12, emulator.Faults{Slow: 20 * time.Millisecond})
	a, b := f.instance("a", time.Minute), f.instance("b", time.Minute)

	var sa, sb collect.Summary
	var wg sync.WaitGroup
	wg.Go(func() { sa = a.Run(context.Background(), jobs) })
	wg.Go(func() { sb = b.Run(context.Background(), jobs) })
	wg.Wait()

	for name, s := range map[string]collect.Summary{"a": sa, "b": sb} {
		if err := s.Err(); err != nil {
			t.Errorf("instance %s: %v", name, err)
		}
	}
	if sa.OK+sb.OK != len(jobs) || sa.ClaimedElsewhere+sb.ClaimedElsewhere != len(jobs) {
		t.Fatalf("a collected %d and left %d, b collected %d and left %d; want %d collected in all, each once",
			sa.OK, sa.ClaimedElsewhere, sb.OK, sb.ClaimedElsewhere, len(jobs))
	}
	if sa.OK == 0 || sb.OK == 0 {
		t.Logf("one instance collected everything (a %d, b %d): the run was too quick to interleave", sa.OK, sb.OK)
	}
	for i, ti := range infos {
		ra, rb := sa.Results[i], sb.Results[i]
		if (ra.Err == nil && !ra.ClaimedElsewhere) == (rb.Err == nil && !rb.ClaimedElsewhere) {
			t.Errorf("tenant %d: collected by a %v, by b %v; want exactly one", i, !ra.ClaimedElsewhere, !rb.ClaimedElsewhere)
		}
		f.assertStored(ti.ID)
		if log, err := f.store.Collections(context.Background(), ti.ID, 0); err != nil || len(log) != 1 {
			t.Errorf("tenant %d: %d collections logged (%v), want 1", i, len(log), err)
		}
	}

	// The same day again: every day is done, and Graph is not asked.
	before := f.emu.Stats("").Requests
	s := b.Run(context.Background(), jobs)
	if s.ClaimedElsewhere != len(jobs) || s.OK != 0 || s.Err() != nil {
		t.Errorf("a second run the same day: %d collected, %d claimed elsewhere, err %v; want none collected", s.OK, s.ClaimedElsewhere, s.Err())
	}
	if n := f.emu.Stats("").Requests - before; n != 0 {
		t.Errorf("a second run the same day made %d Graph requests, want 0", n)
	}

	// The next day is a new claim.
	f.advance(1)
	s = a.Run(context.Background(), jobs)
	if s.OK != len(jobs) {
		t.Errorf("the next day: %d of %d collected", s.OK, len(jobs))
	}
}

// TestFailedTenantIsReleased: a tenant that fails is not done for the day;
// its claim is released, so another instance (or a later run) tries again.
func TestFailedTenantIsReleased(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 12})
	infos, jobs := f.tenants(1, emulator.Faults{Down: true})
	a, b := f.instance("a", time.Minute), f.instance("b", time.Minute)

	s := a.Run(context.Background(), jobs)
	if s.Failed != 1 || s.Err() == nil {
		t.Fatalf("the tenant whose Graph is down: %d failed, err %v; want it failed", s.Failed, s.Err())
	}
	f.emu.SetFaults(infos[0].ID, emulator.Faults{})
	s = b.Run(context.Background(), jobs)
	if s.OK != 1 {
		t.Fatalf("another instance after the failure: %+v; want the tenant collected", s.Results[0])
	}
	f.assertStored(infos[0].ID)
	if s := a.Run(context.Background(), jobs); s.ClaimedElsewhere != 1 {
		t.Errorf("after b collected the tenant, a run of a: %+v; want it claimed elsewhere", s.Results[0])
	}
}

// TestClaimIsHeldWhileTheTenantRuns: a tenant whose collection lasts several
// lease times stays with the instance that works on it, which renews its
// claim; another instance, trying to claim it all along (it polls while it
// waits for the day to be done), never gets it.
func TestClaimIsHeldWhileTheTenantRuns(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 13})
	// A lease long enough that a renewal every ttl/3 survives a busy
	// machine's stalls (a 2-core CI runner next to a CPU hog).
	const ttl = time.Second
	infos, jobs := f.tenants(1, emulator.Faults{Slow: 3*ttl + 200*time.Millisecond}) // > 3 ttl
	a, b := f.instance("a", ttl), f.instance("b", ttl)
	var tries atomic.Int32
	b.Claims = &counting{Claimer: f.store, claims: &tries}

	done := make(chan collect.Summary)
	start := time.Now()
	go func() { done <- a.Run(context.Background(), jobs) }()
	time.Sleep(ttl / 3)
	sb := b.Run(context.Background(), jobs)
	sa := <-done
	took := time.Since(start)
	if sa.OK != 1 {
		t.Fatalf("a: %+v", sa.Results[0])
	}
	if sb.ClaimedElsewhere != 1 || sb.Err() != nil {
		t.Fatalf("b got the tenant a was working on (ttl %s): %+v", ttl, sb.Results[0])
	}
	if took < 3*ttl {
		t.Fatalf("the slow tenant took only %s; the test needs several lease times", took)
	}
	if n := tries.Load(); n < 3 {
		t.Errorf("b tried to claim the tenant %d times while a held it for %s, want several", n, took.Round(time.Millisecond))
	}
	t.Logf("a held the tenant for %s (ttl %s); b tried %d times", took.Round(time.Millisecond), ttl, tries.Load())
	f.assertStored(infos[0].ID)
}

// counting is a Claimer that counts claims.
type counting struct {
	collect.Claimer
	claims *atomic.Int32
}

func (c *counting) Claim(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) (bool, error) {
	c.claims.Add(1)
	return c.Claimer.Claim(ctx, tenantID, day, owner, ttl)
}

// TestDeadInstanceIsTakenOver: an instance that claimed a tenant and died
// holds it until its lease expires; the run of another instance waits for
// that and collects it.
func TestDeadInstanceIsTakenOver(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 14})
	infos, jobs := f.tenants(3, emulator.Faults{})
	a := f.instance("a", time.Minute)
	const ttl = 400 * time.Millisecond
	today := fleetscore.DayOf(a.Now())
	start := time.Now()
	if ok, err := f.store.Claim(context.Background(), infos[0].ID, today, "dead", ttl); !ok || err != nil {
		t.Fatalf("the dead instance's claim: %v, %v", ok, err)
	}
	s := a.Run(context.Background(), jobs)
	if s.OK != 3 || s.Err() != nil {
		t.Fatalf("a's run: %d collected, %v; want the dead instance's tenant taken over", s.OK, s.Err())
	}
	if took := time.Since(start); took < ttl {
		t.Errorf("a collected the dead instance's tenant after %s, before its lease (%s) expired", took, ttl)
	}
	for _, ti := range infos {
		f.assertStored(ti.ID)
	}
}

// stolen is a Claimer whose claims are taken over by another instance right
// after they are granted: renewals fail.
type stolen struct {
	collect.Claimer
	claims atomic.Int32
}

func (s *stolen) Claim(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) (bool, error) {
	if s.claims.Add(1) == 1 {
		return s.Claimer.Claim(ctx, tenantID, day, owner, ttl)
	}
	return false, nil
}

// Pending says the other instance has finished.
func (s *stolen) Pending(context.Context, fleetscore.Day, []string) ([]string, error) {
	return nil, nil
}

// TestLostClaimStopsTheWrite: an instance whose claim was taken over while
// it worked writes nothing, and says so in the log without failing the run.
func TestLostClaimStopsTheWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		slow time.Duration // > ttl/3: the heartbeat finds out; 0: the renewal before the write does
	}{{"heartbeat", 300 * time.Millisecond}, {"before the write", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, emulator.Options{Seed: 15})
			infos, jobs := f.tenants(1, emulator.Faults{Slow: tc.slow})
			a := f.instance("a", 300*time.Millisecond)
			a.Claims = &stolen{Claimer: f.store}
			s := a.Run(context.Background(), jobs)
			if s.ClaimedElsewhere != 1 || s.Err() != nil {
				t.Fatalf("run: %+v, %v; want the tenant claimed elsewhere, no error", s.Results[0], s.Err())
			}
			if _, ok, err := f.store.LatestDay(context.Background(), infos[0].ID); ok || err != nil {
				t.Errorf("days were saved (%v, %v) by an instance that had lost its claim", ok, err)
			}
			log, err := f.store.Collections(context.Background(), infos[0].ID, 1)
			if err != nil || len(log) != 1 || !strings.Contains(log[0].Error, "took the tenant over") {
				t.Errorf("collection log %+v, %v; want it to say another instance took the tenant over", log, err)
			}
		})
	}
}
