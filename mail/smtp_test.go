package mail_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/mail"
)

const (
	user     = "fleetscore@mssp.example"
	password = "smtp-Pa55word-never-shown"
	token    = "eyJ0eXAiOiJKV1QiLCJhbGciOi.xoauth2-token-never-shown"
)

// pdf stands for a report's PDF: every byte value, so any mangling shows.
func pdf() []byte {
	b := []byte("%PDF-1.7\n")
	for i := range 4096 {
		b = append(b, byte(i*7))
	}
	return b
}

func message() mail.Message {
	return mail.Message{
		To:      []string{"SOC <soc@mssp.example>", "noc@mssp.example"},
		Subject: "Contoso: Secure Score for November",
		Text:    "Secure Score 61.5 %\nUp 3.2 points. Café ✓\n",
		HTML:    "<p>Secure Score <b>61.5 %</b></p><p>Up 3.2 points. Café ✓</p>",
		Attachments: []mail.Attachment{
			{Name: "Contoso 2026-11.pdf", ContentType: "application/pdf", Data: pdf()},
		},
		Headers: map[string]string{"Auto-Submitted": "auto-generated"},
	}
}

func sender(t *testing.T, rx *alerttest.SMTPServer, cfg mail.SMTPConfig) *mail.SMTP {
	t.Helper()
	host, port, _ := net.SplitHostPort(rx.Addr)
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	if cfg.From == "" {
		cfg.From = "Fleetscore <reports@mssp.example>"
	}
	if cfg.RootCAs == nil {
		cfg.RootCAs = rx.CAPool
	}
	cfg.Now = func() time.Time { return time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC) }
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var messageID = regexp.MustCompile(`^<[a-z2-7]{32}@mssp\.example>$`)

// TestSMTPDelivers sends over implicit TLS and over STARTTLS with each
// login: the mail is multipart, text beside HTML, the PDF arrives intact.
func TestSMTPDelivers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		implicit bool
		security string
		mechs    string
		auth     string
	}{
		{name: "implicit TLS, PLAIN", implicit: true, security: mail.SecurityTLS, mechs: "PLAIN LOGIN"},
		{name: "STARTTLS, PLAIN", mechs: "PLAIN LOGIN"},
		{name: "STARTTLS, LOGIN only as Exchange offers", mechs: "LOGIN XOAUTH2"},
		{name: "STARTTLS, XOAUTH2", mechs: "LOGIN XOAUTH2", auth: mail.AuthXOAUTH2},
		{name: "implicit TLS, XOAUTH2", implicit: true, security: mail.SecurityTLS, mechs: "XOAUTH2", auth: mail.AuthXOAUTH2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := password
			if tc.auth == mail.AuthXOAUTH2 {
				secret = token
			}
			rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: user, Password: secret, AuthMechanisms: tc.mechs, ImplicitTLS: tc.implicit})
			s := sender(t, rx, mail.SMTPConfig{Security: tc.security, Auth: tc.auth, Username: user,
				Password: func() string { return password },
				Token:    func(context.Context) (string, error) { return token, nil }})
			if err := s.Send(context.Background(), message()); err != nil {
				t.Fatal(err)
			}
			ms := rx.Mails()
			if len(ms) != 1 {
				t.Fatalf("%d mails", len(ms))
			}
			m := ms[0]
			if m.User != user || m.From != "reports@mssp.example" || strings.Join(m.To, ",") != "soc@mssp.example,noc@mssp.example" {
				t.Errorf("envelope: user %q from %q to %v", m.User, m.From, m.To)
			}
			assertMultipart(t, m.Raw)
			if got := m.Header.Get("Message-Id"); !messageID.MatchString(got) {
				t.Errorf("Message-ID %q is not <random@from-domain>", got)
			}
			if m.Header.Get("Auto-Submitted") != "auto-generated" || m.Header.Get("Date") != "Tue, 01 Dec 2026 07:00:00 +0000" {
				t.Errorf("headers %v", m.Header)
			}
		})
	}
}

