package query_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/sqlite"
	"github.com/fleetscore/fleetscore/storetest"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestModelSpacesRebuildsDuringARun: while the model's snapshot shows a
// collection running, a version moved by the collection log alone is
// answered from that snapshot while one rebuild runs behind (and then
// from the rebuilt one), the next rebuild waits Spacing after the last
// ended, and MaxLag after a reader found the snapshot behind readers get a
// current answer again; a tenants sync or a write through the model during
// the run, and a collection once no run shows, are seen at once.
func TestModelSpacesRebuildsDuringARun(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	if err := storetest.Fill(ctx, st, 3, 40, now, nil); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: now}
	const spacing, maxLag = 10 * time.Second, time.Minute
	m := query.NewModelWith(st, query.ModelOptions{Now: clock.Now, Spacing: spacing, MaxLag: maxLag})
	var started atomic.Int64
	ended := make(chan bool, 8)
	query.WatchRebuilds(m, func() { started.Add(1) }, func(installed bool) { ended <- installed })

	tenant := func(i int) fleetscore.Tenant { return storetest.FillTenant(i) }
	today := fleetscore.DayOf(now)
	// day is tenant i's snapshot n days after today.
	day := func(i, n int) fleetscore.Score {
		return storetest.History(tenant(i).ID, today.AddDays(-39), 40+n, 250, uint64(i+1))[39+n]
	}
	row := func(i int) query.Tenant {
		t.Helper()
		ts, err := query.TenantsAsOf(ctx, m, now.Add(72*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ts {
			if r.TenantID == tenant(i).ID {
				return r
			}
		}
		t.Fatalf("tenant %d is gone", i)
		return query.Tenant{}
	}
	asOf := func(i int) string {
		t.Helper()
		if r := row(i); r.AsOf != nil {
			return *r.AsOf
		}
		return ""
	}
	// collect saves tenant i's snapshot n days after today in a
	// collection of the store (not through the model).
	collect := func(i, n int) {
		t.Helper()
		id, err := st.StartCollection(ctx, fleetscore.Collection{TenantID: tenant(i).ID, StartedAt: clock.Now(), Status: fleetscore.StatusRunning})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant(i), Scores: []fleetscore.Score{day(i, n)}}); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishCollection(ctx, fleetscore.Collection{ID: id, TenantID: tenant(i).ID, StartedAt: clock.Now(), FinishedAt: clock.Now(), Status: fleetscore.StatusOK, Days: 1}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, i, n int) {
		t.Helper()
		if got, w := asOf(i), today.AddDays(n).String(); got != w {
			t.Errorf("%s: tenant %d as of %s; want %s", what, i, got, w)
		}
	}
	wantStarted := func(what string, n int64) {
		t.Helper()
		if got := started.Load(); got != n {
			t.Fatalf("%s: %d rebuilds behind started; want %d", what, got, n) // then no end to wait for
		}
	}
	waitEnd := func(what string) {
		t.Helper()
		if installed := <-ended; !installed {
			t.Errorf("%s: the rebuild behind was dropped", what)
		}
	}

	// A run starts: tenant 0's collection is running when the model is built.
	run, err := st.StartCollection(ctx, fleetscore.Collection{TenantID: tenant(0).ID, StartedAt: now, Status: fleetscore.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	want("first read", 1, 0)

	// Tenant 1 is collected: the snapshot answers while one rebuild runs behind.
	collect(1, 1)
	want("during the rebuild behind", 1, 0)
	wantStarted("after the first collection", 1)
	waitEnd("first")
	want("after the rebuild behind", 1, 1)

	// Tenant 2 is collected less than Spacing after that rebuild ended: none starts.
	collect(2, 1)
	want("within the spacing", 2, 0)
	wantStarted("within the spacing", 1)
	clock.Add(spacing)
	want("once the spacing passed", 2, 0)
	wantStarted("once the spacing passed", 2)
	waitEnd("second")
	want("after the second rebuild behind", 2, 1)

	// A tenants sync during the run is seen at once.
	renamed := tenant(0)
	renamed.Name = "Renamed Ltd"
	if err := st.SyncTenants(ctx, []fleetscore.Tenant{renamed, tenant(1), tenant(2)}); err != nil {
		t.Fatal(err)
	}
	if got := row(0).Name; got != renamed.Name {
		t.Errorf("after a tenants sync during the run: %q; want %q", got, renamed.Name)
	}

	// A write through the model during the run is seen at once.
	if err := m.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant(2), Scores: []fleetscore.Score{day(2, 2)}}); err != nil {
		t.Fatal(err)
	}
	want("after a write through the model", 2, 2)

	// The staleness is bounded: MaxLag after a reader found the snapshot
	// behind, the answer is current, without a rebuild behind.
	collect(1, 2)
	want("behind, within MaxLag", 1, 1)
	wantStarted("within the spacing again", 2)
	clock.Add(maxLag)
	want("MaxLag after a reader found the snapshot behind", 1, 2)
	wantStarted("after MaxLag", 2)

	// The run ends: once a snapshot shows no collection running, a
	// collection is seen at once.
	if err := st.FinishCollection(ctx, fleetscore.Collection{ID: run, TenantID: tenant(0).ID, StartedAt: now, FinishedAt: clock.Now(), Status: fleetscore.StatusOK}); err != nil {
		t.Fatal(err)
	}
	clock.Add(spacing)
	row(0)
	wantStarted("after the run's end", 3)
	waitEnd("third")
	collect(2, 3)
	want("a collection after the run", 2, 3)
	wantStarted("after the run", 3)
}
