package storetest

import (
	"reflect"
	"testing"

	"github.com/fleetscore/fleetscore"
)

func TestGeneratorIsReproducibleAndChangesLittle(t *testing.T) {
	first := fleetscore.MustDay("2026-01-01")
	a, b := History("t", first, 60, 250, 7), History("t", first, 60, 250, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same arguments gave two histories")
	}
	changed := 0
	for i := 1; i < len(a); i++ {
		if a[i].Day.Sub(a[i-1].Day) != 1 {
			t.Fatalf("day %d is %s after %s", i, a[i].Day, a[i-1].Day)
		}
		prev := map[string]float64{}
		for _, c := range a[i-1].Controls {
			prev[c.Name] = c.Score
		}
		for _, c := range a[i].Controls {
			if v, ok := prev[c.Name]; !ok || v != c.Score {
				changed++
			}
		}
	}
	perDay := float64(changed) / float64(len(a)-1)
	if perDay < 1 || perDay > 7.5 { // 1-3 % of 250
		t.Errorf("%.1f controls change a day, want 1 to 7.5", perDay)
	}
	if a[0].Percent() <= 0 || a[0].Percent() >= 100 {
		t.Errorf("percent of the first day = %v", a[0].Percent())
	}
}
