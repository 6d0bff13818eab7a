package storetest

import (
	"context"
	"testing"

	"github.com/fleetscore/fleetscore"
)

// archiveBacklog is what a store keeps for the archive (collect.ArchiveBacklog).
type archiveBacklog interface {
	ArchivePending(ctx context.Context, tenantID string) ([]fleetscore.Day, error)
	SetArchivePending(ctx context.Context, tenantID string, day fleetscore.Day, errText string) error
}

func testArchiveBacklog(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	b, ok := s.(archiveBacklog)
	if !ok {
		t.Fatal("the store keeps no archive backlog (ArchivePending, SetArchivePending)")
	}
	const tenant = "0a0b0c0d-1111-2222-3333-444455556666"
	if err := s.SyncTenants(ctx, []fleetscore.Tenant{{ID: tenant, Name: "Backlog", TargetPercent: 75}}); err != nil {
		t.Fatal(err)
	}
	d1, d2, d3 := fleetscore.MustDay("2026-11-20"), fleetscore.MustDay("2026-11-21"), fleetscore.MustDay("2026-11-22")
	for _, d := range []fleetscore.Day{d3, d1, d2} {
		if err := b.SetArchivePending(ctx, tenant, d, "blob store unreachable"); err != nil {
			t.Fatal(err)
		}
	}
	// Setting a day twice keeps one row.
	if err := b.SetArchivePending(ctx, tenant, d2, "still unreachable"); err != nil {
		t.Fatal(err)
	}
	got, err := b.ArchivePending(ctx, tenant)
	if err != nil || len(got) != 3 || got[0] != d1 || got[1] != d2 || got[2] != d3 {
		t.Fatalf("pending = %v, %v; want %s %s %s, oldest first", got, err, d1, d2, d3)
	}
	if err := b.SetArchivePending(ctx, tenant, d2, ""); err != nil {
		t.Fatal(err)
	}
	got, _ = b.ArchivePending(ctx, tenant)
	if len(got) != 2 || got[0] != d1 || got[1] != d3 {
		t.Errorf("after archiving %s: pending %v", d2, got)
	}
	// An unknown tenant has nothing pending, and clearing for it is no error.
	if got, err := b.ArchivePending(ctx, "ffffffff-1111-2222-3333-444455556666"); err != nil || len(got) != 0 {
		t.Errorf("unknown tenant: %v, %v", got, err)
	}
	if err := b.SetArchivePending(ctx, "ffffffff-1111-2222-3333-444455556666", d1, ""); err != nil {
		t.Errorf("clearing an unknown tenant's day: %v", err)
	}
}
