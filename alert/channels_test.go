package alert_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/mail"
)

func sample() alert.Message {
	at := time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)
	return alert.Message{ID: 12, AlertID: 3, Event: alert.Firing, Rule: "big-drop", When: "score_drop",
		TenantID: "11111111-1111-1111-1111-111111111111", Tenant: "Contoso", Title: "big-drop: Contoso",
		Summary: "Contoso's Secure Score fell 10.00 points within 7 days.",
		Facts:   []alert.Fact{{Name: "Tenant", Value: "Contoso"}, {Name: "Drop", Value: "10.00 points"}},
		Link:    "https://security.microsoft.com/securescore", OpenedAt: at, At: at}
}

func post(t *testing.T, ch alert.Channel, m alert.Message) {
	t.Helper()
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func TestSlackMessage(t *testing.T) {
	rx := alerttest.NewReceiver(t)
	m := sample()
	m.Summary = "Fabrikam & Sons <legal> lost points"
	for i := range 11 {
		m.Facts = append(m.Facts, alert.Fact{Name: fmt.Sprintf("Fact %d", i), Value: "v"})
	}
	m.Title = strings.Repeat("x", 200)
	post(t, alert.NewSlack("s", rx.URL, nil), m)
	var p struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string            `json:"type"`
			Text     map[string]string `json:"text"`
			Fields   []map[string]string
			Elements []map[string]any
		} `json:"blocks"`
	}
	if err := json.Unmarshal(rx.Delivered()[0].Body, &p); err != nil {
		t.Fatal(err)
	}
	if got := []rune(p.Blocks[0].Text["text"]); p.Blocks[0].Type != "header" || len(got) != 150 || got[149] != '…' {
		t.Errorf("header %q: Slack refuses a header over 150 characters", string(got))
	}
	if p.Blocks[1].Text["text"] != "Fabrikam &amp; Sons &lt;legal&gt; lost points" || p.Blocks[1].Text["type"] != "mrkdwn" {
		t.Errorf("summary block %v: & < > must be escaped in mrkdwn", p.Blocks[1].Text)
	}
	if len(p.Blocks[2].Fields) != 10 || len(p.Blocks[3].Fields) != 3 {
		t.Errorf("13 facts in sections of %d and %d fields; Slack takes at most 10 a section", len(p.Blocks[2].Fields), len(p.Blocks[3].Fields))
	}
	if b := p.Blocks[4]; b.Type != "actions" || b.Elements[0]["url"] != m.Link {
		t.Errorf("link block %+v", b)
	}
	if b := p.Blocks[5]; b.Type != "context" || b.Elements[0]["type"] != "mrkdwn" ||
		b.Elements[0]["text"] != "fleetscore · rule big-drop (score_drop) · alert #3 · 2026-03-03 02:00 UTC" {
		t.Errorf("context block %+v", b)
	}
	if !strings.HasPrefix(p.Text, "FIRING · ") {
		t.Errorf("notification text %q", p.Text)
	}
}

func TestTeamsCard(t *testing.T) {
	rx := alerttest.NewReceiver(t)
	rx.AnswerWith(http.StatusAccepted)
	ch := alert.NewTeams("t", rx.URL, nil)
	for _, c := range []struct{ event, color string }{{alert.Firing, "Attention"}, {alert.Resolved, "Good"}, {alert.Test, "Accent"}} {
		m := sample()
		m.Event = c.event
		if c.event == alert.Test {
			m.Link = ""
		}
		post(t, ch, m)
		var p struct {
			Attachments []struct {
				Content struct {
					Body []struct {
						Type, Text, Color string
						Facts             []map[string]string
					}
					Actions []map[string]string
					MSTeams map[string]string `json:"msteams"`
				}
			}
		}
		rs := rx.Delivered()
		if err := json.Unmarshal(rs[len(rs)-1].Body, &p); err != nil {
			t.Fatal(err)
		}
		card := p.Attachments[0].Content
		if card.Body[0].Color != c.color || card.Body[0].Text != strings.ToUpper(c.event) {
			t.Errorf("%s: first block %+v, want %s in %s", c.event, card.Body[0], strings.ToUpper(c.event), c.color)
		}
		if card.Body[3].Type != "FactSet" || card.Body[3].Facts[1]["title"] != "Drop" || card.MSTeams["width"] != "Full" {
			t.Errorf("%s: card %+v", c.event, card)
		}
		if (len(card.Actions) == 1) != (m.Link != "") || (m.Link != "" && card.Actions[0]["type"] != "Action.OpenUrl") {
			t.Errorf("%s: actions %+v for link %q", c.event, card.Actions, m.Link)
		}
	}
}

