package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

// The fixture follows the shape of real Graph responses (graph-api.md 1.9):
// numbers as strings, capitalised SeatSizeRange keys, -1 sentinels,
// undocumented fields, a missing day and fractional timestamps.
func TestDecodeSecureScoresTolerateRealQuirks(t *testing.T) {
	data, err := os.ReadFile("testdata/securescores-quirks.json")
	if err != nil {
		t.Fatal(err)
	}
	var p page[secureScoreWire]
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(p.Value) != 2 {
		t.Fatalf("got %d snapshots, want 2", len(p.Value))
	}
	s, err := p.Value[0].toScore("7f3c2a10-5b6d-4e8f-9a01-23456789abcd")
	if err != nil {
		t.Fatal(err)
	}
	if s.Day != fleetscore.MustDay("2025-06-14") || s.CurrentScore != 212.47 || s.MaxScore != 389 {
		t.Errorf("score = %v %v/%v", s.Day, s.CurrentScore, s.MaxScore)
	}
	if got, want := s.Percent(), 212.47/389*100; got != want {
		t.Errorf("percent = %v, want %v", got, want)
	}
	if s.LicensedUserCount != 48 {
		t.Errorf("licensedUserCount sent as a string: got %d, want 48", s.LicensedUserCount)
	}
	if s.Averages[fleetscore.BasisAllTenants] != 51.2 || s.Averages[fleetscore.BasisTotalSeats] != 47.9 {
		t.Errorf("averages = %v", s.Averages)
	}
	if _, ok := s.Averages[fleetscore.BasisIndustryTypes]; ok {
		t.Errorf("the -1 sentinel must mean no data, got %v", s.Averages[fleetscore.BasisIndustryTypes])
	}
	if lower := p.Value[0].AverageComparativeScores[1].SeatSizeRangeLowerValue; !lower.Valid || lower.V != 26 {
		t.Errorf("SeatSizeRangeLowerValue (capitalised, string) = %+v", lower)
	}
	want := []fleetscore.ControlScore{
		{Name: "AdminMFAV2", Category: "Identity", Score: 10},
		{Name: "mdo_safelinksforOfficeApps", Category: "Apps", Score: 0},
		{Name: "dlp_datalossprevention", Category: "Data", Score: 5.5},
		{Name: "OneAdmin", Category: "Identity", Score: 0},
	}
	if len(s.Controls) != len(want) {
		t.Fatalf("controls = %+v", s.Controls)
	}
	for i := range want {
		if s.Controls[i] != want[i] {
			t.Errorf("control %d = %+v, want %+v", i, s.Controls[i], want[i])
		}
	}
	older, err := p.Value[1].toScore("x")
	if err != nil {
		t.Fatal(err)
	}
	if older.Day != fleetscore.MustDay("2025-06-12") || older.CurrentScore != 200 || older.MaxScore != 380 {
		t.Errorf("older = %v %v/%v", older.Day, older.CurrentScore, older.MaxScore)
	}
}

