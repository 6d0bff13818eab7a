package report_test

import (
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/report"
)

func TestParsePeriod(t *testing.T) {
	for _, tc := range []struct{ in, key, from, to string }{
		{"2026-11", "2026-11", "2026-11-01", "2026-11-30"},
		{"2024-02", "2024-02", "2024-02-01", "2024-02-29"},
		{"2026-Q4", "2026-Q4", "2026-10-01", "2026-12-31"},
		{"2027-q1", "2027-Q1", "2027-01-01", "2027-03-31"},
		{"2026-10-05..2026-11-04", "2026-10-05..2026-11-04", "2026-10-05", "2026-11-04"},
	} {
		p, err := report.ParsePeriod(tc.in)
		if err != nil || p.Key != tc.key || p.From.String() != tc.from || p.To.String() != tc.to {
			t.Errorf("%s: %+v %v", tc.in, p, err)
		}
	}
	for _, bad := range []string{"", "2026-13", "2026-00", "2026-Q5", "November", "2026-11-30..2026-11-01",
		"2020-01-01..2026-01-01", "2026-11-01..", "2026-1"} {
		if _, err := report.ParsePeriod(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	now := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	if p := report.LastMonth(now); p.Key != "2026-12" {
		t.Errorf("last month of %s = %s", now, p.Key)
	}
	if p := report.LastQuarter(now); p.Key != "2026-Q4" {
		t.Errorf("last quarter of %s = %s", now, p.Key)
	}
	months, quarters := report.Recent(now, 4)
	if len(months) != 4 || months[0].Key != "2026-12" || months[3].Key != "2026-09" || len(quarters) != 2 || quarters[0].Key != "2026-Q4" || quarters[1].Key != "2026-Q3" {
		t.Errorf("recent: %v %v", months, quarters)
	}
}

func TestLocales(t *testing.T) {
	gb, us := report.Locales["en-GB"], report.Locales["en-US"]
	d := fleetscore.MustDay("2026-11-07")
	for _, tc := range []struct{ got, want string }{
		{gb.Date(d), "7 November 2026"},
		{us.Date(d), "November 7, 2026"},
		{gb.ShortDate(d), "7/11"},
		{us.ShortDate(d), "11/7"},
		{gb.Percent(71.249), "71.2%"},
		{us.Percent(71.25), "71.2%"}, // as strconv rounds, like the dashboard
		{gb.Target(75), "75%"},
		{gb.Target(62.5), "62.5%"},
		{gb.Points(1234.5), "1,234.5"},
		{gb.Signed(-0.04, 1), "0.0"},
		{gb.Signed(-1.26, 1), "−1.3"},
		{gb.Signed(2, 1), "+2.0"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// Every locale has every label the English table has.
	for name, l := range report.Locales {
		if l.L("title") == "title" || l.L("exceptions") == "exceptions" {
			t.Errorf("%s lacks labels", name)
		}
	}
}
