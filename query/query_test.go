package query

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

func TestTenantRow(t *testing.T) {
	at := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	row := TenantRow(fleetscore.TenantStatus{
		Tenant:         fleetscore.Tenant{ID: "t1", Name: "Contoso", TargetPercent: 80},
		Latest:         &fleetscore.Score{Day: fleetscore.MustDay("2026-11-27"), CurrentScore: 300, MaxScore: 400},
		LastCollection: &fleetscore.Collection{StartedAt: at.Add(-time.Minute), FinishedAt: at, Status: fleetscore.StatusOK},
	})
	if *row.Percent != 75 || row.MeetsTarget || *row.AsOf != "2026-11-27" || !row.LastCollection.At.Equal(at) {
		t.Errorf("row = %+v", row)
	}
	row.TargetPercent = 75
	if r := TenantRow(fleetscore.TenantStatus{Tenant: fleetscore.Tenant{TargetPercent: 75}, Latest: &fleetscore.Score{CurrentScore: 75, MaxScore: 100}}); !r.MeetsTarget {
		t.Error("exactly the target meets it")
	}

	// Before any snapshot the figures are null, not zero.
	empty := TenantRow(fleetscore.TenantStatus{Tenant: fleetscore.Tenant{ID: "t2", Name: "New", TargetPercent: 75}})
	b, _ := json.Marshal(empty)
	for _, want := range []string{`"percent":null`, `"as_of":null`, `"last_collection":null`, `"meets_target":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}
