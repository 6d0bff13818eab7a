package fleetscore_test

import (
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

func TestPercentIsOneSnapshot(t *testing.T) {
	for _, tc := range []struct {
		cur, max, want float64
	}{
		{212.47, 389, 212.47 / 389 * 100},
		{75, 100, 75},
		{0, 0, 0},   // no max yet: 0, not NaN
		{10, -1, 0}, // a sentinel max is not a denominator
		{100, 100, 100},
	} {
		s := fleetscore.Score{CurrentScore: tc.cur, MaxScore: tc.max}
		if got := s.Percent(); got != tc.want {
			t.Errorf("Percent(%v/%v) = %v, want %v", tc.cur, tc.max, got, tc.want)
		}
	}
}

func TestDayIsTheUTCDate(t *testing.T) {
	// 23:30 at UTC-5 is already the next day in UTC.
	est := time.FixedZone("EST", -5*3600)
	d := fleetscore.DayOf(time.Date(2026, 11, 26, 23, 30, 0, 0, est))
	if d.String() != "2026-11-27" {
		t.Errorf("DayOf = %s, want 2026-11-27", d)
	}
	if got := fleetscore.DayFromUnix(d.Unix()); got != d {
		t.Errorf("Unix round trip: %s != %s", got, d)
	}
	if d.AddDays(-90).String() != "2026-08-29" || d.Sub(d.AddDays(-90)) != 90 {
		t.Errorf("AddDays/Sub: %s, %d", d.AddDays(-90), d.Sub(d.AddDays(-90)))
	}
	if _, err := fleetscore.ParseDay("2026-13-01"); err == nil {
		t.Error("ParseDay accepted month 13")
	}
}

func TestStateIsTheLatestUpdate(t *testing.T) {
	p := fleetscore.ControlProfile{}
	if p.State() != fleetscore.StateDefault {
		t.Errorf("no updates: %q", p.State())
	}
	p.StateUpdates = []fleetscore.ControlStateUpdate{{State: "Default"}, {State: "Ignored"}}
	if p.State() != fleetscore.StateIgnored {
		t.Errorf("state = %q, want the latest, Ignored", p.State())
	}
}
