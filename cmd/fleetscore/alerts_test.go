package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/ledger"
	"github.com/fleetscore/fleetscore/query"
)

const (
	cmdHookSecret = "cmd-hook-secret-0123456789abcdef"
	cmdSMTPPass   = "cmd-smtp-Pa55word"
)

// alertsConfig appends channels for the receivers and the rules to a
// config written by writeConfig, and returns the environment holding the
// channels' secrets.
func alertsConfig(t *testing.T, path string, teams, slack, hook *alerttest.Receiver, mail *alerttest.SMTPServer, rules string) func(string) string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `channels:
  - name: soc-teams
    type: teams
    url_env: TEAMS_URL
  - name: soc-slack
    type: slack
    url_env: SLACK_URL
  - name: siem
    type: webhook
    url_env: HOOK_URL
    secret_env: HOOK_SECRET
  - name: ops-mail
    type: email
    smtp: %s
    from: fleetscore@mssp.example
    to: [soc@mssp.example]
    username: fleetscore
    password_env: SMTP_PASSWORD
    ca_file: %s
alerts:
%s`, mail.Addr, mail.CAFile, rules)
	f.Close()
	env := map[string]string{"TEAMS_URL": teams.URL(), "SLACK_URL": slack.URL(), "HOOK_URL": hook.URL(),
		"HOOK_SECRET": cmdHookSecret, "SMTP_PASSWORD": cmdSMTPPass}
	return func(k string) string { return env[k] }
}

const everyChannel = `  - name: all
    when: below_target
    channels: [soc-teams, soc-slack, siem, ops-mail]
`

func TestAlertsTest(t *testing.T) {
	path, _ := writeConfig(t, []tenantSpec{{name: "Alpha", consent: true}})
	teams, slack, hook := alerttest.NewReceiver(t), alerttest.NewReceiver(t), alerttest.NewReceiver(t)
	mail := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: "fleetscore", Password: cmdSMTPPass})
	getenv := alertsConfig(t, path, teams, slack, hook, mail, everyChannel)

	r := runCmd(t, getenv, "alerts", "test", "--config", path)
	if r.err != nil || !strings.Contains(r.stdout, "all 4 channels took the test message") {
		t.Fatalf("alerts test: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	for name, rx := range map[string]*alerttest.Receiver{"teams": teams, "slack": slack, "webhook": hook} {
		if n := len(rx.Delivered()); n != 1 {
			t.Errorf("%s got %d test messages", name, n)
		}
	}
	var m alert.Message
	req := hook.Delivered()[0]
	if err := json.Unmarshal(req.Body, &m); err != nil || m.Event != alert.Test {
		t.Errorf("webhook test message %s: %v", req.Body, err)
	}
	if err := alert.Verify([]byte(cmdHookSecret), req.Header.Get(alert.HeaderTimestamp), req.Header.Get(alert.HeaderSignature), req.Body, m.At, alert.DefaultTolerance); err != nil {
		t.Errorf("test message signature: %v", err)
	}
	if ms := mail.Mails(); len(ms) != 1 || ms[0].Subject != "[fleetscore] TEST fleetscore test message" || ms[0].User != "fleetscore" {
		t.Errorf("mail %+v", ms)
	}

	// A channel that refuses: the command says which and why, without its URL.
	slack.FailNext(1, http.StatusNotFound)
	r = runCmd(t, getenv, "alerts", "test", "--config", path)
	if exitCode(r.err) != 1 || !strings.Contains(r.stdout, "error  soc-slack") || !strings.Contains(r.stdout, "answered 404") {
		t.Errorf("alerts test with slack refusing: %v\n%s", r.err, r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr+fmt.Sprint(r.err), "s3cr3t") {
		t.Errorf("output shows a webhook URL:\n%s", r.stdout)
	}
}

// TestCollectSendsAlerts: collect evaluates the rules after the run; a
// second run repeats nothing; alerts list shows the open alert.
func TestCollectSendsAlerts(t *testing.T) {
	path, _ := writeConfig(t, []tenantSpec{
		{name: "Alpha", consent: true},
		{name: "Revoked", consent: true, faults: emulator.Faults{RevokeConsent: true}},
	})
	teams, slack, hook := alerttest.NewReceiver(t), alerttest.NewReceiver(t), alerttest.NewReceiver(t)
	mail := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: "fleetscore", Password: cmdSMTPPass})
	getenv := alertsConfig(t, path, teams, slack, hook, mail, `  - name: failing
    when: collection_failing
    runs: 1
    channels: [siem, ops-mail]
`)
	// teams and slack are used by no rule: a warning, not an error.
	for run := 1; run <= 2; run++ {
		r := runCmd(t, getenv, "collect", "--config", path)
		if exitCode(r.err) != 1 || !strings.Contains(r.stdout, "1 of 2 tenants collected, 1 failed") {
			t.Fatalf("collect %d: %v\n%s\n%s", run, r.err, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "channel soc-teams is used by no alert rule") {
			t.Errorf("no warning about the unused channel:\n%s", r.stderr)
		}
	}
	if n := len(hook.Delivered()); n != 1 {
		t.Fatalf("the webhook got %d messages after two runs, want 1", n)
	}
	var m alert.Message
	if err := json.Unmarshal(hook.Delivered()[0].Body, &m); err != nil || m.Event != alert.Firing || m.Tenant != "Revoked" || m.Rule != "failing" {
		t.Errorf("message %+v: %v", m, err)
	}
	if ms := mail.Mails(); len(ms) != 1 || !strings.Contains(ms[0].Subject, "FIRING failing: Revoked") {
		t.Errorf("mails %+v", ms)
	}
	r := runCmd(t, getenv, "alerts", "list", "--config", path)
	if r.err != nil || !strings.Contains(r.stdout, "1 open alerts") || !strings.Contains(r.stdout, "Revoked could not be collected in its last run") ||
		!strings.Contains(r.stdout, "siem") || !strings.Contains(r.stdout, "delivered") {
		t.Errorf("alerts list: %v\n%s", r.err, r.stdout)
	}
}

