package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

const vendorBody = `"vendorInformation":{"provider":"SecureScore","providerVersion":null,"subProvider":null,"vendor":"Microsoft"}`

func patch(tb testing.TB, e *Emulator, tok, path, body, prefer string) response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPatch, e.URL()+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	resp, err := e.Client().Do(req)
	if err != nil {
		tb.Fatalf("PATCH %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// scriptedTenant is a tenant whose scores hold still from 10 days ago, with
// one writable control scoring half its points and one Defender for
// Endpoint control.
func scriptedTenant(t *testing.T, e *Emulator, c *clock) (tenant string, control fleetscore.ControlProfile, scid string) {
	t.Helper()
	tenant = e.AddTenant(Tenant{Controls: 200}).ID
	_, profiles := e.Expected(tenant)
	for _, p := range profiles {
		switch {
		case strings.HasPrefix(p.ID, "scid_"):
			if scid == "" {
				scid = p.ID
			}
		case control.ID == "" && !p.Deprecated && p.MaxScore >= 2 && p.State() == fleetscore.StateDefault:
			control = p
		}
	}
	if control.ID == "" || scid == "" {
		t.Fatalf("tenant has no plain control or no scid_ control: %v", dump(profiles))
	}
	today := fleetscore.DayOf(c.Now())
	e.SetScript(tenant, Script{Base: today.AddDays(-10), Points: []ScriptPoints{{Control: control.ID, From: today.AddDays(-10), Points: control.MaxScore / 2}}})
	return tenant, control, scid
}

func controlScore(t *testing.T, s fleetscore.Score, control string) float64 {
	t.Helper()
	for _, c := range s.Controls {
		if c.Name == control {
			return c.Score
		}
	}
	t.Fatalf("day %s has no control %s", s.Day, control)
	return 0
}

func profileOfID(t *testing.T, ps []fleetscore.ControlProfile, id string) fleetscore.ControlProfile {
	t.Helper()
	for _, p := range ps {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no profile %s", id)
	return fleetscore.ControlProfile{}
}

func TestPatchNeedsTheWriteRole(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 3, Now: c.Now, NoQuirks: true})
	tenant, control, _ := scriptedTenant(t, e, c)
	path := "/v1.0/security/secureScoreControlProfiles/" + control.ID
	body := `{"state":"Ignored","comment":"risk accepted",` + vendorBody + `}`

	r := patch(t, e, token(t, e, tenant), path, body, "")
	ge := decodeGraphError(t, r)
	if r.Status != http.StatusForbidden || ge.Error.Code != "Forbidden" {
		t.Fatalf("read-only token: %d %s, want 403 Forbidden", r.Status, r.Body)
	}
	if _, ps := served(t, e, tenant); profileOfID(t, ps, control.ID).State() != fleetscore.StateDefault {
		t.Error("a refused PATCH changed the state")
	}

	e.SetWriteConsent(tenant, testApp, true)
	tok := token(t, e, tenant)
	roles, _ := accessTokenClaims(t, tok)["roles"].([]any)
	if len(roles) != 2 || roles[1] != "SecurityEvents.ReadWrite.All" {
		t.Fatalf("roles after write consent = %v", roles)
	}
	if r := patch(t, e, tok, path, body, ""); r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("with the write role: %d %q, want 204 and no body", r.Status, r.Body)
	}
	recs := e.Patches(tenant)
	if len(recs) != 2 || recs[0].Status != 403 || recs[1].Status != 204 || string(recs[1].Body) != body || recs[1].Control != control.ID {
		t.Errorf("Patches = %+v", recs)
	}
	if s := e.Stats(tenant); s.Patches != 2 || s.Forbidden != 1 {
		t.Errorf("Stats.Patches = %d, Forbidden = %d; want 2, 1", s.Patches, s.Forbidden)
	}
}

