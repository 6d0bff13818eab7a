package storetest

import (
	"context"
	"testing"

	"github.com/fleetscore/fleetscore"
)

// testSharedProfileText: tenants whose profiles say the same thing (a store
// may keep the text once) each read back their own, whatever the other's
// does next: a changed text, a moved rank, a different max score, tier or
// deprecation, one removed and back with new words.
func testSharedProfileText(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	a, b := sampleProfiles(), sampleProfiles()
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: a})
	save(t, s, fleetscore.Batch{Tenant: tenantB, Profiles: b})
	checkProfiles(t, s, tenantA.ID, a)
	checkProfiles(t, s, tenantB.ID, b)

	// Microsoft rewords a remediation, for B first; a control comes before
	// the others for A, shifting their ranks; B's Safe Links is worth more,
	// in another tier, and deprecated.
	b[0].Remediation = "<p>Require MFA for <b>every</b> admin.</p>"
	b[2].MaxScore, b[2].Tier, b[2].Deprecated = 10, "Advanced", true
	for i := range a {
		a[i].Rank++
	}
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: a})
	save(t, s, fleetscore.Batch{Tenant: tenantB, Profiles: b})
	checkProfiles(t, s, tenantA.ID, a)
	checkProfiles(t, s, tenantB.ID, b)

	// Then for A too: both read the new words.
	a[0].Remediation = b[0].Remediation
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: a})
	checkProfiles(t, s, tenantA.ID, a)
	checkProfiles(t, s, tenantB.ID, b)

	// A drops a control, which comes back retitled; B's is as it was.
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: a[:2]})
	checkProfiles(t, s, tenantA.ID, a[:2])
	a[2].Title, a[2].Threats, a[2].Rank = "Turn on Safe Links", nil, 2
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: a})
	checkProfiles(t, s, tenantA.ID, a)
	checkProfiles(t, s, tenantB.ID, b)

	// The fleet's summaries agree with each tenant's profiles.
	fr, ok := s.(fleetscore.FleetReader)
	if !ok {
		return
	}
	sums, err := fr.ProfileSummaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]fleetscore.ControlProfile{tenantA.ID: a, tenantB.ID: b} {
		got := sums[id]
		if len(got) != len(want) {
			t.Fatalf("summaries of %s: %d profiles, want %d", id, len(got), len(want))
		}
		byID := map[string]fleetscore.ControlProfile{}
		for _, p := range want {
			byID[p.ID] = p
		}
		for _, g := range got {
			w := byID[g.ID]
			if g.Title != w.Title || g.Rank != w.Rank || g.MaxScore != w.MaxScore || g.Tier != w.Tier || g.Deprecated != w.Deprecated {
				t.Errorf("summary of %s's %s = %+v, want title %q rank %d max %g tier %q deprecated %t",
					id, g.ID, g, w.Title, w.Rank, w.MaxScore, w.Tier, w.Deprecated)
			}
		}
	}
}