// TestFirstCollectIsABaseline: through the command, a tenant's first
// collection (its 90-day backfill, which holds falls and regressions) fires
// no change alert: collect tells the alerts which tenants it backfilled.
func TestFirstCollectIsABaseline(t *testing.T) {
	path, ids := writeConfig(t, []tenantSpec{{name: "Alpha", consent: true}, {name: "Bravo", consent: true}, {name: "Charlie", consent: true}})
	// Alpha's history: a control met for weeks loses its points 3 days ago.
	today := shared.emu.Today()
	base := today.AddDays(-89)
	shared.emu.SetScript(ids[0], emulator.Script{Base: base})
	scores, profiles := shared.emu.Expected(ids[0])
	met := ""
	for _, p := range profiles {
		for _, c := range scores[0].Controls {
			if c.Name == p.ID && c.Score == p.MaxScore && p.MaxScore >= 5 && !p.Deprecated && len(p.StateUpdates) == 1 && p.StateUpdates[0].State == "Default" {
				met = p.ID
			}
		}
	}
	if met == "" {
		t.Fatal("Alpha has no met control to regress")
	}
	shared.emu.SetScript(ids[0], emulator.Script{Base: base, Points: []emulator.ScriptPoints{{Control: met, From: today.AddDays(-3), Points: 0}}})
	teams, slack, hook := alerttest.NewReceiver(t), alerttest.NewReceiver(t), alerttest.NewReceiver(t)
	mail := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: "fleetscore", Password: cmdSMTPPass})
	getenv := alertsConfig(t, path, teams, slack, hook, mail, `  - name: drop
    when: score_drop
    percent: 0.01
    days: 90
    channels: [siem]
  - name: regressed
    when: control_regressed
    points: 0.01
    days: 90
    channels: [siem]
`)
	r := runCmd(t, getenv, "collect", "--config", path)
	if r.err != nil {
		t.Fatalf("collect: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	// The history does hold what the rules look for.
	cfg, err := loadConfig(env{getenv: getenv, stdout: io.Discard, stderr: io.Discard}, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	store, err := openStore(context.Background(), cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	src, ok := store.(query.Source)
	if !ok {
		t.Fatal("the store is not a query.Source")
	}
	rep, err := query.FleetChanges(context.Background(), src, 7, today.Time().Add(12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	regressed := false
	for _, tt := range rep.Tenants {
		for _, it := range tt.Items {
			regressed = regressed || (tt.TenantID == ids[0] && it.Kind == ledger.KindRegression && it.Control == met)
		}
	}
	if !regressed {
		t.Fatalf("Alpha's history does not show %s regressed: the test would prove nothing", met)
	}
	// The rules are change rules only: nothing may be sent, not even a
	// digest of them.
	for _, d := range hook.Delivered() {
		var m alert.Message
		if err := json.Unmarshal(d.Body, &m); err != nil {
			t.Fatal(err)
		}
		t.Errorf("the first collection sent %s %q (history, not news)", m.Event, m.Title)
	}
}

// TestAlertsTestGraphMail: alerts test sends through a graph_mail channel
// (the emulator's sendMail, with the config's app) and an email channel on
// implicit TLS (port 465's mode); a graph_mail channel whose app lacks
// Mail.Send says what to grant.
func TestAlertsTestGraphMail(t *testing.T) {
	path, _ := writeConfig(t, []tenantSpec{{name: "Alpha", consent: true}})
	mssp := shared.emu.AddTenant(emulator.Tenant{Name: "MSSP", MailApps: []string{testCertApp}, Mailboxes: []string{"fleetscore@mssp.example"}})
	other := shared.emu.AddTenant(emulator.Tenant{Name: "MSSP without Mail.Send", ConsentedApps: []string{testCertApp}})
	smtps := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{ImplicitTLS: true, Username: "fleetscore", Password: cmdSMTPPass})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `channels:
  - name: ops-graph
    type: graph_mail
    tenant_id: %s
    sender: fleetscore@mssp.example
    to: [soc@mssp.example, "NOC <noc@mssp.example>"]
  - name: no-mail-send
    type: graph_mail
    tenant_id: %s
    sender: fleetscore@mssp.example
    to: soc@mssp.example
  - name: ops-smtps
    type: email
    smtp: %s
    security: tls
    from: fleetscore@mssp.example
    to: soc@mssp.example
    username: fleetscore
    password_env: SMTP_PASSWORD
    ca_file: %s
alerts:
  - name: all
    when: below_target
    channels: [ops-graph, no-mail-send, ops-smtps]
`, mssp.ID, other.ID, smtps.Addr, smtps.CAFile)
	f.Close()
	getenv := func(k string) string { return map[string]string{"SMTP_PASSWORD": cmdSMTPPass}[k] }

	r := runCmd(t, getenv, "alerts", "test", "--config", path)
	if exitCode(r.err) != 1 || !strings.Contains(r.stdout, "1 of 3 channels did not take") && !strings.Contains(fmt.Sprint(r.err), "1 of 3 channels did not take") {
		t.Fatalf("alerts test: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	for _, want := range []string{"ok     ops-graph     graph_mail", "ok     ops-smtps     email", "error  no-mail-send  graph_mail",
		"ErrorAccessDenied", "Mail.Send", "application access policy"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	sent := shared.emu.SentMail(mssp.ID)
	if len(sent) != 1 || sent[0].Status != 202 || sent[0].Sender != "fleetscore@mssp.example" || sent[0].AppID != testCertApp {
		t.Fatalf("sendMail %+v", sent)
	}
	body := string(sent[0].Body)
	for _, want := range []string{`"subject":"[fleetscore] TEST fleetscore test message"`, `"contentType":"HTML"`,
		`"toRecipients":[{"emailAddress":{"address":"soc@mssp.example"}},{"emailAddress":{"address":"noc@mssp.example","name":"NOC"}}]`,
		`"saveToSentItems":false`, `{"name":"X-Fleetscore-Event","value":"test"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("sendMail body lacks %s:\n%s", want, body)
		}
	}
	if ms := smtps.Mails(); len(ms) != 1 || ms[0].User != "fleetscore" || ms[0].HTML == "" || !strings.Contains(ms[0].Body, "fleetscore test message") {
		t.Errorf("smtps mail %+v", ms)
	}
}

// TestAlertsTestXOAUTH2: an email channel with auth: xoauth2 logs in to
// the SMTP server with the app's Exchange Online token for the MSSP's
// tenant (audience https://outlook.office365.com, role SMTP.SendAsApp).
func TestAlertsTestXOAUTH2(t *testing.T) {
	path, _ := writeConfig(t, []tenantSpec{{name: "Alpha", consent: true}})
	mssp := shared.emu.AddTenant(emulator.Tenant{Name: "MSSP", MailApps: []string{testCertApp}})
	var claims struct {
		Aud   string   `json:"aud"`
		Tid   string   `json:"tid"`
		AppID string   `json:"appid"`
		Roles []string `json:"roles"`
	}
	rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: "fleetscore@mssp.example", AuthMechanisms: "LOGIN XOAUTH2",
		Verify: func(_, token string) bool {
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				return false
			}
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			return err == nil && json.Unmarshal(payload, &claims) == nil
		}})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `channels:
  - name: exo
    type: email
    smtp: %s
    from: fleetscore@mssp.example
    to: soc@mssp.example
    auth: xoauth2
    username: fleetscore@mssp.example
    tenant_id: %s
    ca_file: %s
alerts:
  - name: all
    when: below_target
    channels: [exo]
`, rx.Addr, mssp.ID, rx.CAFile)
	f.Close()
	r := runCmd(t, nil, "alerts", "test", "--config", path)
	if r.err != nil {
		t.Fatalf("alerts test: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	if ms := rx.Mails(); len(ms) != 1 || ms[0].User != "fleetscore@mssp.example" {
		t.Fatalf("mails %+v", ms)
	}
	if claims.Aud != "https://outlook.office365.com" || claims.Tid != mssp.ID || claims.AppID != testCertApp || !slices.Equal(claims.Roles, []string{"SMTP.SendAsApp"}) {
		t.Errorf("the XOAUTH2 token's claims %+v: want Exchange Online's audience in the MSSP's tenant with SMTP.SendAsApp", claims)
	}
}
