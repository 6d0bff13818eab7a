package report_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/report"
	"github.com/fleetscore/fleetscore/report/reporttest"
)

// dataNow is the emulated fleet's clock: the morning of 1 December 2026,
// so that November is a whole stored month.
var dataNow = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

// fleet is a collected fleet whose first tenant is renamed with non-ASCII
// letters and an apostrophe and ampersand.
func fleet(t testing.TB, n int) (*fleettest.Fleet, fleetscore.Tenant) {
	t.Helper()
	f := fleettest.New(t, fleettest.Options{Tenants: n, Now: func() time.Time { return dataNow }, Days: 120})
	var tenants []fleetscore.Tenant
	for _, j := range f.Jobs {
		tenants = append(tenants, j.Tenant)
	}
	tenants[0].Name = "Café Lumière — O'Brien & Søn"
	if err := f.Store.SyncTenants(context.Background(), tenants); err != nil {
		t.Fatal(err)
	}
	return f, tenants[0]
}

func TestNovemberReportPDF(t *testing.T) {
	f, tenant := fleet(t, 3)
	ctx := context.Background()
	nov, err := report.ParsePeriod("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	// What the API answers: GET /tenants/{id}/scores?from=..&to=.. and
	// GET /tenants/{id}/controls.
	days, err := query.TenantScores(ctx, f.Store, tenant.ID, nov.From, nov.To)
	if err != nil || len(days) == 0 {
		t.Fatalf("November's scores: %d, %v", len(days), err)
	}
	controls, err := query.TenantControls(ctx, f.Store, tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, c := range controls {
		if c.Open && len(titles) < 5 {
			titles = append(titles, c.Title)
		}
	}
	if len(titles) != 5 {
		t.Fatalf("the tenant has %d open actions; the test needs 5", len(titles))
	}
	c, err := report.Build(ctx, f.Store, report.Registers{}, tenant.ID, nov, dataNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, paper := range []string{report.PaperA4, report.PaperLetter} {
		t.Run(paper, func(t *testing.T) {
			pdf, err := report.PDF(c, report.Branding{Name: "Northwind MSSP", Paper: paper, Footer: "Confidential — Northwind MSSP",
				Logo: logo(t), Accent: "#7a2e8f"})
			if err != nil {
				t.Fatal(err)
			}
			text := reporttest.Text(t, pdf)
			latest := fmt.Sprintf("%.1f%%", days[len(days)-1].Percent) // as the dashboard writes it
			target := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", tenant.TargetPercent), "0"), ".") + "%"
			for _, want := range append([]string{tenant.Name, latest, "Target " + target, "Northwind MSSP"}, titles...) {
				if !strings.Contains(text, reporttest.Squash(want)) {
					t.Errorf("the PDF's text lacks %q:\n%s", want, text)
				}
			}
			n, got := reporttest.Pages(t, pdf)
			if got != n || n < 2 || n > 4 {
				t.Errorf("pdftoppm drew %d pages of %d; want every page of a 2-4 page report", got, n)
			}
		})
	}
}

// logo is a small PNG, a stand-in for the MSSP's.
func logo(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 120, 40))
	for x := range 120 {
		for y := range 40 {
			img.Set(x, y, color.RGBA{R: uint8(x * 2), G: 80, B: 160, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestHTMLReport(t *testing.T) {
	f, tenant := fleet(t, 2)
	c, err := report.Build(context.Background(), f.Store, report.Registers{}, tenant.ID, report.Month(2026, time.November), dataNow)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.HTML(&b, c, report.Branding{Name: "Northwind", Locale: "en-US"}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"Café Lumière — O&#39;Brien &amp; Søn", report.Locales["en-US"].Percent(c.Last.Percent),
		"November 30, 2026", "<svg", c.Actions[0].Title} {
		if !strings.Contains(s, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
}

// TestExceptionsInForce: the register's live exceptions of the tenant are
// in the report with their action's title and review date, soonest first;
// a failed one and another tenant's are not.
func TestExceptionsInForce(t *testing.T) {
	f, tenant := fleet(t, 2)
	ctx := context.Background()
	controls, err := query.TenantControls(ctx, f.Store, tenant.ID)
	if err != nil || len(controls) < 3 {
		t.Fatalf("controls: %d, %v", len(controls), err)
	}
	at := dataNow.Add(-48 * time.Hour)
	put := func(tenantID, control, state, status, review string) {
		t.Helper()
		_, err := f.Store.PutException(ctx, exceptions.Exception{TenantID: tenantID, Control: control, State: state,
			Reason: "covered by Mimecast", ReviewBy: fleetscore.MustDay(review), CreatedBy: "alice", CreatedAt: at, Status: status, UpdatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(tenant.ID, controls[0].Control, fleetscore.StateThirdParty, exceptions.StatusLocal, "2027-06-30")
	put(tenant.ID, controls[1].Control, fleetscore.StateIgnored, exceptions.StatusInEffect, "2027-02-28")
	put(tenant.ID, controls[2].Control, fleetscore.StateIgnored, exceptions.StatusFailed, "2027-01-31")
	put(f.Jobs[1].Tenant.ID, controls[0].Control, fleetscore.StateThirdParty, exceptions.StatusLocal, "2027-01-01")
	excs := func(ctx context.Context, id string) ([]exceptions.Exception, error) {
		return f.Store.Exceptions(ctx, exceptions.Filter{TenantID: id})
	}
	c, err := report.Build(ctx, f.Store, report.Registers{Exceptions: excs}, tenant.ID, report.Month(2026, time.November), dataNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Exceptions) != 2 || c.Exceptions[0].Title != controls[1].Title || c.Exceptions[1].Title != controls[0].Title {
		t.Fatalf("exceptions in force = %+v, want %s then %s", c.Exceptions, controls[1].Title, controls[0].Title)
	}
	pdf, err := report.PDF(c, report.Branding{Locale: "en-US"})
	if err != nil {
		t.Fatal(err)
	}
	text := reporttest.Text(t, pdf)
	for _, want := range []string{"Exceptions in force", "Risk accepted", "Third party", "February 28, 2027", "June 30, 2027"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
	if strings.Contains(text, "January 31, 2027") {
		t.Error("the failed exception is in the report")
	}
}

// TestCampaignsSection: a campaign that touches the tenant is in its report
// with its action, owner, due date and the tenant's own status; a campaign
// of other tenants only is not, and nothing of the other members shows.
func TestCampaignsSection(t *testing.T) {
	f, tenant := fleet(t, 3)
	ctx := context.Background()
	svc := &campaign.Service{Store: f.Store, Now: func() time.Time { return dataNow }}
	controls, err := query.TenantControls(ctx, f.Store, tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	var open []query.Control
	for _, c := range controls {
		if c.Open {
			open = append(open, c)
		}
	}
	if len(open) < 2 {
		t.Fatalf("the tenant has %d open actions; the test needs 2", len(open))
	}
	due := fleetscore.DayOf(dataNow).AddDays(30)
	other := f.Jobs[1].Tenant.ID
	if _, err := svc.Create(ctx, "alice", campaign.Request{Control: open[0].Control, Tenants: []string{tenant.ID, other}, Owner: "SOC team", Due: due}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, "alice", campaign.Request{Control: open[1].Control, Tenants: []string{other}, Owner: "Elsewhere crew", Due: due}); err != nil {
		t.Fatal(err)
	}
	regs := report.Registers{Campaigns: func(ctx context.Context, id string) ([]campaign.Progress, error) {
		return svc.List(ctx, func(t string) bool { return strings.EqualFold(t, id) })
	}}
	c, err := report.Build(ctx, f.Store, regs, tenant.ID, report.Month(2026, time.November), dataNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Campaigns) != 1 {
		t.Fatalf("campaigns in the report: %+v; want the one that touches the tenant", c.Campaigns)
	}
	got := c.Campaigns[0]
	if got.Title != open[0].Title || got.Owner != "SOC team" || got.Due != due || got.Status != campaign.StatusOpen {
		t.Errorf("campaign entry %+v; want %q by SOC team, due %s, open", got, open[0].Title, due)
	}
	pdf, err := report.PDF(c, report.Branding{Locale: "en-GB"})
	if err != nil {
		t.Fatal(err)
	}
	text := reporttest.Text(t, pdf)
	for _, want := range []string{"Campaigns", "SOC team", report.Locales["en-GB"].Date(due), "Open"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q in %s", want, text[strings.Index(text, "Campaigns"):])
		}
	}
	if strings.Contains(text, "Elsewhere crew") {
		t.Error("another tenant's campaign is in the report")
	}
	var b bytes.Buffer
	if err := report.HTML(&b, c, report.Branding{}); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); !strings.Contains(s, `id="campaigns"`) || !strings.Contains(s, "SOC team") {
		t.Error("the HTML report lacks the campaigns table")
	}
}
