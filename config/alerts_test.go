package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	teamsURL   = "https://prod-42.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=TeamsSig-Never-Shown"
	slackURL   = "https://hooks.slack.com/services/T000/B000/SlackToken-Never-Shown"
	hookURL    = "https://alerts.example.net/fleetscore?token=HookToken-Never-Shown"
	hookSecret = "HookSecret-0123456789-Never-Shown"
	smtpPass   = "SmtpPass-Never-Shown"
)

var alertEnv = env("FLEETSCORE_CLIENT_SECRET", theSecret,
	"FLEETSCORE_TEAMS_URL", teamsURL, "FLEETSCORE_SLACK_URL", slackURL, "FLEETSCORE_HOOK_URL", hookURL,
	"FLEETSCORE_HOOK_SECRET", hookSecret, "FLEETSCORE_SMTP_PASSWORD", smtpPass,
	"PLAIN_HTTP_URL", "http://alerts.example.net/hook", "LOCAL_URL", "http://127.0.0.1:9000/hook",
	"NOT_A_URL", "prod-42.westeurope.logic.azure.com/workflows", "SHORT_SECRET", "short",
	"CONNECTOR_URL", "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456")

const okChannels = `
channels:
  - name: soc-teams
    type: teams
    url_env: FLEETSCORE_TEAMS_URL
`

const okAlerts = `
alerts:
  - name: below-target
    when: below_target
    channels: [soc-teams]
`

const fullAlerts = `
channels:
  - name: soc-teams
    type: teams
    url_env: FLEETSCORE_TEAMS_URL
  - name: soc-slack
    type: slack
    url_env: FLEETSCORE_SLACK_URL
  - name: siem
    type: webhook
    url_env: FLEETSCORE_HOOK_URL
    secret_env: FLEETSCORE_HOOK_SECRET
  - name: ops-mail
    type: email
    smtp: smtp.example.com:587
    from: fleetscore@example.com
    to: [soc@example.com, "NOC <noc@example.com>"]
    username: fleetscore
    password_env: FLEETSCORE_SMTP_PASSWORD
    ca_file: cert.pem
alerts:
  - name: below-target
    when: below_target
    channels: [soc-teams]
  - name: big-drop
    when: score_drop
    points: 10
    channels: [soc-teams, ops-mail]
  - name: drop-pct
    when: score_drop
    percent: 5%
    days: 14
    channels: [soc-slack]
  - name: control-regressed
    when: control_regressed
    channels: [soc-slack, siem]
  - name: collection-failing
    when: collection_failing
    runs: 2
    channels: ops-mail
  - name: new-action
    when: new_action
    tenants: 5
    channels: [siem]
`