func TestPatchRefusesWhatMicrosoftRefuses(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 3, Now: c.Now, NoQuirks: true})
	tenant, control, scid := scriptedTenant(t, e, c)
	e.SetWriteConsent(tenant, testApp, true)
	tok := token(t, e, tenant)
	tests := []struct {
		name, control, body string
		status              int
		code, message       string
	}{
		{"no vendorInformation", control.ID, `{"state":"Ignored","comment":"x"}`, 400, "BadRequest", "vendorInformation"},
		{"vendorInformation without vendor", control.ID, `{"state":"Ignored","vendorInformation":{"provider":"SecureScore"}}`, 400, "BadRequest", "vendorInformation"},
		{"not JSON", control.ID, `state=Ignored`, 400, "BadRequest", "JSON"},
		{"unknown state", control.ID, `{"state":"Resolved",` + vendorBody + `}`, 400, "BadRequest", "'Resolved'"},
		{"no state", control.ID, `{"comment":"x",` + vendorBody + `}`, 400, "BadRequest", "missing"},
		{"unknown control", "NoSuchControl", `{"state":"Ignored",` + vendorBody + `}`, 404, "ResourceNotFound", "NoSuchControl"},
		{"Defender for Endpoint control", scid, `{"state":"ThirdParty",` + vendorBody + `}`, 400, "", "statusCode=BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := patch(t, e, tok, "/beta/security/secureScoreControlProfiles/"+tt.control, tt.body, "return=representation")
			ge := decodeGraphError(t, r)
			if r.Status != tt.status || ge.Error.Code != tt.code || !strings.Contains(ge.Error.Message, tt.message) {
				t.Errorf("got %d %s %q, want %d %s containing %q", r.Status, ge.Error.Code, ge.Error.Message, tt.status, tt.code, tt.message)
			}
			if ge.Error.InnerError["request-id"] == nil {
				t.Errorf("error without Graph's innerError: %s", r.Body)
			}
		})
	}
	_, ps := served(t, e, tenant)
	for _, id := range []string{control.ID, scid} {
		if p := profileOfID(t, ps, id); len(p.StateUpdates) != 1 || p.State() != fleetscore.StateDefault {
			t.Errorf("%s changed by refused PATCHes: %+v", id, p.StateUpdates)
		}
	}
	if n := len(e.Patches(tenant)); n != len(tests) {
		t.Errorf("%d PATCHes recorded, want %d", n, len(tests))
	}
}

