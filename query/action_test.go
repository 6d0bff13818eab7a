package query_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
)

// TestActionDetailAgreesWithTheRanking: for every action of a collected
// fleet, the action's own view counts the open tenants, the tenants lifted
// over their target and the fleet gain exactly as the ranking does; a
// restricted source sees only its tenant, and an action absent there is
// not found.
func TestActionDetailAgreesWithTheRanking(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 5})
	ctx := context.Background()
	actions, err := query.Actions(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	statuses, err := f.Store.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scored := 0
	for _, st := range statuses {
		if st.Latest != nil && st.Latest.MaxScore > 0 {
			scored++
		}
	}
	// The 60 most open (each view reads the whole fleet).
	for _, a := range actions[:min(len(actions), 60)] {
		d, err := query.ActionDetailView(ctx, f.Store, a.Control)
		if err != nil {
			t.Fatalf("%s: %v", a.Control, err)
		}
		gain := 0.0
		for _, x := range d.Tenants {
			gain += x.GainPercent
			u, err := url.Parse(x.PortalURL)
			if err != nil || u.Query().Get("tid") != x.TenantID {
				t.Errorf("%s at %s: portal_url %q", a.Control, x.Name, x.PortalURL)
			}
		}
		if d.OpenTenants != a.OpenTenants || d.Lifted() != a.LiftedTenants || !near(gain/float64(scored), a.FleetPercentGain) {
			t.Errorf("%s: detail open %d lifted %d gain %v; ranking %d %d %v", a.Control, d.OpenTenants, d.Lifted(), gain/float64(scored),
				a.OpenTenants, a.LiftedTenants, a.FleetPercentGain)
		}
	}

	if _, err := query.ActionDetailView(ctx, f.Store, "no_such_control"); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("an unknown control: %v; want not found", err)
	}
	one := f.Jobs[0].Tenant.ID
	r := query.Restrict(f.Store, []string{one})
	for _, a := range actions[:min(len(actions), 20)] {
		d, err := query.ActionDetailView(ctx, r, a.Control)
		if errors.Is(err, fleetscore.ErrNotFound) {
			continue // not part of this tenant's score
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Tenants) != 1 || d.Tenants[0].TenantID != one {
			t.Errorf("restricted to %s, %s shows %+v", one, a.Control, d.Tenants)
		}
	}
}

// TestPortalURL: the profile's Defender link keeps its path and gets the
// tenant's tid (replacing Graph's); anything else falls back to the
// Defender portal's actions view.
func TestPortalURL(t *testing.T) {
	const id = "0000000a-0000-4000-8000-00000000000a"
	for _, tc := range []struct{ actionURL, want string }{
		{"https://security.microsoft.com/threatpolicy?tid=other", "https://security.microsoft.com/threatpolicy?tid=" + id},
		{"https://entra.microsoft.com/#view/Microsoft_AAD_ConditionalAccess", "https://security.microsoft.com/securescore?tid=" + id + "&viewid=actions"},
		{"javascript:alert(1)", "https://security.microsoft.com/securescore?tid=" + id + "&viewid=actions"},
		{"http://security.microsoft.com/x", "https://security.microsoft.com/securescore?tid=" + id + "&viewid=actions"},
		{"https://user@security.microsoft.com/x", "https://security.microsoft.com/securescore?tid=" + id + "&viewid=actions"},
		{"", "https://security.microsoft.com/securescore?tid=" + id + "&viewid=actions"},
	} {
		if got := query.PortalURL(id, tc.actionURL); got != tc.want {
			t.Errorf("PortalURL(%q) = %q; want %q", tc.actionURL, got, tc.want)
		}
	}
}
