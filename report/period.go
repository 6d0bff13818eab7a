package report

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Period is the days a report covers, from..to inclusive, with its key: a
// month "2026-11", a quarter "2026-Q4", or "2026-10-05..2026-11-04".
type Period struct {
	Key      string
	From, To fleetscore.Day
}

// MaxPeriodDays bounds a from..to period: a year and a bit.
const MaxPeriodDays = 400

var (
	monthKey   = regexp.MustCompile(`^(\d{4})-(\d{2})$`)
	quarterKey = regexp.MustCompile(`^(\d{4})-[Qq]([1-4])$`)
)

// ParsePeriod reads a month (2026-11), a quarter (2026-Q4) or a range of
// days (2026-10-05..2026-11-04).
func ParsePeriod(s string) (Period, error) {
	if len(s) > 40 {
		return Period{}, fmt.Errorf("period is too long; write a month like 2026-11, a quarter like 2026-Q4 or from..to like 2026-10-05..2026-11-04")
	}
	if m := monthKey.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		if mo >= 1 && mo <= 12 {
			return Month(y, time.Month(mo)), nil
		}
	}
	if m := quarterKey.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		q, _ := strconv.Atoi(m[2])
		return Quarter(y, q), nil
	}
	if len(s) == 22 && s[10:12] == ".." {
		from, err1 := fleetscore.ParseDay(s[:10])
		to, err2 := fleetscore.ParseDay(s[12:])
		if err1 == nil && err2 == nil {
			return Range(from, to)
		}
	}
	return Period{}, fmt.Errorf("period %q is not a month like 2026-11, a quarter like 2026-Q4 or from..to like 2026-10-05..2026-11-04", s)
}

// Month is the calendar month m of year y.
func Month(y int, m time.Month) Period {
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return Period{Key: first.Format("2006-01"), From: fleetscore.DayOf(first), To: fleetscore.DayOf(first.AddDate(0, 1, -1))}
}

// Quarter is quarter q (1-4) of year y.
func Quarter(y, q int) Period {
	first := time.Date(y, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
	return Period{Key: fmt.Sprintf("%d-Q%d", y, q), From: fleetscore.DayOf(first), To: fleetscore.DayOf(first.AddDate(0, 3, -1))}
}

// Range is the days from..to, at most MaxPeriodDays.
func Range(from, to fleetscore.Day) (Period, error) {
	switch {
	case to.Before(from):
		return Period{}, fmt.Errorf("period %s..%s ends before it starts; write the earlier day first", from, to)
	case to.Sub(from) >= MaxPeriodDays:
		return Period{}, fmt.Errorf("period %s..%s is longer than %d days; report a month or a quarter", from, to, MaxPeriodDays)
	}
	return Period{Key: from.String() + ".." + to.String(), From: from, To: to}, nil
}

// LastMonth is the month before now's, the default of the tenant page's
// picker.
func LastMonth(now time.Time) Period {
	y, m, _ := now.UTC().Date()
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	return Month(first.Year(), first.Month())
}

// LastQuarter is the quarter before now's.
func LastQuarter(now time.Time) Period {
	y, m, _ := now.UTC().Date()
	q := (int(m)-1)/3 + 1
	if q == 1 {
		return Quarter(y-1, 4)
	}
	return Quarter(y, q-1)
}

// Recent lists the last n months and the last quarters they span, newest
// first: the choices of the tenant page's period picker.
func Recent(now time.Time, n int) (months, quarters []Period) {
	p := LastMonth(now)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		months = append(months, p)
		q := Quarter(p.From.Time().Year(), (int(p.From.Time().Month())-1)/3+1)
		if !seen[q.Key] && !q.To.After(fleetscore.DayOf(now)) {
			seen[q.Key] = true
			quarters = append(quarters, q)
		}
		p = LastMonth(p.From.Time())
	}
	return months, quarters
}
