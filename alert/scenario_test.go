package alert_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/query"
)

const (
	hookSecret = "siem-shared-secret-0123456789abcdef"
	smtpUser   = "fleetscore@mssp.example"
	smtpPass   = "smtp-Pa55word-never-logged"
)

// frozen stands between the collector and Graph. Every request goes to the
// real emulator (so tokens, consent, paging and errors are real), but each
// tenant's days are answered with the tenant's first snapshot, re-dated,
// and then edited by the scenario. The emulator's own day-to-day drift
// (controls re-evaluated, 8 % of them regressing) would otherwise make
// "exactly these messages" depend on the seed: here every change is one the
// scenario made.
type frozen struct {
	graph collect.Reader
	edit  func(tenant string, s *fleetscore.Score)

	mu       sync.Mutex
	base     map[string]fleetscore.Score
	profiles map[string][]fleetscore.ControlProfile
}

func (f *frozen) SecureScores(ctx context.Context, t graph.Target, top int) ([]fleetscore.Score, error) {
	got, err := f.graph.SecureScores(ctx, t, top)
	if err != nil || len(got) == 0 {
		return got, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	base, ok := f.base[t.TenantID]
	if !ok {
		base = slices.MaxFunc(got, func(a, b fleetscore.Score) int { return int(a.Day.Unix() - b.Day.Unix()) })
		f.base[t.TenantID] = base
	}
	out := make([]fleetscore.Score, len(got))
	for i, s := range got {
		c := base
		c.Day, c.TenantID = s.Day, s.TenantID
		c.Controls = slices.Clone(base.Controls)
		f.edit(t.TenantID, &c)
		out[i] = c
	}
	return out, nil
}

func (f *frozen) ControlProfiles(ctx context.Context, t graph.Target) ([]fleetscore.ControlProfile, error) {
	got, err := f.graph.ControlProfiles(ctx, t)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.profiles[t.TenantID]; !ok {
		f.profiles[t.TenantID] = got
	}
	return slices.Clone(f.profiles[t.TenantID]), nil
}

// seen is one message as a receiver got it, whatever the channel's format.
type seen struct {
	event, title, summary string
	body                  string // everything the channel showed, for Contains checks
}

func (s seen) String() string { return s.event + " " + s.title }

// TestScenario drives the emulator through a week of collections: a tenant
// drops 10 points and recovers, a control regresses and is fixed, and a
// tenant's consent is revoked for three runs; the channels' receivers,
// started here, must get exactly the messages expected, with their
// content, each once, signed where signing applies.
func TestScenario(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	var (
		clockMu sync.Mutex
		now     = day0
	)
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	setDay := func(d int) { clockMu.Lock(); now = day0.AddDate(0, 0, d); clockMu.Unlock() }

	emu := emulator.New(emulator.Options{Seed: 7, Tenants: 3, NoQuirks: true, Unthrottled: true, Now: clock})
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cert, key := fleettest.Certificate(t)
	emu.AddApp(emulator.App{ClientID: fleettest.ClientID, Certs: []*x509.Certificate{cert}})
	emu.ConsentAll(fleettest.ClientID)
	infos := emu.Tenants()
	dropper, regressor, revoked := infos[0], infos[1], infos[2]

	// The figures the scenario plays with, from the emulator's own data.
	scores, _ := emu.Expected(dropper.ID)
	base := scores[len(scores)-1]
	// The dropper meets its target until it loses 10 points.
	target := math.Round(fleetscore.Percent(base.CurrentScore-5, base.MaxScore)*10) / 10
	bScores, bProfiles := emu.Expected(regressor.ID)
	var control fleetscore.ControlScore
	var controlProfile fleetscore.ControlProfile
	for _, c := range bScores[len(bScores)-1].Controls {
		i := slices.IndexFunc(bProfiles, func(p fleetscore.ControlProfile) bool { return p.ID == c.Name })
		if i >= 0 && c.Score == bProfiles[i].MaxScore && bProfiles[i].MaxScore >= 2 && bProfiles[i].MaxScore < 10 && query.IsOpen(0, bProfiles[i]) {
			control, controlProfile = c, bProfiles[i]
			break
		}
	}
	if control.Name == "" {
		t.Fatal("the regressor has no met control worth 2 to 9 points")
	}

	store := openSQLite(t)
	tenants := []fleetscore.Tenant{
		{ID: dropper.ID, Name: dropper.Name, TargetPercent: target},
		{ID: regressor.ID, Name: regressor.Name, TargetPercent: 1},
		{ID: revoked.ID, Name: revoked.Name, TargetPercent: 1},
	}
	if err := store.SyncTenants(ctx, tenants); err != nil {
		t.Fatal(err)
	}

	// The script: the dropper loses 10 points on day 1 and gets them back
	// on day 5; the regressor's control is switched off on day 2 and on
	// again on day 6.
	day := func(d int) fleetscore.Day { return fleetscore.DayOf(day0.AddDate(0, 0, d)) }
	within := func(s *fleetscore.Score, from, to int) bool { return !s.Day.Before(day(from)) && s.Day.Before(day(to)) }
	double := &frozen{base: map[string]fleetscore.Score{}, profiles: map[string][]fleetscore.ControlProfile{},
		edit: func(tenant string, s *fleetscore.Score) {
			switch {
			case tenant == dropper.ID && within(s, 1, 5):
				s.CurrentScore -= 10
			case tenant == regressor.ID && within(s, 2, 6):
				for i := range s.Controls {
					if s.Controls[i].Name == control.Name {
						s.CurrentScore -= s.Controls[i].Score
						s.Controls[i].Score = 0
					}
				}
			}
		}}
	hc := graph.NewHTTPClient(emu.CACertPEM())
	gc, err := graph.New(graph.Options{BaseURL: emu.URL(), HTTPClient: hc,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	double.graph = gc

	// collect runs one collection as `fleetscore collect` does, with a new
	// credential each time: a token cached from an earlier run would carry
	// the roles of a consent revoked since.
	collectDay := func(d int) collect.Summary {
		t.Helper()
		setDay(d)
		cred, err := graph.NewCredential(graph.App{ClientID: fleettest.ClientID, Certificates: []*x509.Certificate{cert}, Key: key},
			"organizations", graph.AuthOptions{AuthorityHost: emu.URL() + "/", Custom: true, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		var jobs []collect.Job
		for _, tn := range tenants {
			jobs = append(jobs, collect.Job{Tenant: tn, Target: graph.Target{TenantID: tn.ID, ClientID: fleettest.ClientID, Credential: cred},
				ConsentURL: emu.URL() + "/" + tn.ID + "/adminconsent?client_id=" + fleettest.ClientID})
		}
		c := &collect.Collector{Store: store, Graph: double, Concurrency: 3, Timeout: time.Minute, Now: clock}
		return c.Run(ctx, jobs)
	}

	// The receivers.
	teamsRx, slackRx, siemRx := alerttest.NewReceiver(t), alerttest.NewReceiver(t), alerttest.NewReceiver(t)
	teamsRx.AnswerWith(http.StatusAccepted)
	mailRx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: smtpUser, Password: smtpPass})
	client := &http.Client{Timeout: 10 * time.Second}
	channels := []alert.Channel{
		alert.NewTeams("soc-teams", teamsRx.URL, client),
		alert.NewSlack("soc-slack", slackRx.URL, client),
		alert.NewWebhook("siem", siemRx.URL, func() string { return hookSecret }, client, nil),
		alert.NewEmail(alert.EmailConfig{Name: "ops-mail", Addr: mailRx.Addr, From: "fleetscore@mssp.example",
			To: []string{"soc@mssp.example", "noc@mssp.example"}, Username: smtpUser, Password: func() string { return smtpPass },
			RootCAs: mailRx.CAPool, Now: clock}),
	}
	rules := []alert.Rule{
		{Name: "below-target", When: alert.BelowTarget, Channels: []string{"soc-teams"}},
		{Name: "big-drop", When: alert.ScoreDrop, Points: 10, Days: 7, Channels: []string{"soc-teams", "soc-slack", "siem", "ops-mail"}},
		{Name: "control-regressed", When: alert.ControlRegressed, Channels: []string{"soc-slack", "siem"}},
		{Name: "collection-failing", When: alert.CollectionFailing, Runs: 3, Channels: []string{"ops-mail", "siem"}},
	}
	var (
		logs   bytes.Buffer
		logMu  sync.Mutex
		sleeps []time.Duration
	)
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// evaluate runs the engine as a fresh process would: everything it
	// remembers is in the database.
	evaluate := func() alert.Report {
		t.Helper()
		e := &alert.Engine{Store: store, Source: store, Rules: rules, Channels: channels, Now: clock, Logger: logger,
			Sleep: func(ctx context.Context, d time.Duration) error {
				logMu.Lock()
				sleeps = append(sleeps, d)
				logMu.Unlock()
				return ctx.Err()
			}}
		rep, err := e.Evaluate(ctx)
		if err != nil {
			t.Fatalf("evaluate: %v", err)
		}
		return rep
	}

	var want struct{ teams, slack, siem, mail []string }
	check := func(run string) {
		t.Helper()
		for _, c := range []struct {
			name string
			got  []seen
			want []string
		}{
			{"teams", teamsMessages(t, teamsRx), want.teams},
			{"slack", slackMessages(t, slackRx), want.slack},
			{"siem", webhookMessages(t, siemRx), want.siem},
			{"mail", mailMessages(mailRx), want.mail},
		} {
			var got []string
			for _, s := range c.got {
				got = append(got, s.String())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("after %s, %s got\n  %s\nwant\n  %s", run, c.name, strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		}
	}
	titleA, titleB, titleC := dropper.Name, regressor.Name+" — "+controlProfile.Title, revoked.Name

	// Day 0: the first collection backfills 90 days; nothing to say.
	if s := collectDay(0); s.OK != 3 {
		t.Fatalf("day 0: %d of 3 collected: %v", s.OK, s.Err())
	}
	if rep := evaluate(); len(rep.Fired) != 0 || len(rep.Resolved) != 0 {
		t.Fatalf("day 0 fired %v and resolved %v", rep.Fired, rep.Resolved)
	}
	check("day 0")

	// Day 1: the dropper loses 10 points, and falls below its target.
	collectDay(1)
	rep := evaluate()
	if len(rep.Fired) != 2 || rep.Delivered != 5 {
		t.Errorf("day 1: fired %d, delivered %d; want 2 and 5", len(rep.Fired), rep.Delivered)
	}
	want.teams = append(want.teams, "firing below-target: "+titleA, "firing big-drop: "+titleA)
	want.slack = append(want.slack, "firing big-drop: "+titleA)
	want.siem = append(want.siem, "firing big-drop: "+titleA)
	want.mail = append(want.mail, "firing big-drop: "+titleA)
	check("day 1")

	// Day 2: the regressor's control is switched off; the revoked tenant
	// loses its consent. Slack fails twice then takes the message; the SIEM
	// is down for the whole run.
	emu.SetFaults(revoked.ID, emulator.Faults{RevokeConsent: true})
	slackRx.FailNext(2, http.StatusInternalServerError)
	siemRx.Down()
	if s := collectDay(2); s.OK != 2 || s.Failed != 1 {
		t.Fatalf("day 2: %d ok, %d failed; want the revoked tenant failed", s.OK, s.Failed)
	}
	rep = evaluate()
	if rep.Delivered != 1 || rep.Pending != 1 || len(rep.Failures) != 1 || !strings.HasPrefix(rep.Failures[0], "siem: the channel answered 503") {
		t.Errorf("day 2: delivered %d, pending %d, failures %q; want 1, 1 and the SIEM's 503", rep.Delivered, rep.Pending, rep.Failures)
	}
	want.slack = append(want.slack, "firing control-regressed: "+titleB)
	check("day 2")
	if n := len(slackRx.Requests()); n != 4 {
		t.Errorf("slack got %d requests, want 4 (1 on day 1, then 2 failures and 1 success)", n)
	}
	if n := len(siemRx.Requests()); n != 4 {
		t.Errorf("the SIEM got %d requests, want 4 (1 on day 1, then 3 failures)", n)
	}

	// Day 3: the SIEM is back and gets the message it missed, once.
	siemRx.Up()
	collectDay(3)
	rep = evaluate()
	if len(rep.Fired) != 0 || rep.Delivered != 1 {
		t.Errorf("day 3: fired %d, delivered %d; want 0 and 1", len(rep.Fired), rep.Delivered)
	}
	want.siem = append(want.siem, "firing control-regressed: "+titleB)
	check("day 3")

	// Day 4: the third failed collection in a row.
	if s := collectDay(4); s.Failed != 1 {
		t.Fatalf("day 4: %d failed, want the revoked tenant", s.Failed)
	}
	evaluate()
	want.mail = append(want.mail, "firing collection-failing: "+titleC)
	want.siem = append(want.siem, "firing collection-failing: "+titleC)
	check("day 4")

	// Day 5: consent is back and the dropper has its points again.
	emu.SetFaults(revoked.ID, emulator.Faults{})
	if s := collectDay(5); s.OK != 3 {
		t.Fatalf("day 5: %d of 3 collected: %v", s.OK, s.Err())
	}
	rep = evaluate()
	if len(rep.Resolved) != 3 {
		t.Errorf("day 5: resolved %d, want 3", len(rep.Resolved))
	}
	want.teams = append(want.teams, "resolved below-target: "+titleA, "resolved big-drop: "+titleA)
	want.slack = append(want.slack, "resolved big-drop: "+titleA)
	want.siem = append(want.siem, "resolved big-drop: "+titleA, "resolved collection-failing: "+titleC)
	want.mail = append(want.mail, "resolved big-drop: "+titleA, "resolved collection-failing: "+titleC)
	check("day 5")

	// Day 6: the control is on again.
	collectDay(6)
	evaluate()
	want.slack = append(want.slack, "resolved control-regressed: "+titleB)
	want.siem = append(want.siem, "resolved control-regressed: "+titleB)
	check("day 6")

	// Days 7 and 8: nothing changes, nothing is sent again.
	for d := 7; d <= 8; d++ {
		collectDay(d)
		if rep := evaluate(); len(rep.Fired)+len(rep.Resolved)+rep.Delivered != 0 {
			t.Errorf("day %d: %+v; want nothing", d, rep)
		}
	}
	check("day 8")
	if open, err := store.OpenAlerts(ctx); err != nil || len(open) != 0 {
		t.Errorf("open alerts at the end: %+v, %v", open, err)
	}

	// The content of the messages.
	d1, d5 := day(1), day(5)
	percent := func(cur float64) string { return fmt.Sprintf("%.1f%%", fleetscore.Percent(cur, base.MaxScore)) }
	outOf := func(cur float64) string { return fmt.Sprintf("%.2f / %.0f", cur, base.MaxScore) }
	dropSummary := fmt.Sprintf("%s's Secure Score fell 10.00 points within 7 days: from %s (%s) on %s to %s (%s) on %s.",
		dropper.Name, outOf(base.CurrentScore), percent(base.CurrentScore), day(0), outOf(base.CurrentScore-10), percent(base.CurrentScore-10), d1)
	targetText := strconv.FormatFloat(target, 'f', -1, 64) + "%"
	belowSummary := fmt.Sprintf("%s's Secure Score is %s (%s points), below its %s target.", dropper.Name, percent(base.CurrentScore-10), outOf(base.CurrentScore-10), targetText)
	recoveredSummary := fmt.Sprintf("%s's Secure Score is no longer 10 points below its best of the 7 days before: now %s (%s) on %s, best %s (%s) on %s.",
		dropper.Name, outOf(base.CurrentScore), percent(base.CurrentScore), d5, outOf(base.CurrentScore), percent(base.CurrentScore), day(0))
	regressedSummary := fmt.Sprintf("%s: %q (%s) was met on %s and is open now: 0.00 of %s points.",
		regressor.Name, controlProfile.Title, control.Name, day(1), strconv.FormatFloat(controlProfile.MaxScore, 'f', -1, 64))
	fixedSummary := fmt.Sprintf("%s: %q (%s) is met again: %.2f of %s points.",
		regressor.Name, controlProfile.Title, control.Name, controlProfile.MaxScore, strconv.FormatFloat(controlProfile.MaxScore, 'f', -1, 64))

	teams := teamsMessages(t, teamsRx)
	expectSummary(t, "teams below-target firing", teams[0], belowSummary)
	expectContains(t, "teams below-target firing", teams[0], "Target: "+targetText, "Tenant ID: "+dropper.ID, "rule below-target (below_target)")
	expectSummary(t, "teams big-drop firing", teams[1], dropSummary)
	expectSummary(t, "teams big-drop resolved", teams[3], recoveredSummary)
	expectContains(t, "teams below-target resolved", teams[2], "meeting its "+targetText+" target again", "open since "+day0.AddDate(0, 0, 1).Format("2006-01-02 15:04 UTC"))

	slack := slackMessages(t, slackRx)
	expectSummary(t, "slack big-drop firing", slack[0], dropSummary)
	expectSummary(t, "slack control-regressed firing", slack[1], regressedSummary)
	expectContains(t, "slack control-regressed firing", slack[1], "*Control ID*\n"+control.Name, "*Last met*\n"+day(1).String(), controlProfile.ActionURL)
	expectSummary(t, "slack control-regressed resolved", slack[3], fixedSummary)

	siem := webhookMessages(t, siemRx)
	expectSummary(t, "siem big-drop firing", siem[0], dropSummary)
	expectContains(t, "siem collection-failing firing", siem[2],
		revoked.Name+" could not be collected 3 times in a row, since "+day0.AddDate(0, 0, 2).Format("2006-01-02 15:04 UTC"),
		"403", "adminconsent?client_id="+fleettest.ClientID)
	expectContains(t, "siem collection-failing resolved", siem[4], revoked.Name+" was collected again on")

	mails := mailMessages(mailRx)
	expectSummary(t, "mail big-drop firing", mails[0], dropSummary)
	expectContains(t, "mail collection-failing firing", mails[1], "Failed runs:", "3 in a row", "Fix:", "adminconsent")

	// The webhook: every request, failed or not, is signed; a retry keeps
	// the delivery's ID, so a receiver can drop a duplicate.
	ids := map[string]int{}
	for i, r := range siemRx.Requests() {
		ts, sig := r.Header.Get(alert.HeaderTimestamp), r.Header.Get(alert.HeaderSignature)
		mac := hmac.New(sha256.New, []byte(hookSecret))
		mac.Write([]byte(ts + "."))
		mac.Write(r.Body)
		if wantSig := "sha256=" + hex.EncodeToString(mac.Sum(nil)); sig != wantSig {
			t.Errorf("siem request %d: signature %q, want %q", i, sig, wantSig)
		}
		if err := alert.Verify([]byte(hookSecret), ts, sig, r.Body, time.Now(), alert.DefaultTolerance); err != nil {
			t.Errorf("siem request %d: %v", i, err)
		}
		if err := alert.Verify([]byte("another secret"), ts, sig, r.Body, time.Now(), alert.DefaultTolerance); err == nil {
			t.Errorf("siem request %d verifies with the wrong secret", i)
		}
		var m alert.Message
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		if r.Header.Get(alert.HeaderDelivery) != strconv.FormatInt(m.ID, 10) || r.Header.Get(alert.HeaderEvent) != m.Event || m.AlertID == 0 {
			t.Errorf("siem request %d: headers %v for message %d of alert %d", i, r.Header, m.ID, m.AlertID)
		}
		ids[m.Title+" "+m.Event] = int(m.ID)
	}
	if len(ids) != len(want.siem) {
		t.Errorf("siem saw %d distinct messages, want %d", len(ids), len(want.siem))
	}

	// The e-mail went over STARTTLS (the receiver takes nothing before it),
	// authenticated, to both recipients.
	for _, m := range mailRx.Mails() {
		if m.User != smtpUser || m.From != "fleetscore@mssp.example" || !slices.Equal(m.To, []string{"soc@mssp.example", "noc@mssp.example"}) {
			t.Errorf("mail from %s as %s to %v", m.From, m.User, m.To)
		}
		if !emailMessageID.MatchString(m.Header.Get("Message-Id")) || m.Header.Get("Auto-Submitted") != "auto-generated" || m.HTML == "" {
			t.Errorf("mail headers %v", m.Header)
		}
	}

	// The delivery log: the slack message that failed twice was tried three
	// times and delivered once; the SIEM's was tried three times on day 2
	// and once on day 3.
	ds, err := store.Deliveries(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Status != alert.StatusDelivered {
			t.Errorf("delivery %d to %s is %s", d.ID, d.Channel, d.Status)
		}
		wantTries := 1
		if d.Message.Rule == "control-regressed" && d.Message.Event == alert.Firing {
			wantTries = map[string]int{"soc-slack": 3, "siem": 4}[d.Channel]
		}
		if d.Attempts != wantTries || len(d.Log) != wantTries || d.Log[len(d.Log)-1].Error != "" {
			t.Errorf("delivery %d (%s %s to %s): %d attempts %+v, want %d, the last one delivered",
				d.ID, d.Message.Event, d.Message.Rule, d.Channel, d.Attempts, d.Log, wantTries)
		}
	}
	// Backoff: 2s then 4s before the second and third tries, for slack and
	// the SIEM on day 2 (at the same time: each channel is sent on its own).
	slices.Sort(sleeps)
	if !slices.Equal(sleeps, []time.Duration{2 * time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}) {
		t.Errorf("slept %v", sleeps)
	}

	// Nothing secret reached the log.
	for _, secret := range []string{"s3cr3t-path", "s3cr3t-query", hookSecret, smtpPass} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func expectSummary(t *testing.T, what string, s seen, want string) {
	t.Helper()
	if s.summary != want {
		t.Errorf("%s: summary\n  %q\nwant\n  %q", what, s.summary, want)
	}
}

func expectContains(t *testing.T, what string, s seen, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s.body, p) {
			t.Errorf("%s does not show %q:\n%s", what, p, s.body)
		}
	}
}

// shownByTeams is a card's text as Teams shows it: Markdown's backslash
// escapes (a backslash before ASCII punctuation) removed.
func shownByTeams(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// teamsMessages decodes the Adaptive Cards the receiver took.
func teamsMessages(t *testing.T, rx *alerttest.Receiver) []seen {
	t.Helper()
	var out []seen
	for _, r := range rx.Delivered() {
		var p struct {
			Type        string
			Attachments []struct {
				ContentType string
				Content     struct {
					Type, Version string
					Body          []struct {
						Type, Text string
						Facts      []struct{ Title, Value string }
					}
					Actions []struct{ Type, URL string }
				}
			}
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("teams body: %v\n%s", err, r.Body)
		}
		if p.Type != "message" || len(p.Attachments) != 1 || p.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
			p.Attachments[0].Content.Type != "AdaptiveCard" || p.Attachments[0].Content.Version != "1.4" {
			t.Fatalf("not an Adaptive Card 1.4 message:\n%s", r.Body)
		}
		card := p.Attachments[0].Content
		var body strings.Builder
		for _, b := range card.Body {
			body.WriteString(shownByTeams(b.Text) + "\n")
			for _, f := range b.Facts {
				body.WriteString(shownByTeams(f.Title) + ": " + shownByTeams(f.Value) + "\n")
			}
		}
		for _, a := range card.Actions {
			body.WriteString(a.Type + " " + a.URL + "\n")
		}
		out = append(out, seen{event: strings.ToLower(card.Body[0].Text), title: shownByTeams(card.Body[1].Text),
			summary: shownByTeams(card.Body[2].Text), body: body.String()})
	}
	return out
}

// slackMessages decodes the Block Kit messages the receiver took.
func slackMessages(t *testing.T, rx *alerttest.Receiver) []seen {
	t.Helper()
	var out []seen
	for _, r := range rx.Delivered() {
		var p struct {
			Text   string
			Blocks []struct {
				Type     string
				Text     *struct{ Type, Text string }
				Fields   []struct{ Type, Text string }
				Elements []map[string]any // context texts and buttons
			}
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("slack body: %v\n%s", err, r.Body)
		}
		if len(p.Blocks) < 3 || p.Blocks[0].Type != "header" || p.Text == "" {
			t.Fatalf("not a slack message with a header:\n%s", r.Body)
		}
		event, title, _ := strings.Cut(p.Blocks[0].Text.Text, " · ")
		var body strings.Builder
		for _, b := range p.Blocks {
			if b.Text != nil {
				body.WriteString(b.Text.Text + "\n")
			}
			for _, f := range b.Fields {
				body.WriteString(f.Text + "\n")
			}
			for _, e := range b.Elements {
				fmt.Fprintf(&body, "%v %v\n", e["text"], e["url"])
			}
		}
		out = append(out, seen{event: strings.ToLower(event), title: title, summary: p.Blocks[1].Text.Text, body: body.String()})
	}
	return out
}

// webhookMessages decodes the JSON messages the receiver took.
func webhookMessages(t *testing.T, rx *alerttest.Receiver) []seen {
	t.Helper()
	var out []seen
	for _, r := range rx.Delivered() {
		var m alert.Message
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatalf("webhook body: %v\n%s", err, r.Body)
		}
		out = append(out, seen{event: m.Event, title: m.Title, summary: m.Summary, body: string(r.Body)})
	}
	return out
}

// mailMessages reads the mail the SMTP receiver took.
func mailMessages(rx *alerttest.SMTPServer) []seen {
	var out []seen
	for _, m := range rx.Mails() {
		rest := strings.TrimPrefix(m.Subject, "[fleetscore] ")
		event, title, _ := strings.Cut(rest, " ")
		// The body is "EVENT: title", a blank line, the summary, a blank line.
		parts := strings.SplitN(m.Body, "\n\n", 3)
		summary := ""
		if len(parts) > 1 {
			summary = parts[1]
		}
		out = append(out, seen{event: strings.ToLower(event), title: title, summary: summary, body: m.Body})
	}
	return out
}