// assertMultipart parses the raw mail with net/mail and mime/multipart:
// multipart/mixed of a multipart/alternative (text/plain, then text/html)
// and the PDF, byte for byte.
func assertMultipart(t *testing.T, raw []byte) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); subj != "Contoso: Secure Score for November" {
		t.Errorf("subject %q", subj)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("top-level %q %v", mt, err)
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	var text, html string
	var att []byte
	var attName string
	for {
		p, err := parts.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, pp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch {
		case pt == "multipart/alternative":
			alt := multipart.NewReader(p, pp["boundary"])
			var order []string
			for {
				ap, err := alt.NextPart() // NextPart decodes quoted-printable
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				at, ap2, _ := mime.ParseMediaType(ap.Header.Get("Content-Type"))
				b, _ := io.ReadAll(ap)
				if ap2["charset"] != "UTF-8" && ap2["charset"] != "utf-8" {
					t.Errorf("%s charset %q", at, ap2["charset"])
				}
				order = append(order, at)
				switch at {
				case "text/plain":
					text = strings.ReplaceAll(string(b), "\r\n", "\n")
				case "text/html":
					html = strings.ReplaceAll(string(b), "\r\n", "\n")
				}
			}
			if strings.Join(order, ",") != "text/plain,text/html" {
				t.Errorf("alternative parts %v, want text/plain then text/html (the last is preferred)", order)
			}
		case pt == "application/pdf":
			attName = p.FileName()
			b, _ := io.ReadAll(p)
			if !strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				t.Errorf("attachment encoding %q", p.Header.Get("Content-Transfer-Encoding"))
			}
			att, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("unexpected part %q", pt)
		}
	}
	want := message()
	if text != want.Text {
		t.Errorf("text part %q, want %q", text, want.Text)
	}
	if html != want.HTML {
		t.Errorf("html part %q, want %q", html, want.HTML)
	}
	if attName != "Contoso 2026-11.pdf" || !bytes.Equal(att, pdf()) {
		t.Errorf("attachment %q, %d bytes, intact %v", attName, len(att), bytes.Equal(att, pdf()))
	}
}

