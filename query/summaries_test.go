package query

import (
	"reflect"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

// The compact form gives back exactly what it was made of, shares the
// profiles two tenants have alike, and keeps apart those that differ in
// any field.
func TestSummariesRoundTrip(t *testing.T) {
	base := fleetscore.ControlProfile{ID: "MFA", Title: "Require MFA", Category: fleetscore.CategoryIdentity, MaxScore: 10,
		Rank: 1, Tier: "Core", UserImpact: "Low", ImplementationCost: "Moderate", ActionType: "Config",
		ActionURL: "https://security.microsoft.com/x", Service: "AzureAD"}
	ignored := []fleetscore.ControlStateUpdate{{State: fleetscore.StateIgnored, AssignedTo: "a", Comment: "c", UpdatedBy: "b",
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	other := base
	other.MaxScore = 9
	deprecated := base
	deprecated.Deprecated = true
	threats := base
	threats.Threats = []string{"Phishing"}
	withState := base
	withState.StateUpdates = ignored
	noStates := base // an empty list of updates, not nil: kept so
	noStates.StateUpdates = []fleetscore.ControlStateUpdate{}
	in := map[string][]fleetscore.ControlProfile{
		"a":     {base, other, deprecated},
		"b":     {withState, threats, noStates},
		"c":     {base},
		"empty": {},
		"nil":   nil,
	}
	c := compactSummaries(in)
	if got := expandSummaries(c); !reflect.DeepEqual(got, in) {
		t.Fatalf("expand(compact(x)) = %+v\nwant %+v", got, in)
	}
	if c["a"][0].shared != c["c"][0].shared || c["a"][0].shared != c["b"][0].shared {
		t.Error("the same profile at three tenants is not shared")
	}
	if c["a"][0].shared == c["a"][1].shared || c["a"][0].shared == c["a"][2].shared {
		t.Error("profiles differing in MaxScore or Deprecated share one")
	}
	if c["b"][0].full().State() != fleetscore.StateIgnored || c["a"][0].full().State() != fleetscore.StateDefault {
		t.Error("a tenant's state is not its own")
	}
	if expandSummaries(nil) != nil {
		t.Error("expand(nil) is not nil")
	}
}
