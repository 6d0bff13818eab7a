package releasetest

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/storetest"
)

// StateBefore checks, on an empty store s, that the control state the
// store's reads and writes start from (relational's stateBefore, which
// seeks each of the tenant's controls) is, for every day around a
// history, the latest change row of each control before that day, as a
// scan of all the tenant's rows finds it. The history has what moves that
// state: a backfill of older days after newer ones, a control absent for
// some days (score NULL rows), re-fetched days (one dropping a control and
// moving another, one bringing the absent control back), a control that
// appears late, and the newest day saved again.
func StateBefore(t *testing.T, s interface {
	Store
	StateBefore(ctx context.Context, tenantID string, day fleetscore.Day) (map[int64]float64, error)
}) {
	t.Helper()
	ctx := context.Background()
	tenant := fleetscore.Tenant{ID: "t-before", Name: "Before", TargetPercent: 70}
	first := fleetscore.MustDay("2026-03-01")
	days := storetest.History(tenant.ID, first, 60, 40, 7)
	absent := days[0].Controls[2].Name
	for i := 10; i < 15; i++ {
		days[i].Controls = without(days[i].Controls, absent)
	}
	for i := 40; i < len(days); i++ {
		days[i].Controls = append(days[i].Controls, fleetscore.ControlScore{Name: "zz-late", Category: "Apps", Score: float64(i % 3)})
	}
	refetched := days[35]
	refetched.Controls = append([]fleetscore.ControlScore(nil), refetched.Controls[1:]...) // drops the first
	refetched.Controls[0].Score += 0.5                                                     // moves the next
	back := days[12]
	back.Controls = append(append([]fleetscore.ControlScore(nil), back.Controls...), fleetscore.ControlScore{Name: absent, Category: days[0].Controls[2].Category, Score: 1.25})

	var tenantKey int64
	absences := 0 // (day, control) whose latest change before the day is an absence
	for i, b := range [][]fleetscore.Score{days[30:], days[:30], {refetched}, {back}, days[59:]} {
		if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant, Scores: b}); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if err := s.DB().QueryRowContext(ctx, `SELECT id FROM tenants WHERE guid = 't-before'`).Scan(&tenantKey); err != nil {
			t.Fatal(err)
		}
		for d := first.AddDays(-1); !d.After(first.AddDays(61)); d = d.AddDays(1) {
			got, err := s.StateBefore(ctx, tenant.ID, d)
			if err != nil {
				t.Fatalf("after batch %d: state before %s: %v", i, d, err)
			}
			want, nulls := scanStateBefore(ctx, t, s, tenantKey, d)
			absences += nulls
			if !maps.Equal(got, want) {
				t.Errorf("after batch %d: state before %s:\n got %v\nwant %v", i, d, got, want)
			}
		}
	}
	if absences == 0 {
		t.Error("no control's latest change before a day is an absence: the history tests none")
	}
	if _, err := s.StateBefore(ctx, "t-unknown", first); err == nil {
		t.Error("state before of an unknown tenant: no error")
	}
}

// scanStateBefore is each control's latest change before day, found by
// reading every change row of the tenant before it (what stateBefore did
// before it seeked the controls one by one), and how many of them are an
// absence (score NULL), which the state leaves out.
func scanStateBefore(ctx context.Context, t *testing.T, s Store, tenant int64, day fleetscore.Day) (map[int64]float64, int) {
	t.Helper()
	rows, err := s.DB().QueryContext(ctx, fmt.Sprintf(`
		SELECT control, score
		FROM (SELECT control, score, row_number() OVER (PARTITION BY control ORDER BY day DESC) AS n
		      FROM control_changes
		      WHERE tenant = %d AND day < %d) latest
		WHERE n = 1`, tenant, day.Unix()))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	st, nulls := map[int64]float64{}, 0
	for rows.Next() {
		var (
			control int64
			score   *float64
		)
		if err := rows.Scan(&control, &score); err != nil {
			t.Fatal(err)
		}
		if score == nil {
			nulls++
			continue
		}
		st[control] = *score
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return st, nulls
}

func without(cs []fleetscore.ControlScore, name string) []fleetscore.ControlScore {
	var out []fleetscore.ControlScore
	for _, c := range cs {
		if c.Name != name {
			out = append(out, c)
		}
	}
	return out
}
