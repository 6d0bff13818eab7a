package server

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fleetscore/fleetscore/query"
)

// TestDayScoresAnswerAsEncodeAnswer: the scores answer written in one pass
// is encodeAnswer's, byte for byte, for numbers of every kind json.Marshal
// and roundJSON treat apart (integers, fractions to round, halves, tiny and
// huge ones in exponent form, -0), maps nil, empty and of any keys, and no
// day at all; what it cannot write so it leaves to encodeAnswer.
func TestDayScoresAnswerAsEncodeAnswer(t *testing.T) {
	special := []float64{0, math.Copysign(0, -1), 1, -1, 42, 612.5, 0.005, 0.015, 2.675, 1.00005, 99.99995,
		112.59000000000002, 33.333333333333336, -7.125, 1e-6, 9.99e-7, 1e-7, 1.5e-7, -2.5e-9, 1e20, 1.5e20,
		1e21, 1.5e21, 2e22, 123456789.123456789, 5e-324}
	rng := rand.New(rand.NewPCG(1, 2))
	num := func() float64 {
		switch rng.IntN(4) {
		case 0:
			return special[rng.IntN(len(special))]
		case 1:
			return float64(rng.IntN(1000))
		case 2:
			return math.Round(rng.Float64()*100000) / 1000
		}
		return (rng.Float64() - 0.2) * math.Pow(10, float64(rng.IntN(30)-10))
	}
	keys := []string{"AllTenants", "TotalSeats", "IndustryTypes", "percent_seen", "change_7d", "x1_y"}
	var days []query.DayScore
	for i := range 3000 {
		d := query.DayScore{Date: "2026-01-02", CurrentScore: num(), MaxScore: num(), Percent: num()}
		switch i % 7 {
		case 0: // no averages: nil
		case 1:
			d.Averages = map[string]float64{}
		default:
			d.Averages = map[string]float64{}
			for _, k := range keys[:1+rng.IntN(len(keys))] {
				if rng.IntN(4) > 0 {
					d.Averages[k] = num()
				}
			}
		}
		days = append(days, d)
	}
	same := func(name string, ds []query.DayScore) {
		t.Helper()
		want, err := encodeAnswer(ds)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, ok := dayScores(ds).appendAnswer(nil)
		if !ok {
			t.Fatalf("%s: not written", name)
		}
		if string(got) != string(want) {
			t.Errorf("%s: got\n%.2000s\nwant\n%.2000s", name, got, want)
		}
	}
	same("no day", nil)
	same("no day", []query.DayScore{})
	same("one day", days[:1])
	for i := 0; i < len(days); i += 100 {
		same("days", days[i:i+100])
	}

	// Left to encodeAnswer: a key roundJSON would not take as one, a date
	// json would escape, NaN.
	for name, d := range map[string]query.DayScore{
		"a key with a dash": {Date: "2026-01-02", Averages: map[string]float64{"All-Tenants": 1.23456}},
		"an empty key":      {Date: "2026-01-02", Averages: map[string]float64{"": 1.23456}},
		"a date to escape":  {Date: `2026"<01>`},
		"NaN":               {Date: "2026-01-02", Percent: math.NaN()},
		"infinity":          {Date: "2026-01-02", Averages: map[string]float64{"AllTenants": math.Inf(1)}},
	} {
		if _, ok := dayScores([]query.DayScore{days[0], d}).appendAnswer(nil); ok {
			t.Errorf("%s: written, want it left to encodeAnswer", name)
		}
	}
}
