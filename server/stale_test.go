package server

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/sqlite"
)

// TestAPIStaleAndCarriedForward serves a fleet, as of 3 Dec 2025, where
// Bravo missed 29 Nov and Charlie's last snapshot is of 28 Nov: the fleet
// counts Bravo on 29 Nov and Charlie until 1 Dec at their earlier
// snapshots; Charlie is stale in /api/v1/tenants, on the overview and in
// the metrics, and the cards count the tenants of the trend's last day.
func TestAPIStaleAndCarriedForward(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	now := time.Date(2025, 12, 3, 9, 30, 0, 0, time.UTC)
	today := fleetscore.DayOf(now)
	tenants := []fleetscore.Tenant{
		{ID: "00000001-0000-4000-8000-000000000001", Name: "Alpha Ltd", TargetPercent: 70},
		{ID: "00000002-0000-4000-8000-000000000002", Name: "Bravo Ltd", TargetPercent: 55},
		{ID: "00000003-0000-4000-8000-000000000003", Name: "Charlie Ltd", TargetPercent: 90},
	}
	if err := st.SyncTenants(ctx, tenants); err != nil {
		t.Fatal(err)
	}
	// current points per day back from today (0 = today); max 100, so the
	// points are the percent. -1: no snapshot that day.
	points := map[string][]float64{
		tenants[0].ID: {80, 78, 76, 74, 72, 70, 68},
		tenants[1].ID: {60, 59, 58, 57, -1, 55, 54},
		tenants[2].ID: {-1, -1, -1, -1, -1, 85, 84},
	}
	for _, tn := range tenants {
		var scores []fleetscore.Score
		for back, p := range points[tn.ID] {
			if p >= 0 {
				scores = append(scores, fleetscore.Score{TenantID: tn.ID, Day: today.AddDays(-back), CurrentScore: p, MaxScore: 100})
			}
		}
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: tn, Scores: scores}); err != nil {
			t.Fatal(err)
		}
	}
	a := serveAPI(t, Options{Source: st, Now: func() time.Time { return now }})

	// The tenants: stale in JSON and CSV, only Charlie.
	var list []map[string]any
	a.getJSON(t, "/api/v1/tenants", &list)
	if len(list) != 3 {
		t.Fatalf("%d tenants, want 3", len(list))
	}
	for _, tn := range list {
		want := tn["name"] == "Charlie Ltd"
		if tn["stale"] != want {
			t.Errorf("%v (as of %v): stale = %v, want %v", tn["name"], tn["as_of"], tn["stale"], want)
		}
	}
	compareCSV(t, "tenants", a.getCSV(t, "/api/v1/tenants"), list, func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		out["last_collection_at"], out["last_collection_status"], out["last_collection_error"] = nil, nil, nil
		return out
	})
	var one map[string]any
	a.getJSON(t, "/api/v1/tenants/"+tenants[2].ID, &one)
	if one["stale"] != true || one["as_of"] != "2025-11-28" {
		t.Errorf("GET /api/v1/tenants/{charlie} = %v; want stale as of 2025-11-28", one)
	}

	// The fleet, computed here: a tenant counts at its snapshot of the day
	// or the nearest up to 3 days earlier.
	type day struct {
		tenants, meeting int
		average          float64
	}
	expect := func(back int) day {
		var d day
		sum := 0.0
		for _, tn := range tenants {
			for b := back; b <= back+3 && b < len(points[tn.ID]); b++ {
				if p := points[tn.ID][b]; p >= 0 {
					sum += p
					d.tenants++
					if p >= tn.TargetPercent {
						d.meeting++
					}
					break
				}
			}
		}
		d.average = round(sum/float64(d.tenants), percentDecimals)
		return d
	}
	var fleet []map[string]any
	a.getJSON(t, fmt.Sprintf("/api/v1/fleet?from=%s&to=%s", today.AddDays(-4), today), &fleet)
	if len(fleet) != 5 {
		t.Fatalf("fleet %s..%s has %d days, want 5: %v", today.AddDays(-4), today, len(fleet), fleet)
	}
	wantTenants := []int{3, 3, 3, 2, 2} // 29 Nov..3 Dec: Bravo carried on 29 Nov, Charlie until 1 Dec
	for i, d := range fleet {
		back := 4 - i
		w := expect(back)
		if d["date"] != today.AddDays(-back).String() || d["tenants"] != float64(w.tenants) ||
			d["tenants_meeting_target"] != float64(w.meeting) || d["average_percent"] != w.average {
			t.Errorf("fleet day %d = %v; want %s: %d tenants, %d meeting, average %v", i, d, today.AddDays(-back), w.tenants, w.meeting, w.average)
		}
		if w.tenants != wantTenants[i] {
			t.Errorf("the test's own count on %s is %d, want %d", today.AddDays(-back), w.tenants, wantTenants[i])
		}
	}
	compareCSV(t, "fleet", a.getCSV(t, fmt.Sprintf("/api/v1/fleet?from=%s&to=%s", today.AddDays(-4), today)), fleet, nil)
	last := expect(0)

	// The overview: Charlie's row says stale and since when; the cards
	// count the trend's last day's tenants.
	resp, body := a.get(t, "/")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	page := string(body)
	row := regexp.MustCompile(`(?s)<tr class="tenant[^"]*" data-tenant="` + tenants[2].ID + `">.*?</tr>`).FindString(page)
	if !strings.Contains(row, "is-stale") || !strings.Contains(row, `class="badge stale"`) || !strings.Contains(row, "no new score since 28 Nov 2025") {
		t.Errorf("Charlie's row does not say stale since 28 Nov 2025:\n%s", row)
	}
	for _, tn := range tenants[:2] {
		r := regexp.MustCompile(`(?s)<tr class="tenant[^"]*" data-tenant="` + tn.ID + `">.*?</tr>`).FindString(page)
		if r == "" || strings.Contains(r, "stale") {
			t.Errorf("%s's row is missing or says stale:\n%s", tn.Name, r)
		}
	}
	meeting := regexp.MustCompile(`id="kpi-meeting">(\d+)<span class="kpi-of"> of (\d+)</span>`).FindStringSubmatch(page)
	if meeting == nil || meeting[1] != fmt.Sprint(last.meeting) || meeting[2] != fmt.Sprint(last.tenants) {
		t.Errorf("meeting card %q; want %d of %d, as the trend's last day", meeting, last.meeting, last.tenants)
	}
	if !strings.Contains(page, `<span id="kpi-stale">1</span> stale left out`) {
		t.Error("the meeting card does not say one stale tenant is left out")
	}
	avg := regexp.MustCompile(`id="kpi-average">([^<]+)<`).FindStringSubmatch(page)
	if avg == nil || avg[1] != percent(last.average) {
		t.Errorf("average card %q, want %s (the trend's last day)", avg, percent(last.average))
	}

	// The metrics' fleet gauges leave Charlie out too.
	resp, body = a.get(t, "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(name string) float64 {
		f := families[name]
		if f == nil || len(f.Metric) != 1 {
			t.Fatalf("no single %s", name)
		}
		return f.Metric[0].GetGauge().GetValue()
	}
	if got := gauge("fleetscore_fleet_average_percent"); round(got, percentDecimals) != last.average {
		t.Errorf("fleet_average_percent %v, want %v", got, last.average)
	}
	if got := gauge("fleetscore_fleet_tenants_meeting_target"); got != float64(last.meeting) {
		t.Errorf("fleet_tenants_meeting_target %v, want %d", got, last.meeting)
	}
}