func TestWebhookSignature(t *testing.T) {
	rx := alerttest.NewReceiver(t)
	signedAt := time.Unix(1772416800, 0)
	post(t, alert.NewWebhook("w", rx.URL, func() string { return hookSecret }, nil, func() time.Time { return signedAt }), sample())
	r := rx.Delivered()[0]
	var m alert.Message
	if err := json.Unmarshal(r.Body, &m); err != nil || m.ID != 12 || m.AlertID != 3 || m.Summary != sample().Summary {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	if r.Header.Get("X-Fleetscore-Timestamp") != "1772416800" || r.Header.Get("X-Fleetscore-Delivery") != "12" ||
		r.Header.Get("X-Fleetscore-Event") != "firing" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	mac := hmac.New(sha256.New, []byte(hookSecret))
	fmt.Fprintf(mac, "1772416800.%s", r.Body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-Fleetscore-Signature") != want {
		t.Errorf("signature %q, want %q", r.Header.Get("X-Fleetscore-Signature"), want)
	}
	sig := r.Header.Get("X-Fleetscore-Signature")
	cases := []struct {
		name      string
		ts, sig   string
		body      []byte
		now       time.Time
		wantError string
	}{
		{"good", "1772416800", sig, r.Body, signedAt.Add(time.Minute), ""},
		{"replayed an hour later", "1772416800", sig, r.Body, signedAt.Add(time.Hour), "replayed or delayed"},
		{"timestamp changed", "1772416801", sig, r.Body, signedAt, "does not match"},
		{"body changed", "1772416800", sig, append([]byte(" "), r.Body...), signedAt, "does not match"},
		{"no prefix", "1772416800", strings.TrimPrefix(sig, "sha256="), r.Body, signedAt, "sha256="},
		{"timestamp not a number", "yesterday", sig, r.Body, signedAt, "not Unix seconds"},
	}
	for _, c := range cases {
		err := alert.Verify([]byte(hookSecret), c.ts, c.sig, c.body, c.now, alert.DefaultTolerance)
		if (err == nil) != (c.wantError == "") || (err != nil && !strings.Contains(err.Error(), c.wantError)) {
			t.Errorf("%s: Verify = %v, want %q", c.name, err, c.wantError)
		}
	}
	// No secret, no request: an unsigned webhook would be accepted by nobody.
	err := alert.NewWebhook("w", rx.URL, func() string { return "" }, nil, nil).Send(context.Background(), sample())
	if err == nil || len(rx.Requests()) != 1 {
		t.Errorf("sent without a secret: %v", err)
	}
}

// TestErrorsHideTheURL: a webhook URL is a credential; no error shows it,
// whatever fails.
func TestErrorsHideTheURL(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved/s3cr3t":
			http.Redirect(w, r, "/elsewhere/s3cr3t", http.StatusFound)
		case "/elsewhere/s3cr3t":
			t.Error("a redirect was followed")
		default:
			http.Error(w, "no hook at "+r.URL.String(), http.StatusNotFound)
		}
	}))
	defer echo.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	cases := []struct {
		name, url, want string
		permanent       bool
	}{
		{"refused connection", closedURL + "/hooks/s3cr3t?sig=s3cr3t", "post to the channel's URL", false},
		{"404 echoing the URL", echo.URL + "/hooks/s3cr3t?sig=s3cr3t", "answered 404 Not Found: no hook at REDACTED", true},
		{"redirect", echo.URL + "/moved/s3cr3t", "redirects are not followed", true},
		{"not a URL", "https://exa mple.com/s3cr3t\x7f", "not a valid URL", true},
		{"no URL", "", "has no URL", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, ch := range []alert.Channel{
				alert.NewSlack("s", func() string { return c.url }, &http.Client{Timeout: 5 * time.Second}),
				alert.NewTeams("t", func() string { return c.url }, &http.Client{Timeout: 5 * time.Second}),
				alert.NewWebhook("w", func() string { return c.url }, func() string { return hookSecret }, &http.Client{Timeout: 5 * time.Second}, nil),
			} {
				err := ch.Send(context.Background(), sample())
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: error %v, want %q", ch.Type(), err, c.want)
					continue
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("%s: error shows the URL: %v", ch.Type(), err)
				}
				var p interface{ Permanent() bool }
				if got := errors.As(err, &p) && p.Permanent(); got != c.permanent {
					t.Errorf("%s: permanent %v, want %v (%v)", ch.Type(), got, c.permanent, err)
				}
			}
		})
	}
}