func TestAlertsConfig(t *testing.T) {
	y := okApp + okTenants + fullAlerts
	cfg, err := parseAll(fx.path(), []byte(y), alertEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	if len(cfg.Channels) != 4 || len(cfg.Alerts) != 6 {
		t.Fatalf("%d channels and %d alerts, want 4 and 6", len(cfg.Channels), len(cfg.Alerts))
	}
	teams, slack, hook, mail := cfg.Channels[0], cfg.Channels[1], cfg.Channels[2], cfg.Channels[3]
	checks := []struct {
		name      string
		got, want any
	}{
		{"teams", teams.Name + " " + teams.Type, "soc-teams teams"},
		{"teams.URL", teams.URL.Reveal(), teamsURL},
		{"teams.Source", teams.Source, "url from $FLEETSCORE_TEAMS_URL"},
		{"teams.Line", teams.Line, lineOf(y, "  - name: soc-teams")},
		{"slack.URL", slack.URL.Reveal(), slackURL},
		{"hook.URL", hook.URL.Reveal(), hookURL},
		{"hook.Secret", hook.Secret.Reveal(), hookSecret},
		{"mail.Type", mail.Type, "email"},
		{"mail.SMTP", mail.SMTP, "smtp.example.com:587"},
		{"mail.From", mail.From, "<fleetscore@example.com>"},
		{"mail.To", strings.Join(mail.To, "; "), `<soc@example.com>; "NOC" <noc@example.com>`},
		{"mail.Username", mail.Username, "fleetscore"},
		{"mail.Password", mail.Password.Reveal(), smtpPass},
		{"mail.Source", mail.Source, "password from $FLEETSCORE_SMTP_PASSWORD"},
		{"mail.CAFile", mail.CAFile, "cert.pem"},
		{"mail.RootCAs", mail.RootCAs != nil, true},
		{"mail.Security", mail.Security, "starttls"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	want := []AlertRule{
		{Name: "below-target", When: WhenBelowTarget, Channels: []string{"soc-teams"}, Line: lineOf(y, "  - name: below-target")},
		{Name: "big-drop", When: WhenScoreDrop, Points: 10, Days: 7, Channels: []string{"soc-teams", "ops-mail"}, Line: lineOf(y, "  - name: big-drop")},
		{Name: "drop-pct", When: WhenScoreDrop, Percent: 5, Days: 14, Channels: []string{"soc-slack"}, Line: lineOf(y, "  - name: drop-pct")},
		{Name: "control-regressed", When: WhenControlRegressed, Points: 1, Days: 7, Channels: []string{"soc-slack", "siem"}, Line: lineOf(y, "  - name: control-regressed")},
		{Name: "collection-failing", When: WhenCollectionFailing, Runs: 2, Channels: []string{"ops-mail"}, Line: lineOf(y, "  - name: collection-failing")},
		{Name: "new-action", When: WhenNewAction, Tenants: 5, Days: 7, Channels: []string{"siem"}, Line: lineOf(y, "  - name: new-action")},
	}
	if !reflect.DeepEqual(cfg.Alerts, want) {
		t.Errorf("alerts\n%+v, want\n%+v", cfg.Alerts, want)
	}

	if cfg.DigestOver != DefaultDigestOver {
		t.Errorf("digest_over of the list form = %d, want the default %d", cfg.DigestOver, DefaultDigestOver)
	}

	// Without alerting, nothing changes.
	plain, err := parseAll(fx.path(), []byte(okApp+okTenants), goodEnv)
	if err != nil || plain.Channels != nil || plain.Alerts != nil {
		t.Errorf("config without alerting: %v, channels %v, alerts %v", err, plain.Channels, plain.Alerts)
	}
}

// TestAlertProblems feeds one mistake at a time in the alerting blocks and
// expects exactly one problem on the line marked #@here, naming the fix.
func TestAlertProblems(t *testing.T) {
	base := okApp + okTenants
	ch := func(body string) string { return base + "channels:\n  - name: c1\n" + body + okAlertsFor("c1") }
	// chAt is ch with the problem on the channel's own line.
	chAt := func(body string) string { return base + "channels:\n  - name: c1 #@here\n" + body + okAlertsFor("c1") }
	cases := []struct {
		name  string
		yaml  string
		words []string
	}{
		// channels
		{"channels not a list", base + "channels: #@here\n  name: c1\n", []string{"channels must be a list", "- name: soc-teams"}},
		{"empty channels", base + "channels: [] #@here\n", []string{"the channels list is empty"}},
		{"channel scalar", base + "channels:\n  - soc-teams #@here\n", []string{"a channel must be a mapping"}},
		{"unknown channel key", ch("    type: teams\n    url_env: FLEETSCORE_TEAMS_URL\n    colour: red #@here\n"),
			[]string{"unknown key colour in a channel", "the keys here are name, type, url_env"}},
		{"channel key typo", ch("    type: teams\n    url_envv: FLEETSCORE_TEAMS_URL #@here\n"),
			[]string{"unknown key url_envv in a channel", "did you mean url_env?"}},
		{"inline url", ch("    type: teams\n    url_env: FLEETSCORE_TEAMS_URL\n    webhook_url: " + teamsURL + " #@here\n"),
			[]string{"webhook_url: a webhook URL is a secret", "never written in the config", "url_env", "url_file"}},
		{"inline password", base + "channels:\n  - name: c1\n    type: email\n    smtp: smtp.example.com:587\n    from: a@example.com\n    to: b@example.com\n    username: u\n    password_env: FLEETSCORE_SMTP_PASSWORD\n    password: " + smtpPass + " #@here\n" + okAlertsFor("c1"),
			[]string{"password: a password is never written in the config", "password_env"}},
		{"no type", base + "channels:\n  - name: c1 #@here\n    url_env: FLEETSCORE_TEAMS_URL\n" + okAlertsFor("c1"),
			[]string{"channel c1 has no type", "teams, slack, webhook, email or graph_mail"}},
		{"type alias", ch("    type: msteams #@here\n    url_env: FLEETSCORE_TEAMS_URL\n"), []string{`channel type "msteams" is not known`, "did you mean type: teams?"}},
		{"type unknown", ch("    type: pager #@here\n"), []string{`channel type "pager" is not known`, "teams, slack, webhook, email or graph_mail"}},
		{"type alias graph", ch("    type: exchange #@here\n"), []string{`channel type "exchange" is not known`, "did you mean type: graph_mail?"}},
		{"security none", ch("    type: email\n    smtp: smtp.example.com:25\n    from: a@example.com\n    to: b@example.com\n    security: none #@here\n"),
			[]string{`security "none": fleetscore never sends mail or a password unencrypted`, "security: starttls"}},
		{"security ssl", ch("    type: email\n    smtp: smtp.example.com:465\n    from: a@example.com\n    to: b@example.com\n    security: ssl #@here\n"),
			[]string{`security "ssl" is not a mode`, "did you mean security: tls"}},
		{"graph_mail without tenant", chAt("    type: graph_mail\n    sender: fleetscore@mssp.example\n    to: soc@mssp.example\n"),
			[]string{"graph_mail channel c1 has no tenant_id", "Directory (tenant) ID of the MSSP's own tenant"}},
		{"graph_mail bad tenant", ch("    type: graph_mail\n    tenant_id: mssp.example #@here\n    sender: fleetscore@mssp.example\n    to: soc@mssp.example\n"),
			[]string{`tenant_id "mssp.example" of graph_mail channel c1 is not a GUID`}},
		{"graph_mail without sender", chAt("    type: graph_mail\n    tenant_id: " + contosoID + "\n    to: soc@mssp.example\n"),
			[]string{"graph_mail channel c1 has no sender", "mailbox"}},
		{"graph_mail without recipients", chAt("    type: graph_mail\n    tenant_id: " + contosoID + "\n    sender: fleetscore@mssp.example\n"),
			[]string{"graph_mail channel c1 has no recipients"}},
		{"xoauth2 with a password", ch("    type: email\n    smtp: smtp.office365.com:587\n    from: a@example.com\n    to: b@example.com\n    auth: xoauth2\n    tenant_id: " + contosoID + "\n    username: a@example.com\n    password_env: FLEETSCORE_SMTP_PASSWORD #@here\n"),
			[]string{"email channel c1 logs in with xoauth2, which takes no password", "remove password_env"}},
		{"xoauth2 without username", ch("    type: email\n    smtp: smtp.office365.com:587\n    from: a@example.com\n    to: b@example.com\n    auth: xoauth2 #@here\n    tenant_id: " + contosoID + "\n"),
			[]string{"logs in with xoauth2 but has no username", "mailbox"}},
		{"xoauth2 without tenant", chAt("    type: email\n    smtp: smtp.office365.com:587\n    from: a@example.com\n    to: b@example.com\n    auth: xoauth2\n    username: a@example.com\n"),
			[]string{"email channel c1 has no tenant_id"}},
		{"tenant_id without xoauth2", ch("    type: email\n    smtp: smtp.office365.com:587\n    from: a@example.com\n    to: b@example.com\n    tenant_id: " + contosoID + " #@here\n"),
			[]string{"tenant_id is used by an email channel only with auth: xoauth2"}},
		{"auth oauth", ch("    type: email\n    smtp: smtp.office365.com:587\n    from: a@example.com\n    to: b@example.com\n    auth: oauth2 #@here\n"),
			[]string{`auth "oauth2" is not a login`, "did you mean auth: xoauth2?"}},
		{"graph_mail smtp key", ch("    type: graph_mail\n    tenant_id: " + contosoID + "\n    sender: fleetscore@mssp.example\n    to: soc@mssp.example\n    smtp: smtp.example.com:587 #@here\n"),
			[]string{"smtp is not used by a graph_mail channel"}},
		{"no name", base + "channels:\n  - type: teams #@here\n    url_env: FLEETSCORE_TEAMS_URL\n", []string{"the channel has no name", "add name:"}},
		{"bad name", ch("    type: teams\n    url_env: FLEETSCORE_TEAMS_URL\n  - name: soc teams #@here\n    type: slack\n    url_env: FLEETSCORE_SLACK_URL\n"),
			[]string{`channel name "soc teams" has characters that are not allowed`, "letters, digits"}},
		{"duplicate name", ch("    type: teams\n    url_env: FLEETSCORE_TEAMS_URL\n  - name: C1 #@here\n    type: slack\n    url_env: FLEETSCORE_SLACK_URL\n"),
			[]string{"channel name C1 is used twice", "its own name"}},
		{"teams without url", base + "channels:\n  - name: c1 #@here\n    type: teams\n" + okAlertsFor("c1"),
			[]string{"teams channel c1 has no URL", "url_env:", "Teams workflow", "Post to a channel when a webhook request is received"}},
		{"url env not set", ch("    type: slack\n    url_env: FLEETSCORE_NOTHING #@here\n"),
			[]string{"environment variable FLEETSCORE_NOTHING, named by url_env, is empty or not set"}},
		{"url http", ch("    type: webhook\n    url_env: PLAIN_HTTP_URL #@here\n    secret_env: FLEETSCORE_HOOK_SECRET\n"),
			[]string{"the url from $PLAIN_HTTP_URL is not https", "only to this machine"}},
		{"url not a url", ch("    type: teams\n    url_env: NOT_A_URL #@here\n"),
			[]string{"the url from $NOT_A_URL is not a URL (it is not shown: it is a secret)", "https://"}},
		{"url env and file", ch("    type: teams\n    url_env: FLEETSCORE_TEAMS_URL\n    url_file: secret.txt #@here\n"),
			[]string{"url_env and url_file are both set", "keep one"}},
		{"url file missing", ch("    type: teams\n    url_file: nothing.txt #@here\n"),
			[]string{"the webhook URL file nothing.txt", "does not exist"}},
		{"key of another type", ch("    type: teams\n    url_env: FLEETSCORE_TEAMS_URL\n    to: [a@example.com] #@here\n"),
			[]string{"to is not used by a teams channel", "to is for email and graph_mail channels"}},
		{"webhook without secret", base + "channels:\n  - name: c1 #@here\n    type: webhook\n    url_env: FLEETSCORE_HOOK_URL\n" + okAlertsFor("c1"),
			[]string{"webhook channel c1 has no signing secret", "secret_env:", "openssl rand -hex 32"}},
		{"webhook short secret", ch("    type: webhook\n    url_env: FLEETSCORE_HOOK_URL\n    secret_env: SHORT_SECRET #@here\n"),
			[]string{"shorter than 16 characters", "openssl rand -hex 32"}},
		{"smtp without port", ch("    type: email\n    smtp: smtp.example.com #@here\n    from: a@example.com\n    to: b@example.com\n"),
			[]string{`smtp "smtp.example.com" has no port`, "smtp.example.com:587"}},
		{"no smtp", base + "channels:\n  - name: c1 #@here\n    type: email\n    from: a@example.com\n    to: b@example.com\n" + okAlertsFor("c1"),
			[]string{"email channel c1 has no smtp server", "smtp.example.com:587"}},
		{"bad from", ch("    type: email\n    smtp: smtp.example.com:587\n    from: fleetscore #@here\n    to: b@example.com\n"),
			[]string{`from "fleetscore" is not an e-mail address`}},
		{"no recipients", base + "channels:\n  - name: c1 #@here\n    type: email\n    smtp: smtp.example.com:587\n    from: a@example.com\n" + okAlertsFor("c1"),
			[]string{"email channel c1 has no recipients", "to: [soc@example.com]"}},
		{"bad recipient", ch("    type: email\n    smtp: smtp.example.com:587\n    from: a@example.com\n    to:\n      - soc@example.com\n      - noc at example #@here\n"),
			[]string{`to "noc at example" is not an e-mail address`}},
		{"username without password", ch("    type: email\n    smtp: smtp.example.com:587\n    from: a@example.com\n    to: b@example.com\n    username: u #@here\n"),
			[]string{"email channel c1 has a username but no password", "password_env:"}},
		{"password without username", ch("    type: email\n    smtp: smtp.example.com:587\n    from: a@example.com\n    to: b@example.com\n    password_env: FLEETSCORE_SMTP_PASSWORD #@here\n"),
			[]string{"email channel c1 has a password but no username", "add username:"}},
		{"ca file not pem", ch("    type: email\n    smtp: smtp.example.com:587\n    from: a@example.com\n    to: b@example.com\n    ca_file: garbage.pem #@here\n"),
			[]string{"ca_file garbage.pem holds no PEM certificate"}},

		// rules
		{"alerts not a list", base + okChannels + "alerts: #@here\n  name: x\n", []string{"alerts must be a list"}},
		{"unknown rule key", base + okChannels + okAlerts + "    severity: high #@here\n", []string{"unknown key severity in an alert rule", "the keys here are name, when"}},
		{"rule without when", base + okChannels + "alerts:\n  - name: r #@here\n    channels: [soc-teams]\n", []string{"alert rule r has no when", "below_target, score_drop"}},
		{"when typo", base + okChannels + "alerts:\n  - name: r\n    when: below_targt #@here\n    channels: [soc-teams]\n", []string{`when "below_targt" is not a condition`, "did you mean when: below_target?"}},
		{"when alias", base + okChannels + "alerts:\n  - name: r\n    when: drop #@here\n    channels: [soc-teams]\n", []string{`when "drop" is not a condition`, "did you mean when: score_drop?"}},
		{"no channels", base + okChannels + "alerts:\n  - name: r #@here\n    when: below_target\n", []string{"alert rule r has no channels", "channels: [name]"}},
		{"undefined channel", base + okChannels + "alerts:\n  - name: r\n    when: below_target\n    channels:\n      - soc-team #@here\n", []string{"channel soc-team is not defined under channels:", "did you mean soc-teams?"}},
		{"no channels list", base + "alerts:\n  - name: r\n    when: below_target\n    channels: [soc-teams] #@here\n", []string{"channel soc-teams is not defined: there is no channels: list", "add a channels: list"}},
		{"channel twice", base + okChannels + "alerts:\n  - name: r\n    when: below_target\n    channels:\n      - soc-teams\n      - soc-teams #@here\n", []string{"channel soc-teams is listed twice"}},
		{"duplicate rule", base + okChannels + okAlerts + "  - name: below-target #@here\n    when: below_target\n    channels: [soc-teams]\n", []string{"alert rule name below-target is used twice"}},
		{"drop without threshold", base + okChannels + "alerts:\n  - name: r #@here\n    when: score_drop\n    channels: [soc-teams]\n", []string{"alert rule r says how far the score must fall in neither points nor percent", "points: 10"}},
		{"drop with both", base + okChannels + "alerts:\n  - name: r\n    when: score_drop\n    points: 10\n    percent: 5 #@here\n    channels: [soc-teams]\n", []string{"has both points and percent", "write two rules"}},
		{"points not a number", base + okChannels + "alerts:\n  - name: r\n    when: score_drop\n    points: ten #@here\n    channels: [soc-teams]\n", []string{`points must be a number, not "ten"`, "points: 10"}},
		{"percent out of range", base + okChannels + "alerts:\n  - name: r\n    when: score_drop\n    percent: 150 #@here\n    channels: [soc-teams]\n", []string{"percent 150 is out of range", "at most 100"}},
		{"days out of range", base + okChannels + "alerts:\n  - name: r\n    when: score_drop\n    points: 10\n    days: 365 #@here\n    channels: [soc-teams]\n", []string{"days 365 is out of range", "1 to 90"}},
		{"runs zero", base + okChannels + "alerts:\n  - name: r\n    when: collection_failing\n    runs: 0 #@here\n    channels: [soc-teams]\n", []string{"runs 0 is out of range"}},
		{"new action without tenants", base + okChannels + "alerts:\n  - name: r #@here\n    when: new_action\n    channels: [soc-teams]\n", []string{"alert rule r has no tenants", "tenants: 5"}},
		{"regressed points zero", base + okChannels + "alerts:\n  - name: r\n    when: control_regressed\n    points: 0 #@here\n    channels: [soc-teams]\n", []string{"points 0 is out of range", "a met control's score must fall by"}},
		{"campaign rule with days", base + okChannels + "alerts:\n  - name: r\n    when: campaign_overdue\n    days: 3 #@here\n    channels: [soc-teams]\n", []string{"days is not used by a campaign_overdue rule"}},
		{"campaign condition misspelt", base + okChannels + "alerts:\n  - name: r\n    when: campaign_overdeu #@here\n    channels: [soc-teams]\n", []string{"did you mean when: campaign_overdue?"}},
		{"alerts mapping without rules", base + okChannels + "alerts: #@here\n  digest_over: 5\n", []string{"alerts: has no rules:", "rules:"}},
		{"digest_over negative", base + okChannels + "alerts:\n  digest_over: -1 #@here\n  rules:\n    - name: r\n      when: below_target\n      channels: [soc-teams]\n", []string{"digest_over -1 is out of range"}},
		{"unknown alerts key", base + okChannels + "alerts:\n  digest: 3 #@here\n  rules:\n    - name: r\n      when: below_target\n      channels: [soc-teams]\n", []string{"digest"}},
		{"key of another condition", base + okChannels + "alerts:\n  - name: r\n    when: below_target\n    runs: 3 #@here\n    channels: [soc-teams]\n", []string{"runs is not used by a below_target rule", "runs is for collection_failing rules"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAll(fx.path(), []byte(tc.yaml), alertEnv)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want *Error", err)
			}
			if len(ce.Problems) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(ce.Problems), err)
			}
			m := markers(tc.yaml)
			prefix := fmt.Sprintf("%s:%d: ", fx.path(), m["here"])
			msg := err.Error()
			if !strings.HasPrefix(msg, prefix) {
				t.Errorf("error %q\ndoes not start with %q", msg, prefix)
			}
			for _, w := range tc.words {
				for name, line := range m {
					w = strings.ReplaceAll(w, "{"+name+"}", strconv.Itoa(line))
				}
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
			for _, secret := range []string{teamsURL, "TeamsSig", slackURL, hookSecret, smtpPass, theSecret, "alerts.example.net", "prod-42"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error shows a secret: %q", msg)
				}
			}
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "; ") {
				t.Errorf("error %q is not one line of the form what; fix", msg)
			}
		})
	}
}

