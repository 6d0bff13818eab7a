package collect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/archive"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/emulator"
)

// folderArchive is the real folder archive, which can be made to fail like
// an unreachable blob store.
type folderArchive struct {
	dir  *archive.Dir
	down atomic.Bool
	puts atomic.Int64
}

func (a *folderArchive) Put(ctx context.Context, t fleetscore.Tenant, day fleetscore.Day, raw []byte) error {
	a.puts.Add(1)
	if a.down.Load() {
		return errors.New("cannot reach Azure Storage: connection refused")
	}
	return a.dir.Put(ctx, archive.Snapshot{TenantID: t.ID, TenantName: t.Name, Day: day, JSON: raw})
}

// TestArchiveFailureIsRetriedNextRun archives every day's raw snapshot; when
// the archive is down the tenant is still collected and saved, and the next
// run archives what was missed.
func TestArchiveFailureIsRetriedNextRun(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 5})
	dir, err := archive.Folder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	arc := &folderArchive{dir: dir}
	info := f.emu.AddTenant(emulator.Tenant{ConsentedApps: []string{certAppID}, Quirks: true})
	jobs := []collect.Job{f.job(info, false)}
	c := f.collector()
	c.Archive = arc

	// The first run backfills while the archive is down.
	arc.down.Store(true)
	sum := c.Run(context.Background(), jobs)
	if sum.OK != 1 || sum.Results[0].ArchiveErr == nil {
		t.Fatalf("first run: ok %d, archive error %v; want the tenant collected and the archive failure reported", sum.OK, sum.Results[0].ArchiveErr)
	}
	want, _ := f.emu.Expected(info.ID)
	pending, err := f.store.ArchivePending(context.Background(), info.ID)
	if err != nil || len(pending) != len(want) {
		t.Fatalf("backlog after the failed run: %d days, %v; want %d", len(pending), err, len(want))
	}

	// The archive is back: the next run fetches the backlog's days again
	// and archives them all; nothing is pending any more.
	arc.down.Store(false)
	sum = c.Run(context.Background(), jobs)
	if sum.OK != 1 || sum.Results[0].ArchiveErr != nil {
		t.Fatalf("second run: ok %d, archive error %v", sum.OK, sum.Results[0].ArchiveErr)
	}
	if pending, _ := f.store.ArchivePending(context.Background(), info.ID); len(pending) != 0 {
		t.Errorf("still pending after the archive came back: %v", pending)
	}
	want, _ = f.emu.Expected(info.ID)
	for _, s := range want {
		data, err := os.ReadFile(dir.Path(info.ID, s.Day))
		if err != nil {
			t.Errorf("day %s not archived: %v", s.Day, err)
			continue
		}
		var snap struct {
			ID            string `json:"id"`
			AzureTenantID string `json:"azureTenantId"`
		}
		if err := json.Unmarshal(data, &snap); err != nil || snap.ID != info.ID+"_"+s.Day.String() {
			t.Errorf("archived %s is not that day's raw snapshot: id %q, %v", s.Day, snap.ID, err)
		}
	}
}

// TestLatestAfterTwoCollections: the archive's latest/{tenant ID}.json is
// the tenant's newest raw snapshot after the first collection (a backfill
// of many days) and, a day later, after the second.
func TestLatestAfterTwoCollections(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 9})
	dir, err := archive.Folder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	info := f.emu.AddTenant(emulator.Tenant{ConsentedApps: []string{certAppID}})
	jobs := []collect.Job{f.job(info, false)}
	c := f.collector()
	c.Archive = &folderArchive{dir: dir}
	c.Now = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	var prev fleetscore.Day
	for run := 1; run <= 2; run++ {
		if sum := c.Run(context.Background(), jobs); sum.OK != 1 || sum.Results[0].ArchiveErr != nil {
			t.Fatalf("run %d: ok %d, archive error %v", run, sum.OK, sum.Results[0].ArchiveErr)
		}
		want, _ := f.emu.Expected(info.ID)
		newest := want[len(want)-1].Day
		for _, s := range want {
			if s.Day.After(newest) {
				newest = s.Day
			}
		}
		if !newest.After(prev) {
			t.Fatalf("run %d: the newest day %s is not after the last run's %s", run, newest, prev)
		}
		prev = newest
		got, err := os.ReadFile(dir.LatestPath(info.ID))
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		day, err := os.ReadFile(dir.Path(info.ID, newest))
		if err != nil || !bytes.Equal(got, day) {
			t.Errorf("run %d: latest/ is not the newest day %s (%v)", run, newest, err)
		}
		var snap struct{ ID string }
		if err := json.Unmarshal(got, &snap); err != nil || snap.ID != info.ID+"_"+newest.String() {
			t.Errorf("run %d: latest/ holds snapshot %q (%v); want %s's", run, snap.ID, err, newest)
		}
		f.advance(1)
	}
}