func TestEmail(t *testing.T) {
	mailer := func(rx *alerttest.SMTPServer, user, pass string, pool *x509.CertPool) *alert.Email {
		return alert.NewEmail(alert.EmailConfig{Name: "mail", Addr: rx.Addr, From: "fleetscore@mssp.example",
			To: []string{"SOC <soc@mssp.example>"}, Username: user, Password: func() string { return pass }, RootCAs: pool,
			Now: func() time.Time { return time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC) }})
	}
	t.Run("LOGIN only, as Exchange Online offers", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: smtpUser, Password: smtpPass, AuthMechanisms: "LOGIN XOAUTH2"})
		if err := mailer(rx, smtpUser, smtpPass, rx.CAPool).Send(context.Background(), sample()); err != nil {
			t.Fatal(err)
		}
		if ms := rx.Mails(); len(ms) != 1 || ms[0].User != smtpUser || ms[0].Subject != "[fleetscore] FIRING big-drop: Contoso" {
			t.Errorf("mails %+v", ms)
		}
	})
	t.Run("no authentication, UTF-8 and header injection", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
		m := sample()
		m.Title = "big-drop: Café Ünïcode GmbH\r\nBcc: attacker@example.com"
		if err := mailer(rx, "", "", rx.CAPool).Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got := rx.Mails()[0]
		if got.Subject != "[fleetscore] FIRING big-drop: Café Ünïcode GmbH  Bcc: attacker@example.com" || got.Header.Get("Bcc") != "" {
			t.Errorf("subject %q, bcc %q", got.Subject, got.Header.Get("Bcc"))
		}
		if !emailMessageID.MatchString(got.Header.Get("Message-Id")) || !strings.Contains(got.Body, "Drop:    10.00 points") {
			t.Errorf("mail %v\n%s", got.Header, got.Body)
		}
	})
	t.Run("text and HTML, escaped", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{ImplicitTLS: true})
		m := sample()
		m.Summary = "Fabrikam & Sons <script>alert(1)</script> lost points"
		m.Reason = "Require MFA regressed −10 pts"
		ch := alert.NewEmail(alert.EmailConfig{Name: "mail", Addr: rx.Addr, Security: mail.SecurityTLS, From: "fleetscore@mssp.example",
			To: []string{"soc@mssp.example"}, RootCAs: rx.CAPool})
		if err := ch.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got := rx.Mails()[0]
		if got.Multipart != "alternative" || !strings.Contains(got.Body, "Fabrikam & Sons <script>") {
			t.Errorf("multipart %q, text %q", got.Multipart, got.Body)
		}
		for _, want := range []string{"Fabrikam &amp; Sons &lt;script&gt;alert(1)&lt;/script&gt; lost points", "<b>Why:</b> Require MFA regressed −10 pts",
			"<th style=\"text-align:left;padding:2px 12px 2px 0;font-weight:600\">Drop</th><td style=\"padding:2px 0\">10.00 points</td>",
			`<a href="https://security.microsoft.com/securescore">Open in Microsoft Defender</a>`, ">FIRING</span> big-drop: Contoso</h2>"} {
			if !strings.Contains(got.HTML, want) {
				t.Errorf("HTML part lacks %q:\n%s", want, got.HTML)
			}
		}
		if strings.Contains(got.HTML, "<script>") {
			t.Errorf("HTML part not escaped:\n%s", got.HTML)
		}
		if got.Header.Get("X-Fleetscore-Event") != "firing" || got.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("headers %v", got.Header)
		}
	})
	t.Run("bad server address: permanent", func(t *testing.T) {
		err := alert.NewEmail(alert.EmailConfig{Name: "mail", Addr: "smtp.example.com", From: "fleetscore@mssp.example"}).Send(context.Background(), sample())
		var p interface{ Permanent() bool }
		if err == nil || !strings.Contains(err.Error(), "not host:port") || !errors.As(err, &p) || !p.Permanent() {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no STARTTLS: nothing sent", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{NoSTARTTLS: true})
		err := mailer(rx, smtpUser, smtpPass, rx.CAPool).Send(context.Background(), sample())
		if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") || len(rx.Mails()) != 0 {
			t.Errorf("error %v, %d mails", err, len(rx.Mails()))
		}
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
		err := mailer(rx, "", "", x509.NewCertPool()).Send(context.Background(), sample())
		if err == nil || !strings.Contains(err.Error(), "certificate") || len(rx.Mails()) != 0 {
			t.Errorf("error %v, %d mails", err, len(rx.Mails()))
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: smtpUser, Password: smtpPass})
		err := mailer(rx, smtpUser, "wrong-"+smtpPass, rx.CAPool).Send(context.Background(), sample())
		var p interface{ Permanent() bool }
		if err == nil || !strings.Contains(err.Error(), "refused the username and password") || !errors.As(err, &p) || !p.Permanent() {
			t.Errorf("error %v, want a permanent refusal", err)
		}
		if strings.Contains(err.Error(), smtpPass) {
			t.Errorf("error shows the password: %v", err)
		}
	})
	t.Run("try again later", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
		rx.FailNext(1)
		ch := mailer(rx, "", "", rx.CAPool)
		if err := ch.Send(context.Background(), sample()); err == nil || !strings.Contains(err.Error(), "451") {
			t.Errorf("first send: %v, want the 451", err)
		}
		if err := ch.Send(context.Background(), sample()); err != nil || len(rx.Mails()) != 1 {
			t.Errorf("second send: %v, %d mails", err, len(rx.Mails()))
		}
	})
}

