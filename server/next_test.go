package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// origin is where the next-check tests pretend fleetscore is served.
var origin = &url.URL{Scheme: "https", Host: "fleetscore.example", Path: "/"}

// browserResolve reads a Location header as a browser's URL parser
// (WHATWG) does before resolving it against the page: leading and trailing
// C0 controls and spaces are trimmed, tabs and newlines removed anywhere,
// and, the scheme being a special one, a backslash is a slash. (Go's
// url.Parse does none of this, which is how "/\t/evil" got through.)
func browserResolve(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= 0x20 })
	loc = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, loc)
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(u), nil
}

// redirectTo is the Location a sign-in answers for next, through the
// same http.Redirect the handlers use.
func redirectTo(next string) string {
	rec := httptest.NewRecorder()
	http.Redirect(rec, httptest.NewRequest(http.MethodPost, "/signin", nil), safeNext(next), http.StatusSeeOther)
	return rec.Header().Get("Location")
}

// staysHome reports whether a browser sent to loc stays on origin.
func staysHome(t testing.TB, loc string) bool {
	t.Helper()
	u, err := browserResolve(origin, loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u.Scheme == origin.Scheme && u.Host == origin.Host && u.User == nil
}

// TestSafeNext: every way to name another host, as a browser reads it,
// goes home; a local path is kept.
func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/actions", "/actions"},
		{"/tenants/abc?from=2026-01-01#trend", "/tenants/abc?from=2026-01-01#trend"},
		{"/%5Cevil", "/%5Cevil"}, // stays encoded: a path on this host
		{"/a\\b", "/a/b"},
		{"/%09/evil.example/x", "/%09/evil.example/x"}, // as sent; the decoded form is next
		{"/\t/evil.example/x", "/"},
		{"/\t\\evil", "/"},
		{"/\\evil", "/"},
		{"/\\\\evil", "/"},
		{"\\/evil", "/"},
		{"//evil", "/"},
		{"/\r\n/evil", "/"},
		{"/\n/evil", "/"},
		{" //evil", "/"},
		{"https://evil", "/"},
		{"https:evil", "/"},
		{"http:/evil", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"", "/"},
		{"/\x00/evil", "/"},
		{"/\x7f", "/"},
		{"/" + strings.Repeat("a", 1024), "/"},
	} {
		got := safeNext(tc.next)
		if got != tc.want {
			t.Errorf("safeNext(%q) = %q; want %q", tc.next, got, tc.want)
		}
		if loc := redirectTo(tc.next); !staysHome(t, loc) {
			t.Errorf("next %q: Location %q leaves %s", tc.next, loc, origin)
		}
	}
	// The query decodes %09 before the check sees it: the value the
	// attack really sends.
	q, _ := url.ParseQuery("next=/%09/evil.example/x")
	if got := safeNext(q.Get("next")); got != "/" {
		t.Errorf("decoded /%%09/evil.example/x: %q; want /", got)
	}
}