func TestDecodeControlProfile(t *testing.T) {
	const body = `{"value":[{"id":"AdminMFAV2","azureTenantId":"t","actionType":"Config",
	 "actionUrl":"https://entra.microsoft.com/#view/x","controlCategory":"Identity","title":"MFA for admins",
	 "deprecated":false,"implementationCost":"Low","lastModifiedDateTime":null,"maxScore":"10","rank":1,
	 "remediation":"<p>x</p>","remediationImpact":"y","service":"AzureAD","threats":["Account breach"],
	 "tier":"Core","userImpact":"Low","complianceInformation":null,
	 "controlStateUpdates":[{"assignedTo":null,"comment":null,"state":"Default","updatedBy":null,"updatedDateTime":null},
	   {"assignedTo":"","comment":"gateway","state":"ThirdParty","updatedBy":"a@b.c","updatedDateTime":"2025-06-01T10:00:00Z"}],
	 "vendorInformation":{"provider":"SecureScore","vendor":"Microsoft"}}],
	 "@odata.nextLink":"https://graph.microsoft.com/v1.0/security/secureScoreControlProfiles?$skiptoken=abc"}`
	var p page[controlProfileWire]
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if p.NextLink == "" {
		t.Error("nextLink not decoded")
	}
	cp := p.Value[0].toProfile()
	if cp.MaxScore != 10 || cp.Rank != 1 || cp.Tier != "Core" || cp.Threats[0] != "Account breach" {
		t.Errorf("profile = %+v", cp)
	}
	if cp.State() != fleetscore.StateThirdParty {
		t.Errorf("state = %q, want the latest update's ThirdParty", cp.State())
	}
	if !cp.StateUpdates[1].UpdatedAt.Equal(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("updatedAt = %v", cp.StateUpdates[1].UpdatedAt)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{"2.128", 2128 * time.Millisecond},
		{" 0.5 ", 500 * time.Millisecond},
		{"-3", 0},
		{"soon", 0},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
		{now.Add(7 * time.Second).Format(time.RFC1123Z), 7 * time.Second},
		{now.Add(-time.Minute).Format(time.RFC1123), 0},
	} {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

// jwt is an unsigned token with the claims given.
func jwt(claims string) string { return "eyJhbGciOiJub25lIn0." + b64(claims) + ".sig" }

func TestTokenRoles(t *testing.T) {
	for _, c := range []struct {
		token string
		want  RoleKnowledge
	}{
		{jwt(`{"roles":["SecurityEvents.Read.All"],"tid":"x"}`), RoleGranted},
		{jwt(`{"roles":["securityevents.readwrite.all"]}`), RoleGranted},
		{jwt(`{"tid":"x"}`), RoleLacking}, // a readable token with no roles
		{jwt(`{"roles":["User.Read.All"]}`), RoleLacking},
		{"opaque-token", RoleUnknown}, // Microsoft's tokens may be opaque
		{"a.b%%.c", RoleUnknown},      // not base64
		{jwt(`not json`), RoleUnknown},
		{jwt(`{"aud":"x"}`), RoleUnknown}, // JSON, but not an Entra access token's claims
	} {
		if got := tokenRoles(c.token, secureScoreRoles...); got != c.want {
			t.Errorf("tokenRoles(%q) = %d; want %d", c.token, got, c.want)
		}
	}
}

// An opaque token on a 403 gets advice that says what may be wrong, never
// that the token carries the role.
func TestForbiddenAdviceWithAnOpaqueToken(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusForbidden}
	body := []byte(`{"error":{"code":"Forbidden","message":"Auth token does not contain valid permissions or user does not have valid roles."}}`)
	e := responseError("t1", resp, body, "opaque-token")
	if strings.Contains(e.Advice, "although the token carries") || !strings.Contains(e.Advice, "consent may have been revoked or never granted") ||
		!strings.Contains(e.Advice, "licence") || !strings.Contains(e.Advice, "Conditional Access") {
		t.Errorf("advice for an opaque token: %q", e.Advice)
	}
	if e := responseError("t1", resp, body, jwt(`{"tid":"t1","roles":[]}`)); !strings.Contains(e.Advice, "carries no SecurityEvents.Read.All") {
		t.Errorf("advice for a token without the role: %q", e.Advice)
	}
	if e := responseError("t1", resp, body, jwt(`{"tid":"t1","roles":["SecurityEvents.Read.All"]}`)); !strings.Contains(e.Advice, "although the token carries") {
		t.Errorf("advice for a token with the role: %q", e.Advice)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestWindowLimiterAllowsExactlyNPerWindow(t *testing.T) {
	w := newWindowLimiter(150, time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 150 {
		if d := w.reserve(t0.Add(time.Duration(i) * time.Millisecond)); d != 0 {
			t.Fatalf("request %d of the first 150 delayed by %v", i+1, d)
		}
	}
	// The 151st within the minute waits until the first leaves the window.
	if d := w.reserve(t0.Add(time.Second)); d != 59*time.Second {
		t.Fatalf("151st request: wait %v, want 59s", d)
	}
	if d := w.reserve(t0.Add(time.Minute)); d != 0 {
		t.Fatalf("after a minute: wait %v, want none", d)
	}
	if d := w.reserve(t0.Add(time.Minute)); d == 0 {
		t.Fatal("the second request at t0+1m would make 151 in the window (t0+1ms .. t0+1m]")
	}
}

func TestFollowableNextLink(t *testing.T) {
	c, err := New(Options{BaseURL: "https://127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ link, want string }{
		{"https://127.0.0.1:8443/v1.0/security/secureScoreControlProfiles?$skiptoken=abc", "https://127.0.0.1:8443/v1.0/security/secureScoreControlProfiles?$skiptoken=abc"},
		{"/v1.0/security/secureScores?$skiptoken=x", "https://127.0.0.1:8443/v1.0/security/secureScores?$skiptoken=x"},
		{"https://graph.microsoft.com/v1.0/security/secureScoreControlProfiles?$skiptoken=b2Zmc2V0PTI1MA", "https://127.0.0.1:8443/v1.0/security/secureScoreControlProfiles?$skiptoken=b2Zmc2V0PTI1MA"},
		{"https://evil.example/v1.0/x", ""},
		{"http://127.0.0.1:8443/v1.0/x", ""},
	} {
		got, err := c.followable(tc.link)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: followed to %s; the token must not go there", tc.link, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.link, got, err, tc.want)
		}
	}
}

func TestStoppedIsNotATimeout(t *testing.T) {
	if e := timeoutError("t", context.Canceled); e.Kind != KindCancelled || !strings.Contains(e.Msg, "stopped") {
		t.Errorf("cancelled: %+v", e)
	}
	if e := timeoutError("t", context.DeadlineExceeded); e.Kind != KindTimeout || !strings.Contains(e.Msg, "deadline") {
		t.Errorf("deadline: %+v", e)
	}
}