// TestDataClockDatesThePages: a server whose data runs ahead of the wall
// clock (the demo's emulated days) dates its overview, its rows and the API
// by the data's clock, so no row is "as of" a day after the header's and no
// fresh tenant reads as stale.
func TestDataClockDatesThePages(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	wall := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	data := wall.AddDate(0, 0, 5) // 8 Dec
	tn := fleetscore.Tenant{ID: "00000001-0000-4000-8000-000000000001", Name: "Alpha Ltd", TargetPercent: 70}
	if err := st.SyncTenants(ctx, []fleetscore.Tenant{tn}); err != nil {
		t.Fatal(err)
	}
	var scores []fleetscore.Score
	for back := 0; back < 10; back++ {
		scores = append(scores, fleetscore.Score{TenantID: tn.ID, Day: fleetscore.DayOf(data).AddDays(-back), CurrentScore: 80 - float64(back), MaxScore: 100})
	}
	if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: tn, Scores: scores}); err != nil {
		t.Fatal(err)
	}
	a := serveAPI(t, Options{Source: st, Now: func() time.Time { return wall }, DataNow: func() time.Time { return data }})
	_, raw := a.get(t, "/")
	body := string(raw)
	header := regexp.MustCompile(`tenant · (\d+ \w+(?: \d{4})?) \(UTC\)`).FindStringSubmatch(body)
	if header == nil || !strings.HasPrefix(header[1], "8 Dec") {
		t.Errorf("overview header dated %v; want the data's day, 8 Dec", header)
	}
	if strings.Contains(body, "stale") {
		t.Error("a tenant with today's snapshot (by the data's clock) is shown stale")
	}
	var list []map[string]any
	a.getJSON(t, "/api/v1/tenants", &list)
	if len(list) != 1 || list[0]["as_of"] != "2026-12-08" || list[0]["stale"] != false {
		t.Errorf("/api/v1/tenants = %v; want as of 2026-12-08, not stale", list)
	}
}

// openSQLite is an empty store for a test.
func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "fleetscore.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