func TestPatchedStateScoresFromTheNextDay(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 3, Now: c.Now, NoQuirks: true})
	tenant, control, _ := scriptedTenant(t, e, c)
	e.SetWriteConsent(tenant, testApp, true)
	half := control.MaxScore / 2
	path := "/v1.0/security/secureScoreControlProfiles/" + control.ID

	// agree checks that what Graph serves is what Expected says, and
	// returns the latest day's score of the control and its profile.
	agree := func() (float64, fleetscore.ControlProfile) {
		t.Helper()
		gotScores, gotProfiles := served(t, e, tenant)
		wantScores, wantProfiles := e.Expected(tenant)
		last, want := gotScores[len(gotScores)-1], wantScores[len(wantScores)-1]
		if last.Day != want.Day || last.CurrentScore != want.CurrentScore || controlScore(t, last, control.ID) != controlScore(t, want, control.ID) {
			t.Errorf("served %s %v (control %v), Expected %s %v (control %v)", last.Day, last.CurrentScore, controlScore(t, last, control.ID),
				want.Day, want.CurrentScore, controlScore(t, want, control.ID))
		}
		gp, wp := profileOfID(t, gotProfiles, control.ID), profileOfID(t, wantProfiles, control.ID)
		if dump(gp.StateUpdates) != dump(wp.StateUpdates) {
			t.Errorf("served state updates %s, Expected %s", dump(gp.StateUpdates), dump(wp.StateUpdates))
		}
		return controlScore(t, last, control.ID), gp
	}
	before, _ := agree()
	if before != half {
		t.Fatalf("control scores %v before, want the scripted %v", before, half)
	}
	total := func() float64 { s, _ := e.Expected(tenant); return s[len(s)-1].CurrentScore }
	totalBefore := total()

	r := patch(t, e, token(t, e, tenant), path, `{"state":"ThirdParty","comment":"covered by Mimecast","assignedTo":"",`+vendorBody+`}`, "")
	if r.Status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	score, p := agree()
	if score != half {
		t.Errorf("today's snapshot changed by the PATCH: %v, want %v", score, half)
	}
	want := fleetscore.ControlStateUpdate{State: "ThirdParty", Comment: "covered by Mimecast", UpdatedBy: testApp, UpdatedAt: c.Now().UTC().Truncate(time.Second)}
	// The untouched control's placeholder entry (Default, all null) gives
	// way to the real history.
	if len(p.StateUpdates) != 1 || p.StateUpdates[0] != want {
		t.Errorf("state updates %s, want only %+v", dump(p.StateUpdates), want)
	}

	c.AddDays(1)
	if score, _ := agree(); score != control.MaxScore {
		t.Errorf("the day after ThirdParty: %v, want full points %v", score, control.MaxScore)
	}
	if got := total(); got != totalBefore+control.MaxScore-half {
		t.Errorf("current score %v, want %v", got, totalBefore+control.MaxScore-half)
	}

	// Ignored, with the representation: 200 and the profile as it is now.
	r = patch(t, e, token(t, e, tenant), path, `{"state":"Ignored","comment":"risk accepted","assignedTo":"",`+vendorBody+`}`, "return=representation")
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH with Prefer: %d %s", r.Status, r.Body)
	}
	if rp := decodeProfile(t, r.Body); rp.ID != control.ID || rp.State() != fleetscore.StateIgnored || len(rp.StateUpdates) != 2 {
		t.Errorf("representation: %s", r.Body)
	}
	c.AddDays(1)
	if score, _ := agree(); score != 0 {
		t.Errorf("the day after Ignored: %v, want 0", score)
	}

	// A change in the portal, behind fleetscore's back.
	if err := e.SetControlState(tenant, control.ID, "Reviewed", "checked", "admin@contoso.com"); err != nil {
		t.Fatal(err)
	}
	c.AddDays(1)
	score, p = agree()
	if score != half {
		t.Errorf("the day after Reviewed: %v, want the control's own %v", score, half)
	}
	if u := p.StateUpdates[len(p.StateUpdates)-1]; u.State != "Reviewed" || u.UpdatedBy != "admin@contoso.com" || u.Comment != "checked" {
		t.Errorf("portal change served as %+v", u)
	}
	if err := e.SetControlState(tenant, control.ID, "Resolved", "", ""); err == nil {
		t.Error("SetControlState accepted state Resolved")
	}
	if recs := e.Patches(tenant); len(recs) != 2 || !bytes.Contains(recs[1].Body, []byte(`"Ignored"`)) || recs[1].Prefer != "return=representation" {
		t.Errorf("Patches = %+v", recs)
	}
}

func TestWriteAppsTokensCarryBothRoles(t *testing.T) {
	e := startEmulator(t, Options{Seed: 5})
	const writer = "22222222-3333-4444-5555-666666666666"
	e.AddApp(App{ClientID: writer, Secrets: []string{testSecret}})
	ti := e.AddTenant(Tenant{WriteApps: []string{writer}})
	tr := postToken(t, e, ti.ID, secretForm(writer, testSecret))
	if tr.Status != http.StatusOK {
		t.Fatalf("token: %d %s", tr.Status, tr.Description)
	}
	var roles []string
	b, _ := json.Marshal(accessTokenClaims(t, tr.AccessToken)["roles"])
	_ = json.Unmarshal(b, &roles)
	if strings.Join(roles, ",") != "SecurityEvents.Read.All,SecurityEvents.ReadWrite.All" {
		t.Errorf("roles = %v", roles)
	}
	e.SetWriteConsent(ti.ID, writer, false)
	tr = postToken(t, e, ti.ID, secretForm(writer, testSecret))
	if roles, _ := accessTokenClaims(t, tr.AccessToken)["roles"].([]any); len(roles) != 1 {
		t.Errorf("roles after the write consent was withdrawn = %v", roles)
	}
}