// TestSMTPMessageIDs: two senders, as two instances over two fresh
// databases would build, never give the same Message-ID.
func TestSMTPMessageIDs(t *testing.T) {
	rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
	a, b := sender(t, rx, mail.SMTPConfig{}), sender(t, rx, mail.SMTPConfig{})
	for _, s := range []*mail.SMTP{a, b, a, b} {
		if err := s.Send(context.Background(), mail.Message{To: []string{"soc@mssp.example"}, Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, m := range rx.Mails() {
		id := m.Header.Get("Message-Id")
		if !messageID.MatchString(id) || seen[id] {
			t.Errorf("Message-ID %q: malformed or repeated (%v)", id, seen)
		}
		seen[id] = true
		if m.Multipart != "" || strings.TrimSpace(m.Body) != "t" {
			t.Errorf("a text-only mail is %q, body %q", m.Multipart, m.Body)
		}
	}
}

func TestSMTPSecurityDefaults(t *testing.T) {
	for port, want := range map[int]string{465: mail.SecurityTLS, 587: mail.SecuritySTARTTLS, 25: mail.SecuritySTARTTLS} {
		s, err := mail.NewSMTP(mail.SMTPConfig{Host: "smtp.example.com", Port: port, From: "a@example.com"})
		if err != nil || s.Security() != want {
			t.Errorf("port %d: %v %v, want %s", port, s, err, want)
		}
	}
	for _, cfg := range []mail.SMTPConfig{
		{Host: "smtp.example.com", Port: 587, From: "a@example.com", Security: "none"},
		{Host: "smtp.example.com", Port: 587, From: "a@example.com", Auth: "cram-md5"},
		{Host: "smtp.example.com", Port: 587, From: "a@example.com", Auth: mail.AuthXOAUTH2, Username: "a@example.com"},
		{Host: "smtp.example.com", Port: 587, From: "not an address"},
		{Host: "smtp.example.com", Port: 0, From: "a@example.com"},
	} {
		if _, err := mail.NewSMTP(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// TestSMTPRefuses: nothing goes out without TLS or to a server whose
// certificate is for another name or from another CA; no error shows a
// password or token.
func TestSMTPRefuses(t *testing.T) {
	send := func(s *mail.SMTP) error {
		return s.Send(context.Background(), mail.Message{To: []string{"soc@mssp.example"}, Subject: "s", Text: "t"})
	}
	check := func(t *testing.T, err error, want string, permanent bool, rx *alerttest.SMTPServer) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q", err, want)
		}
		var p interface{ Permanent() bool }
		if got := errors.As(err, &p) && p.Permanent(); got != permanent {
			t.Errorf("permanent %v, want %v: %v", got, permanent, err)
		}
		for _, s := range []string{password, token, base64.StdEncoding.EncodeToString([]byte(password))} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error shows a secret: %v", err)
			}
		}
		if n := len(rx.Mails()); n != 0 {
			t.Errorf("%d mails taken", n)
		}
	}
	t.Run("no STARTTLS offered", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{NoSTARTTLS: true})
		check(t, send(sender(t, rx, mail.SMTPConfig{Username: user, Password: func() string { return password }})), "does not offer STARTTLS", true, rx)
	})
	t.Run("STARTTLS to an implicit TLS server", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{ImplicitTLS: true})
		// Each side waits for the other to speak first: the sender's
		// deadline ends it, and nothing is sent in the clear.
		s := sender(t, rx, mail.SMTPConfig{Security: mail.SecuritySTARTTLS, Timeout: time.Second})
		check(t, send(s), "timeout", false, rx)
	})
	t.Run("implicit TLS to a STARTTLS server", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
		check(t, send(sender(t, rx, mail.SMTPConfig{Security: mail.SecurityTLS})), "tls", false, rx)
	})
	t.Run("certificate for another name", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{CertNames: []string{"mail.mssp.example"}, ImplicitTLS: true})
		check(t, send(sender(t, rx, mail.SMTPConfig{Security: mail.SecurityTLS})), "127.0.0.1", false, rx)
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
		check(t, send(sender(t, rx, mail.SMTPConfig{RootCAs: x509.NewCertPool()})), "certificate", false, rx)
	})
	t.Run("wrong password", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: user, Password: "the-right-one"})
		check(t, send(sender(t, rx, mail.SMTPConfig{Username: user, Password: func() string { return password }})),
			"refused the username and password", true, rx)
	})
	t.Run("wrong token", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: user, Password: "the-right-one", AuthMechanisms: "XOAUTH2", ImplicitTLS: true})
		check(t, send(sender(t, rx, mail.SMTPConfig{Security: mail.SecurityTLS, Username: user, Auth: mail.AuthXOAUTH2,
			Token: func(context.Context) (string, error) { return token, nil }})), "refused the OAuth token", true, rx)
	})
	t.Run("mechanism not offered", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{Username: user, Password: password, AuthMechanisms: "PLAIN"})
		check(t, send(sender(t, rx, mail.SMTPConfig{Username: user, Auth: mail.AuthLogin, Password: func() string { return password }})),
			"LOGIN", true, rx)
	})
	t.Run("try again later", func(t *testing.T) {
		rx := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
		rx.FailNext(1)
		s := sender(t, rx, mail.SMTPConfig{})
		check(t, send(s), "451", false, rx)
		if err := send(s); err != nil || len(rx.Mails()) != 1 {
			t.Errorf("second send: %v, %d mails", err, len(rx.Mails()))
		}
	})
}