// lineOf is the line of the first line of text that starts with prefix.
func lineOf(text, prefix string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	return 0
}

// okAlertsFor is a rule using channel name, so that a channel under test is not unused.
func okAlertsFor(name string) string {
	return "alerts:\n  - name: r\n    when: below_target\n    channels: [" + name + "]\n"
}

func TestAlertWarnings(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unused channel", okChannels + "  - name: spare\n    type: slack\n    url_env: FLEETSCORE_SLACK_URL\n" + okAlerts,
			"channel spare is used by no alert rule"},
		{"retired connector", "channels:\n  - name: c1\n    type: teams\n    url_env: CONNECTOR_URL\n" + okAlertsFor("c1"),
			"an Office 365 connector's incoming webhook, which Microsoft retired"},
		{"smtps port is implicit TLS", "channels:\n  - name: c1\n    type: email\n    smtp: smtp.example.com:465\n    from: a@example.com\n    to: b@example.com\n" + okAlertsFor("c1"), ""},
		{"smtps port with starttls", "channels:\n  - name: c1\n    type: email\n    smtp: smtp.example.com:465\n    security: starttls\n    from: a@example.com\n    to: b@example.com\n" + okAlertsFor("c1"),
			"smtp port 465 expects TLS from the first byte"},
		{"http to loopback is fine", "channels:\n  - name: c1\n    type: slack\n    url_env: LOCAL_URL\n" + okAlertsFor("c1"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseAll(fx.path(), []byte(okApp+okTenants+tc.yaml), alertEnv)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(cfg.Warnings) != 0 {
					t.Errorf("warnings %q, want none", cfg.Warnings)
				}
				return
			}
			if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], tc.want) {
				t.Errorf("warnings %q, want one with %q", cfg.Warnings, tc.want)
			}
			for _, w := range cfg.Warnings {
				if strings.Contains(w, "contoso.webhook.office.com") {
					t.Errorf("warning shows the URL: %s", w)
				}
			}
		})
	}
}

