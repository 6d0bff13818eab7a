package releasetest

import (
	"context"
	"testing"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/storetest"
)

// ChangePrev checks, on an empty store s, that every control change row
// keeps the score of the row before it (prev, migration 0013) through the
// writes that rewrite a tenant's history: a batch of newer days, a backfill
// of older days before them, a re-fetch of one day in the middle that drops
// a control and moves another, and the same batch again.
func ChangePrev(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	tenant := fleetscore.Tenant{ID: "t-prev", Name: "Prev", TargetPercent: 70}
	scores := storetest.History(tenant.ID, fleetscore.MustDay("2026-03-01"), 40, 60, 3)
	fixed := scores[30]
	fixed.Controls = append([]fleetscore.ControlScore(nil), fixed.Controls[1:]...) // drops the first
	fixed.Controls[0].Score += 0.5                                                 // moves the next
	for i, b := range [][]fleetscore.Score{scores[20:], scores[:20], {fixed}, {fixed}} {
		if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant, Scores: b}); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		// Each row against the row before it of its control: wrong when its
		// prev is not that row's score; returns, rows after an absence.
		var rows, withPrev, returns, wrong int64
		err := s.DB().QueryRowContext(ctx, `
			SELECT count(*), count(prev),
			       coalesce(sum(CASE WHEN before_day IS NOT NULL AND want IS NULL THEN 1 ELSE 0 END), 0),
			       coalesce(sum(CASE WHEN (prev IS NULL) <> (want IS NULL) OR prev <> want THEN 1 ELSE 0 END), 0)
			FROM (SELECT prev, lag(score) OVER w AS want, lag(day) OVER w AS before_day
			      FROM control_changes
			      WINDOW w AS (PARTITION BY tenant, control ORDER BY day)) x`).Scan(&rows, &withPrev, &returns, &wrong)
		if err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Errorf("after batch %d: %d of %d change rows do not keep the score of the row before them", i, wrong, rows)
		}
		if withPrev == 0 {
			t.Errorf("after batch %d: no row has a score before it in %d rows", i, rows)
		}
		if i >= 2 && returns == 0 {
			t.Errorf("after batch %d: no row follows the dropped control's absence", i)
		}
	}
}
