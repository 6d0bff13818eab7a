package server_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
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
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s: run scripts/test.sh, which installs it (apt-get install chromium)", chromiumPath)
	}
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

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(alloc)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// Start the browser before listening to its console: both would start one.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
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
