package config

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/report"
)

const reportChannel = `
channels:
  - name: reports-mail
    type: email
    smtp: smtp.example.com:587
    from: reports@example.com
    to: soc@example.com
  - name: soc-teams
    type: teams
    url_env: FLEETSCORE_TEAMS_URL
`

// logoFile writes a small PNG beside the config and returns its path.
func logoFile(t *testing.T, dir string, interlaced bool) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 2))); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	if interlaced {
		data[28] = 1
	}
	path := filepath.Join(dir, "logo.png")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportsConfig(t *testing.T) {
	dir := t.TempDir()
	logo := logoFile(t, dir, false)
	y := okApp + `
tenants:
  - name: Contoso
    tenant_id: ` + contosoID + `
    report_to: [it@contoso.example, "Zoë <zoe@contoso.example>"]
` + reportChannel + okAlertsFor("soc-teams") + `
reports:
  name: Northwind Security
  logo: ` + logo + `
  accent: "#1F5F8B"
  footer: Confidential
  paper: Letter
  locale: en-us
  schedule: {every: quarterly, day: 2, at: "06:30"}
  channel: reports-mail
`
	cfg, err := parseAll(filepath.Join(fx.dir, "fleetscore.yaml"), []byte(y), alertEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Reports
	if r == nil || r.Name != "Northwind Security" || r.Accent != "#1f5f8b" || r.Paper != "letter" || r.Locale != "en-US" ||
		r.Footer != "Confidential" || r.Channel != "reports-mail" || len(r.Logo) == 0 {
		t.Fatalf("reports = %+v", r)
	}
	if s := r.Schedule; s == nil || s.Every != "quarterly" || s.Day != 2 || s.Hour != 6 || s.Minute != 30 {
		t.Errorf("schedule = %+v", s)
	}
	if got := cfg.Tenants[0].ReportTo; len(got) != 2 || got[0] != "<it@contoso.example>" || !strings.Contains(got[1], "<zoe@contoso.example>") {
		t.Errorf("report_to = %v", got)
	}
	// The shorthand and the defaults.
	cfg, err = parseAll(filepath.Join(fx.dir, "fleetscore.yaml"), []byte(okApp+okTenants+reportChannel+okAlertsFor("soc-teams")+
		"reports:\n  schedule: monthly\n  channel: reports-mail\n"), alertEnv)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Reports; r.Paper != "a4" || r.Locale != "en-GB" || r.Schedule.Day != 1 || r.Schedule.Hour != 7 || r.Schedule.Every != "monthly" {
		t.Errorf("defaults = %+v %+v", r, r.Schedule)
	}
}

func TestReportsProblems(t *testing.T) {
	dir := t.TempDir()
	good := logoFile(t, dir, false)
	bad := filepath.Join(dir, "logo.jpg")
	if err := os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 not a png"), 0o600); err != nil {
		t.Fatal(err)
	}
	interlacedDir := t.TempDir()
	interlaced := logoFile(t, interlacedDir, true)
	base := okApp + okTenants + reportChannel + okAlertsFor("soc-teams")
	rep := func(body string) string { return base + "reports:\n" + body }
	for _, tc := range []struct {
		name, yaml string
		words      []string
	}{
		{"not a block", base + "reports: yes #@here\n", []string{"reports must be a block of keys"}},
		{"logo not a png", rep("  logo: " + bad + " #@here\n"), []string{"is not a PNG image", "give a PNG file"}},
		{"logo missing", rep("  logo: " + filepath.Join(dir, "none.png") + " #@here\n"), []string{"does not exist"}},
		{"logo interlaced", rep("  logo: " + interlaced + " #@here\n"), []string{"is interlaced"}},
		{"accent", rep("  logo: " + good + "\n  accent: blue #@here\n"), []string{`accent "blue" is not a colour #rrggbb`}},
		{"paper", rep("  paper: a3 #@here\n"), []string{`paper "a3" is not known`, "a4", "letter"}},
		{"locale", rep("  locale: fr-FR #@here\n"), []string{`locale "fr-FR"`, "en-GB", "en-US"}},
		{"every", rep("  schedule: {every: weekly} #@here\n  channel: reports-mail\n"), []string{"monthly or quarterly, not \"weekly\""}},
		{"day", rep("  schedule:\n    every: monthly\n    day: 31 #@here\n  channel: reports-mail\n"), []string{`day "31" is not a day from 1 to 28`}},
		{"at", rep("  schedule:\n    at: 7am #@here\n  channel: reports-mail\n"), []string{`at "7am" is not a time HH:MM`}},
		{"no channel", rep("  schedule: monthly #@here\n"), []string{"no reports.channel", "email channel"}},
		{"unknown channel", rep("  channel: mail #@here\n"), []string{"reports.channel mail is not a channel", "reports-mail"}},
		{"not email", rep("  channel: soc-teams #@here\n"), []string{"is a teams channel", "email or graph_mail"}},
		{"unknown key", rep("  colour: red #@here\n"), []string{"unknown key colour"}},
		{"report_to bad", okApp + "tenants:\n  - name: Contoso\n    tenant_id: " + contosoID + "\n    report_to: [not-an-address] #@here\n",
			[]string{`report_to "not-an-address" is not an e-mail address`}},
		{"report_to empty", okApp + "tenants:\n  - name: Contoso\n    tenant_id: " + contosoID + "\n    report_to: [] #@here\n",
			[]string{"the report_to list is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAll(filepath.Join(fx.dir, "fleetscore.yaml"), []byte(tc.yaml), alertEnv)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want problems", err)
			}
			want := 0
			for i, l := range strings.Split(tc.yaml, "\n") {
				if strings.Contains(l, "#@here") {
					want = i + 1
				}
			}
			found := false
			for _, p := range ce.Problems {
				msg := p.String()
				all := true
				for _, w := range tc.words {
					all = all && strings.Contains(msg, w)
				}
				if all && p.Line == want {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem on line %d with %q in %v", want, tc.words, err)
			}
		})
	}
}

// TestReportLocalesMatch keeps config's list of locales in step with the
// report package's table (config does not import it).
func TestReportLocalesMatch(t *testing.T) {
	got := slices.Sorted(slices.Values(ReportLocales))
	want := report.LocaleNames()
	if !slices.Equal(got, want) {
		t.Errorf("config.ReportLocales = %v, report.Locales = %v", got, want)
	}
}
