package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/query"
)

// TestPrintTenantsMarksStale: the tenants table says which snapshot the
// fleet figures no longer count.
func TestPrintTenantsMarksStale(t *testing.T) {
	pct, cur, mx := 85.0, 85.0, 100.0
	old, fresh := "2025-11-28", "2025-12-03"
	rows := []query.Tenant{
		{TenantID: "00000001-0000-4000-8000-000000000001", Name: "Alpha Ltd", Percent: &pct, CurrentScore: &cur, MaxScore: &mx, AsOf: &fresh, TargetPercent: 70, MeetsTarget: true},
		{TenantID: "00000003-0000-4000-8000-000000000003", Name: "Charlie Ltd", Percent: &pct, CurrentScore: &cur, MaxScore: &mx, AsOf: &old, TargetPercent: 90, Stale: true},
	}
	var b bytes.Buffer
	printTenants(&b, rows)
	lines := strings.Split(b.String(), "\n")
	if !strings.Contains(lines[2], "Charlie Ltd") || !strings.Contains(lines[2], "2025-11-28 (stale)") {
		t.Errorf("Charlie's line %q does not say its 28 Nov snapshot is stale", lines[2])
	}
	if strings.Contains(lines[1], "stale") {
		t.Errorf("Alpha's line %q says stale", lines[1])
	}
}
