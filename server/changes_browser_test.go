package server_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/server"
)

// TestWhyTheScoreMovedInBrowser scripts a week at three tenants: at the
// first, an action with points regresses to 0 (the fleet's biggest fall);
// at the second, an open action is completed; Microsoft adds a control at
// every tenant. In Chromium the overview lists the first tenant's fall
// first with its reason and the addition as one fleet line, and the
// tenant page shows the day's reason, and the action's own history.
func TestWhyTheScoreMovedInBrowser(t *testing.T) {
	day1 := fleetscore.MustDay("2026-03-01")
	day := func(n int) fleetscore.Day { return day1.AddDays(n - 1) }
	now := day(10).Time().Add(15 * time.Hour)
	var (
		ids        []string
		fell, rose fleetscore.ControlProfile
		names      []string
	)
	f := fleettest.New(t, fleettest.Options{Tenants: 3, Days: 10, Now: func() time.Time { return now },
		Script: func(e *emulator.Emulator) {
			added := []emulator.ScriptControl{{ID: "zScriptedCopilotReviews", Title: "Enable Copilot access reviews", Category: fleetscore.CategoryApps, MaxScore: 8, From: day(9)}}
			for i, ti := range e.Tenants()[:3] {
				ids, names = append(ids, ti.ID), append(names, ti.Name)
				e.SetScript(ti.ID, emulator.Script{Base: day1})
				scores, profiles := e.Expected(ti.ID)
				pts := map[string]float64{}
				for _, c := range scores[0].Controls {
					pts[c.Name] = c.Score
				}
				s := emulator.Script{Base: day1, Added: added}
				// The control that moves most: at the first tenant, the one
				// with the most points; at the second, the one most open.
				var pick fleetscore.ControlProfile
				best := 0.0
				for _, p := range profiles {
					v, ok := pts[p.ID]
					if !ok || p.Deprecated || len(p.StateUpdates) != 1 || p.StateUpdates[0].State != fleetscore.StateDefault {
						continue
					}
					if gain := map[int]float64{0: v, 1: p.MaxScore - v}[i]; gain > best {
						pick, best = p, gain
					}
				}
				switch i {
				case 0:
					fell = pick
					s.Points = []emulator.ScriptPoints{{Control: pick.ID, From: day(8), Points: 0}}
				case 1:
					rose = pick
					s.Points = []emulator.ScriptPoints{{Control: pick.ID, From: day(7), Points: pick.MaxScore}}
				}
				e.SetScript(ti.ID, s)
			}
		}})
	s, err := server.New(server.Options{Source: f.Store, Now: func() time.Time { return now }, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ctx := newBrowser(t)

	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+"`"+sel+"`"+`) || {}).textContent || ""`))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.Join(strings.Fields(v), " ")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#moved"))); err != nil {
		t.Fatalf("overview: %v", err)
	}
	falls, rises, events := text("#moved-falls li:first-child"), text("#moved-rises li:first-child"), text("#fleet-events")
	t.Logf("falls %q rises %q events %q", falls, rises, events)
	if !strings.Contains(falls, names[0]) || !strings.Contains(falls, fell.Title) || !strings.Contains(falls, "regressed") {
		t.Errorf("the biggest fall = %q; want %s first, with %q regressed as its reason", falls, names[0], fell.Title)
	}
	if !strings.Contains(rises, names[1]) || !strings.Contains(rises, rose.Title) || !strings.Contains(rises, "improved") {
		t.Errorf("the biggest rise = %q; want %s with %q improved", rises, names[1], rose.Title)
	}
	if !strings.Contains(events, "Microsoft added Enable Copilot access reviews at 3 tenants") || strings.Count(events, "Copilot") != 1 {
		t.Errorf("fleet events = %q; want the addition once, at 3 tenants", events)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/tenants/"+ids[0]), chromedp.WaitVisible(chromedp.CSS("#change-list"))); err != nil {
		t.Fatalf("tenant page: %v", err)
	}
	day8 := text(`#change-list li[data-day="` + day(8).String() + `"]`)
	if !strings.Contains(day8, fell.Title) || !strings.Contains(day8, "regressed −") || !strings.Contains(day8, "from points") {
		t.Errorf("the tenant page's %s = %q; want %q regressed as the reason", day(8), day8, fell.Title)
	}
	// The action's own history: its row links to the changes of it alone.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`td.c-hist a[href*="control=`+fell.ID+`"]`))); err != nil {
		t.Fatalf("the action's history: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#change-list"))); err != nil {
		t.Fatal(err)
	}
	title := text("#changes-h")
	items, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#change-list .item")].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, fell.Title+" only") || len(items) != 1 || !strings.Contains(items[0], fell.Title) {
		t.Errorf("the action's history: heading %q, items %q; want %q's one change", title, items, fell.Title)
	}
}