func TestAlertSecretsNeverShown(t *testing.T) {
	cfg, err := parseAll(fx.path(), []byte(okApp+okTenants+fullAlerts), alertEnv)
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, v := range []any{cfg, *cfg, cfg.Channels, cfg.Channels[0], cfg.Channels[2], cfg.Channels[3]} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		j, _ := json.Marshal(v)
		outs = append(outs, string(j))
		var text bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("config", "value", v)
		outs = append(outs, text.String())
	}
	for _, out := range outs {
		for _, s := range []string{teamsURL, "TeamsSig", slackURL, "SlackToken", hookURL, "HookToken", hookSecret, smtpPass} {
			if strings.Contains(out, s) {
				t.Errorf("output shows a secret (%s):\n%s", s, out)
			}
		}
	}
	if got := fmt.Sprint(cfg.Channels[0]); got != "teams channel soc-teams (url from $FLEETSCORE_TEAMS_URL)" {
		t.Errorf("channel prints as %q", got)
	}
}

// TestAlertsMapping reads alerts: as a mapping of digest_over: and rules:,
// and control_regressed's points.
func TestAlertsMapping(t *testing.T) {
	y := okApp + okTenants + okChannels + `
alerts:
  digest_over: 12
  rules:
    - name: wobble
      when: control_regressed
      points: 2.5
      channels: [soc-teams]
    - name: below
      when: below_target
      channels: [soc-teams]
    - name: late
      when: campaign_overdue
      channels: [soc-teams]
    - name: slipped
      when: campaign_regressed
      channels: [soc-teams]
`
	cfg, err := parseAll(fx.path(), []byte(y), alertEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DigestOver != 12 {
		t.Errorf("DigestOver = %d, want 12", cfg.DigestOver)
	}
	if len(cfg.Alerts) != 4 || cfg.Alerts[2].When != WhenCampaignOverdue || cfg.Alerts[3].When != WhenCampaignRegressed || cfg.Alerts[0].Points != 2.5 || cfg.Alerts[0].When != WhenControlRegressed || cfg.Alerts[1].Name != "below" {
		t.Errorf("rules %+v, want wobble (control_regressed, points 2.5) and below", cfg.Alerts)
	}
	off, err := parseAll(fx.path(), []byte(strings.Replace(y, "digest_over: 12", "digest_over: 0", 1)), alertEnv)
	if err != nil || off.DigestOver != 0 {
		t.Errorf("digest_over: 0 gives %v, %+v; want 0 (never)", err, off)
	}
}

// TestGraphMailChannel: a graph_mail channel with the file's app, and one
// with its own; 465 picks implicit TLS for an email channel.
func TestGraphMailChannel(t *testing.T) {
	y := okApp + okTenants + `channels:
  - name: ops-graph
    type: graph_mail
    tenant_id: "{` + strings.ToUpper(contosoID) + `}"
    sender: "Fleetscore <fleetscore@mssp.example>"
    to: [soc@mssp.example, "NOC <noc@mssp.example>"]
  - name: own-app
    type: graph_mail
    tenant_id: ` + contosoID + `
    sender: fleetscore@mssp.example
    to: soc@mssp.example
    app:
      client_id: 11111111-2222-4333-8444-555555555555
      client_secret_env: FLEETSCORE_MAIL_SECRET
  - name: smtps
    type: email
    smtp: smtp.example.com:465
    from: a@example.com
    to: b@example.com
  - name: exo
    type: email
    smtp: smtp.office365.com:587
    from: fleetscore@mssp.example
    to: b@example.com
    auth: xoauth2
    username: fleetscore@mssp.example
    tenant_id: ` + contosoID + `
alerts:
  - name: r
    when: below_target
    channels: [ops-graph, own-app, smtps, exo]
`
	cfg, err := parseAll(fx.path(), []byte(y), func(k string) string {
		if k == "FLEETSCORE_MAIL_SECRET" {
			return "Q~mail-secret-never-shown"
		}
		return goodEnv(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	g, own, smtps, exo := cfg.Channels[0], cfg.Channels[1], cfg.Channels[2], cfg.Channels[3]
	if exo.Auth != AuthXOAUTH2 || exo.App != cfg.App || exo.TenantID != contosoID || exo.Username != "fleetscore@mssp.example" || exo.Security != SecuritySTARTTLS {
		t.Errorf("xoauth2 channel %+v", exo)
	}
	if g.Type != ChannelGraphMail || g.TenantID != contosoID || g.Sender != "fleetscore@mssp.example" || g.App != cfg.App ||
		strings.Join(g.To, "; ") != `<soc@mssp.example>; "NOC" <noc@mssp.example>` || g.Source != "app "+clientID {
		t.Errorf("graph_mail channel %+v", g)
	}
	if own.App == nil || own.App == cfg.App || own.App.ClientID != "11111111-2222-4333-8444-555555555555" || own.App.Secret.Reveal() != "Q~mail-secret-never-shown" {
		t.Errorf("own app %+v", own.App)
	}
	if smtps.Security != SecurityTLS || smtps.Auth != "" {
		t.Errorf("security on 465 = %q, want tls", smtps.Security)
	}
	if strings.Contains(fmt.Sprint(cfg.Channels), "Q~mail") {
		t.Error("a channel prints its app's secret")
	}

	// The channel's app secret is for sending alerts: a missing variable
	// stops alerts test (UseChannels), not collect (UseGraph).
	cfg, err = parse(fx.path(), []byte(y), goodEnv, time.Now(), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Require(UseGraph); err != nil {
		t.Errorf("collect needs the channel's app secret: %v", err)
	}
	if err := cfg.Require(UseChannels); err == nil || !strings.Contains(err.Error(), "FLEETSCORE_MAIL_SECRET") {
		t.Errorf("alerts test: %v, want the missing FLEETSCORE_MAIL_SECRET", err)
	}
}
