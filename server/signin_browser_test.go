package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/server"
)

// TestSignInAndOutInBrowser: a client opens the dashboard, is sent to the
// sign-in page, signs in, sees its own tenant and not the other, cannot
// read its session cookie from script, signs out and is back at sign-in.
func TestSignInAndOutInBrowser(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 2})
	mine, other := f.Jobs[0].Tenant, f.Jobs[1].Tenant
	const password = "a long client password"
	if err := f.Store.PutUser(context.Background(), auth.User{Name: "carol", Role: auth.RoleClient, Tenants: []string{mine.ID},
		PasswordHash: auth.HashPassword(password)}); err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Source: f.Store, Auth: &auth.Service{Store: f.Store}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	ctx := newBrowser(t)
	var (
		mu          sync.Mutex
		consoleErrs []string
	)
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			// (The wrong password's page is a 401, on purpose.)
			if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException) && !strings.Contains(m.Text, "status of 401") {
				mu.Lock()
				consoleErrs = append(consoleErrs, m.Text)
				mu.Unlock()
			}
		}
	}()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/tenants/"+mine.ID), chromedp.WaitVisible(chromedp.CSS("#signin-form"))); err != nil {
		t.Fatalf("open the dashboard signed out: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/signin?next=") {
		t.Errorf("signed out, the dashboard sent the browser to %s", loc)
	}
	// A wrong password first.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#name"), "carol"), chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS(".signin-error"))); err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#name"), "carol"), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#signout"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasSuffix(loc, "/tenants/"+mine.ID) {
		t.Errorf("after sign-in the browser is at %s; want the page asked for", loc)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#signout"))); err != nil {
		t.Fatal(err)
	}
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(body, mine.Name) || strings.Contains(body, other.Name) || !strings.Contains(body, "carol") {
		t.Errorf("the client's overview: has %q %v, has %q %v", mine.Name, strings.Contains(body, mine.Name), other.Name, strings.Contains(body, other.Name))
	}
	if c, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); strings.Contains(c, server.SessionCookie) {
		t.Error("script can read the session cookie")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-form"))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#signin-form"))); err != nil {
		t.Errorf("after sign-out the dashboard is still open: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrs) > 0 {
		t.Errorf("console errors: %v", consoleErrs)
	}
}

// newBrowser starts headless Chromium, ended with the test, and returns
// its tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s: run scripts/test.sh, which installs it (apt-get install chromium)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	// Start the browser before listening to its console: both would start one.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// TestHostileNextInBrowser signs in with the local form after following
// a link whose next names another host in the ways browsers rewrite (a
// tab, a backslash): Chromium ends on fleetscore's own origin, and the
// other host never sees a request.
func TestHostileNextInBrowser(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 1})
	const password = "a long client password"
	if err := f.Store.PutUser(context.Background(), auth.User{Name: "carol", Role: auth.RoleAdmin, PasswordHash: auth.HashPassword(password)}); err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Source: f.Store, Auth: &auth.Service{Store: f.Store}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var visits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		visits.Add(1)
		_, _ = io.WriteString(w, "<p id=evil>evil</p>")
	}))
	defer evil.Close()
	evilHost := strings.TrimPrefix(evil.URL, "http://")

	ctx := newBrowser(t)
	for _, next := range []string{"/%09/" + evilHost + "/x", "/%09%5C" + evilHost + "/x", "/%0A/" + evilHost + "/x", "/%5C%09" + evilHost + "/x"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/signin?next="+next), chromedp.WaitVisible(chromedp.CSS("#signin-form")),
			chromedp.SetValue(chromedp.CSS("#name"), "carol"), chromedp.SetValue(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#signin"))); err != nil {
			t.Fatalf("next %s: sign in: %v", next, err)
		}
		waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(waitCtx, chromedp.WaitVisible(chromedp.CSS("#signout, #evil")))
		cancel()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("next %s: no page after sign-in (at %s, the other host got %d requests): %v", next, loc, visits.Load(), err)
		}
		if !strings.HasPrefix(loc, srv.URL+"/") {
			t.Fatalf("next %s: after sign-in the browser is at %s; want %s", next, loc, srv.URL)
		}
		// Signed out again, the next round's sign-in page has no #signout.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-form"))); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}
	if n := visits.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}