var emailMessageID = regexp.MustCompile(`^<[a-z2-7]{32}@mssp\.example>$`)

// TestEmailMessageIDsAcrossDatabases: two instances, each over a fresh
// database, deliver their first alert (delivery 1 in both) by e-mail: the
// Message-IDs differ, so a mailbox that drops duplicates keeps both.
func TestEmailMessageIDsAcrossDatabases(t *testing.T) {
	rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: smtpUser, Password: smtpPass})
	rule := alert.Rule{Name: "below", When: alert.BelowTarget, Channels: []string{"ops-mail"}}
	for range 2 {
		w := newWorld(t, contoso)
		w.state = w.store // the alert state in the same fresh database
		w.history(contoso, -1, 0, 60, 100, nil)
		ch := alert.NewEmail(alert.EmailConfig{Name: "ops-mail", Addr: rx.Addr, From: "fleetscore@mssp.example",
			To: []string{"soc@mssp.example"}, Username: smtpUser, Password: func() string { return smtpPass }, RootCAs: rx.CAPool})
		e := &alert.Engine{Store: w.state, Source: w.store, Rules: []alert.Rule{rule}, Channels: []alert.Channel{ch}, Now: w.now}
		if _, err := e.Evaluate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ds, _ := w.state.Deliveries(context.Background(), 0); len(ds) != 1 || ds[0].ID != 1 || ds[0].Status != alert.StatusDelivered {
			t.Fatalf("deliveries %+v, want delivery 1 delivered", ds)
		}
	}
	ms := rx.Mails()
	if len(ms) != 2 {
		t.Fatalf("%d mails", len(ms))
	}
	a, b := ms[0].Header.Get("Message-Id"), ms[1].Header.Get("Message-Id")
	if a == b || !emailMessageID.MatchString(a) || !emailMessageID.MatchString(b) {
		t.Errorf("Message-IDs %q and %q: want two different <random@mssp.example>", a, b)
	}
}
