package report_test

import (
	"context"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/report"
)

// BenchmarkMonthlyReports builds and writes the November PDF of each of
// 200 emulated tenants, one after the other as the scheduled send does;
// max_pdf_bytes is the largest. The goal: under 30 s for all 200 on 2
// cores, each PDF under 1 MB.
func BenchmarkMonthlyReports(b *testing.B) {
	const tenants = 200
	f := fleettest.New(b, fleettest.Options{Tenants: tenants, Now: func() time.Time { return dataNow }, Days: 45})
	ctx := context.Background()
	nov := report.Month(2026, time.November)
	brand := report.Branding{Name: "Northwind MSSP", Footer: "Confidential — prepared by Northwind MSSP"}
	maxBytes := 0
	b.ResetTimer()
	for b.Loop() {
		for _, j := range f.Jobs {
			c, err := report.Build(ctx, f.Store, report.Registers{}, j.Tenant.ID, nov, dataNow)
			if err != nil {
				b.Fatal(err)
			}
			pdf, err := report.PDF(c, brand)
			if err != nil {
				b.Fatal(err)
			}
			maxBytes = max(maxBytes, len(pdf))
		}
	}
	b.ReportMetric(float64(maxBytes), "max_pdf_bytes")
	b.ReportMetric(float64(tenants), "reports/op")
	if maxBytes >= 1<<20 {
		b.Errorf("the largest PDF is %d bytes; the goal is under 1 MB", maxBytes)
	}
}
