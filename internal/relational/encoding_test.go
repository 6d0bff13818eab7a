package relational

import (
	"maps"
	"testing"
)

// replay rebuilds every day's state from change rows.
func replay(before State, days []int64, rows []Change) map[int64]State {
	st := maps.Clone(before)
	out := map[int64]State{}
	for _, d := range days {
		for _, c := range rows {
			if c.Day == d {
				st.Apply(c)
			}
		}
		out[d] = maps.Clone(st)
	}
	return out
}

func TestEncodeKeepsOnlyChangesAndReplaysExactly(t *testing.T) {
	days := []int64{10, 11, 12, 14} // 13 is a hole
	batch := map[int64]State{
		10: {1: 5, 2: 0, 3: 10},
		11: {1: 5, 2: 1, 3: 10},  // control 2 moves
		12: {1: 5, 2: 1},         // control 3 disappears
		14: {1: 5, 2: 1, 3: 7.5}, // and comes back
	}
	rows := Encode(State{}, days, nil, batch)
	if len(rows) != 6 { // 3 on day 10, 1 on day 11, the absence of 3, its return
		t.Errorf("%d rows, want 6: %+v", len(rows), rows)
	}
	got := replay(State{}, days, rows)
	for _, d := range days {
		if !maps.Equal(got[d], batch[d]) {
			t.Errorf("day %d replays to %v, want %v", d, got[d], batch[d])
		}
	}
	// Re-encoding the same days over the stored rows writes the same rows.
	again := Encode(State{}, days, rows, batch)
	if len(again) != len(rows) {
		t.Fatalf("re-encode: %d rows, want %d", len(again), len(rows))
	}
	for i := range rows {
		if again[i] != rows[i] {
			t.Errorf("row %d: %+v, then %+v", i, rows[i], again[i])
		}
	}
	// A batch that changes only day 11 keeps the other days as stored.
	fix := Encode(State{}, days, sortByDay(rows), map[int64]State{11: {1: 6, 2: 1, 3: 10}})
	want := maps.Clone(batch)
	want[11] = State{1: 6, 2: 1, 3: 10}
	got = replay(State{}, days, fix)
	for _, d := range days {
		if !maps.Equal(got[d], want[d]) {
			t.Errorf("after fixing day 11, day %d replays to %v, want %v", d, got[d], want[d])
		}
	}
}

func sortByDay(rows []Change) []Change {
	out := append([]Change(nil), rows...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Day < out[j-1].Day; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
