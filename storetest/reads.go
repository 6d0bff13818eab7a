package storetest

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

// BenchmarkTenantReads reads, each op, what a tenant's page reads of
// another tenant of st: the Scores of its last 97 days, its Profiles and
// its last 20 Collections. st must hold tenants with scores (a store
// `fleetscore bench --serve` filled), or be empty and fill: then it is
// filled with 40 tenants x 400 days first.
func BenchmarkTenantReads(b *testing.B, st fleetscore.Store, fill bool) {
	ctx := context.Background()
	if fill {
		if err := Fill(ctx, st, 40, 400, time.Now(), nil); err != nil {
			b.Fatal(err)
		}
	}
	ts, err := st.Tenants(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var list []fleetscore.TenantStatus
	for _, t := range ts {
		if t.Latest != nil {
			list = append(list, t)
		}
	}
	if len(list) == 0 {
		b.Fatalf("%d tenants, none with scores", len(ts))
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	i := 0
	for b.Loop() {
		t := list[i%len(list)]
		i++
		scores, err := st.Scores(ctx, t.ID, t.Latest.Day.AddDays(-96), fleetscore.Day{})
		if err != nil || len(scores) == 0 {
			b.Fatalf("scores of %s: %d days, %v", t.ID, len(scores), err)
		}
		if _, err := st.Profiles(ctx, t.ID); err != nil {
			b.Fatalf("profiles of %s: %v", t.ID, err)
		}
		if _, err := st.Collections(ctx, t.ID, 20); err != nil {
			b.Fatalf("collections of %s: %v", t.ID, err)
		}
	}
	// The process's CPU (GC included) rather than the wall clock, which
	// other work on a shared machine stretches.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// processCPU is the CPU time the process used so far, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
