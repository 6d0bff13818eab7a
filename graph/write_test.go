package graph_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/graph"
)

const (
	appID     = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
	appSecret = "Q~fleetscore-write-test"
)

// writeFixture is a real HTTPS emulator and a real Graph client with an
// azidentity secret credential. Waits are recorded, not slept.
type writeFixture struct {
	emu *emulator.Emulator
	gc  *graph.Client
	now time.Time

	mu    sync.Mutex
	waits []time.Duration
	cred  graph.Target
}

func newWriteFixture(t *testing.T) *writeFixture {
	t.Helper()
	f := &writeFixture{now: fleetscore.MustDay("2026-03-15").Time().Add(9 * time.Hour)}
	f.emu = emulator.New(emulator.Options{Seed: 11, NoQuirks: true, Now: func() time.Time { return f.now }})
	if err := f.emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.emu.Close() })
	f.emu.AddApp(emulator.App{ClientID: appID, Secrets: []string{appSecret}})
	hc := graph.NewHTTPClient(f.emu.CACertPEM())
	var err error
	f.gc, err = graph.New(graph.Options{BaseURL: f.emu.URL(), HTTPClient: hc,
		Sleep: func(ctx context.Context, d time.Duration) error {
			f.mu.Lock()
			f.waits = append(f.waits, d)
			f.mu.Unlock()
			return ctx.Err()
		}})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := graph.NewCredential(graph.App{ClientID: appID, Secret: func() string { return appSecret }}, "organizations",
		graph.AuthOptions{AuthorityHost: f.emu.URL() + "/", Custom: true, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	f.cred = graph.Target{ClientID: appID, Credential: cred}
	return f
}

// tenant adds a tenant (with the write role when write) and returns its
// target and a control that is neither deprecated nor a Defender one.
func (f *writeFixture) tenant(t *testing.T, write bool) (graph.Target, string) {
	t.Helper()
	spec := emulator.Tenant{ConsentedApps: []string{appID}, Controls: 120}
	if write {
		spec.WriteApps = []string{appID}
	}
	info := f.emu.AddTenant(spec)
	_, profiles := f.emu.Expected(info.ID)
	for _, p := range profiles {
		if !p.Deprecated && graph.WritableControl(p.ID) && p.State() == fleetscore.StateDefault {
			tg := f.cred
			tg.TenantID = info.ID
			return tg, p.ID
		}
	}
	t.Fatal("no writable control")
	return graph.Target{}, ""
}

const wantBody = `{"state":"ThirdParty","comment":"Covered by Mimecast","assignedTo":"","vendorInformation":{"provider":"SecureScore","providerVersion":null,"subProvider":null,"vendor":"Microsoft"}}`

func TestSetControlStateWithRepresentation(t *testing.T) {
	f := newWriteFixture(t)
	tg, control := f.tenant(t, true)
	p, err := f.gc.SetControlState(context.Background(), tg, control, fleetscore.StateThirdParty, "Covered by Mimecast")
	if err != nil {
		t.Fatal(err)
	}
	recs := f.emu.Patches(tg.TenantID)
	if len(recs) != 1 {
		t.Fatalf("%d PATCHes, want 1", len(recs))
	}
	if got := string(recs[0].Body); got != wantBody {
		t.Errorf("PATCH body\n got %s\nwant %s", got, wantBody)
	}
	if recs[0].Control != control || recs[0].Prefer != "return=representation" || recs[0].Status != http.StatusOK {
		t.Errorf("PATCH %+v", recs[0])
	}
	if st := f.emu.Stats(tg.TenantID); st.Requests != 1 {
		t.Errorf("%d Graph requests, want 1: the 200 representation needs no read-back", st.Requests)
	}
	last := p.StateUpdates[len(p.StateUpdates)-1]
	if p.ID != control || p.State() != fleetscore.StateThirdParty || last.Comment != "Covered by Mimecast" || last.UpdatedBy != appID || !last.UpdatedAt.Equal(f.now) {
		t.Errorf("profile %+v, last update %+v", p, last)
	}
	back, err := f.gc.ControlProfile(context.Background(), tg, control)
	if err != nil {
		t.Fatal(err)
	}
	if back.State() != fleetscore.StateThirdParty || len(back.StateUpdates) != len(p.StateUpdates) {
		t.Errorf("read back %+v", back.StateUpdates)
	}
}

// A Graph that ignores Prefer answers 204: the profile is read back.
func TestSetControlStateReadsBackAfter204(t *testing.T) {
	f := newWriteFixture(t)
	tg, control := f.tenant(t, true)
	// The emulator answers 204 when Prefer is absent; graph always sends
	// it, so a proxy that strips it stands in for a Graph that ignores it.
	var stripped bool
	f.gc = stripPrefer(t, f, &stripped)
	p, err := f.gc.SetControlState(context.Background(), tg, control, fleetscore.StateIgnored, "risk accepted")
	if err != nil {
		t.Fatal(err)
	}
	if !stripped {
		t.Fatal("the Prefer header did not reach the proxy")
	}
	if recs := f.emu.Patches(tg.TenantID); len(recs) != 1 || recs[0].Status != http.StatusNoContent {
		t.Fatalf("PATCHes %+v, want one answered 204", recs)
	}
	if st := f.emu.Stats(tg.TenantID); st.Requests != 2 {
		t.Errorf("%d Graph requests, want the PATCH and one GET", st.Requests)
	}
	if p.ID != control || p.State() != fleetscore.StateIgnored {
		t.Errorf("read back %s in state %s", p.ID, p.State())
	}
}

func TestSetControlStateWithoutWriteRole(t *testing.T) {
	f := newWriteFixture(t)
	tg, control := f.tenant(t, false)
	_, err := f.gc.SetControlState(context.Background(), tg, control, fleetscore.StateThirdParty, "Covered by Mimecast")
	e, ok := graph.AsError(err)
	if !ok || e.Status != http.StatusForbidden || e.Kind != graph.KindNoPermission {
		t.Fatalf("err = %v, want a 403 no_permission", err)
	}
	for _, want := range []string{"SecurityEvents.ReadWrite.All", "admin consent", tg.TenantID} {
		if !strings.Contains(e.Advice, want) {
			t.Errorf("advice %q does not name %q", e.Advice, want)
		}
	}
	if n := len(f.emu.Patches(tg.TenantID)); n != 1 {
		t.Errorf("%d PATCHes, want 1: a 403 is not retried", n)
	}
	role, err := f.gc.CheckWriteToken(context.Background(), tg)
	if err != nil || role != graph.RoleLacking {
		t.Errorf("CheckWriteToken = %v, %v; want RoleLacking", role, err)
	}
	f.emu.SetWriteConsent(tg.TenantID, appID, true)
	wtg, _ := f.tenant(t, true)
	if role, err := f.gc.CheckWriteToken(context.Background(), wtg); err != nil || role != graph.RoleGranted {
		t.Errorf("CheckWriteToken of a write tenant = %v, %v; want RoleGranted", role, err)
	}
}

func TestSetControlStateRefusals(t *testing.T) {
	f := newWriteFixture(t)
	tg, control := f.tenant(t, true)
	_, err := f.gc.SetControlState(context.Background(), tg, control, "Resolved", "x")
	e, ok := graph.AsError(err)
	if !ok || e.Status != http.StatusBadRequest || !strings.Contains(e.Msg, "'Resolved'") || !strings.Contains(e.Advice, "ThirdParty") {
		t.Errorf("bad state: %v (advice %q)", err, e.Advice)
	}
	_, err = f.gc.SetControlState(context.Background(), tg, "NoSuchControl", fleetscore.StateIgnored, "x")
	if e, ok := graph.AsError(err); !ok || e.Status != http.StatusNotFound {
		t.Errorf("unknown control: %v", err)
	}
	if n := len(f.emu.Patches(tg.TenantID)); n != 2 {
		t.Errorf("%d PATCHes, want 2: a 400 or 404 is not retried", n)
	}
	_, err = f.gc.SetControlState(context.Background(), tg, "scid_2030", fleetscore.StateThirdParty, "x")
	if err == nil || !strings.Contains(err.Error(), "Defender for Endpoint") {
		t.Errorf("scid_ control: %v", err)
	}
	if n := len(f.emu.Patches(tg.TenantID)); n != 2 {
		t.Errorf("a scid_ control was sent to Graph (%d PATCHes)", n)
	}
}

func TestSetControlStateRetriesThrottling(t *testing.T) {
	f := newWriteFixture(t)
	tg, control := f.tenant(t, true)
	f.emu.SetFaults(tg.TenantID, emulator.Faults{Throttle: 2, RetryAfter: "3"})
	p, err := f.gc.SetControlState(context.Background(), tg, control, fleetscore.StateThirdParty, "Covered by Mimecast")
	if err != nil {
		t.Fatal(err)
	}
	recs := f.emu.Patches(tg.TenantID)
	if len(recs) != 3 || recs[0].Status != 429 || recs[1].Status != 429 || recs[2].Status != 200 || string(recs[2].Body) != wantBody {
		t.Errorf("PATCHes %+v, want 429, 429, 200 with the same body", recs)
	}
	f.mu.Lock()
	waits := append([]time.Duration(nil), f.waits...)
	f.mu.Unlock()
	if len(waits) != 2 || waits[0] != 3*time.Second || waits[1] != 3*time.Second {
		t.Errorf("waits %v, want Retry-After's 3s twice", waits)
	}
	if p.State() != fleetscore.StateThirdParty {
		t.Errorf("state %s", p.State())
	}
}

func TestWritableControl(t *testing.T) {
	for id, want := range map[string]bool{"mdo_safelinksforOfficeApps": true, "AdminMFAV2": true, "scid_2030": false, "SCID_91": false} {
		if got := graph.WritableControl(id); got != want {
			t.Errorf("WritableControl(%q) = %v, want %v", id, got, want)
		}
	}
}

// stripPrefer is f's Graph client behind a transport that drops the
// Prefer header, as a Graph (or proxy) that ignores it would.
func stripPrefer(t *testing.T, f *writeFixture, stripped *bool) *graph.Client {
	t.Helper()
	hc := graph.NewHTTPClient(f.emu.CACertPEM())
	hc.Transport = preferStripper{rt: hc.Transport, stripped: stripped}
	gc, err := graph.New(graph.Options{BaseURL: f.emu.URL(), HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	return gc
}

type preferStripper struct {
	rt       http.RoundTripper
	stripped *bool
}

func (p preferStripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Prefer") != "" {
		*p.stripped = true
		r = r.Clone(r.Context())
		r.Header.Del("Prefer")
	}
	return p.rt.RoundTrip(r)
}
