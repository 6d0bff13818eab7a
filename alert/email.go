package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// EmailConfig is where and how an Email channel sends.
type EmailConfig struct {
	Name     string
	Addr     string   // the SMTP server, host:port (587, the submission port, as a rule)
	From     string   // the sender, an address
	To       []string // the recipients, addresses
	Username string   // "" sends without authenticating
	Password func() string
	// RootCAs are the CAs the server's certificate must chain to; nil means
	// the system's.
	RootCAs *x509.CertPool
	Hello   string           // the name sent in EHLO; default "localhost"
	Now     func() time.Time // the Date header; default time.Now
}

// Email sends plain-text mail through an SMTP server, always over STARTTLS:
// a server that does not offer it gets nothing, not even the password.
type Email struct {
	cfg EmailConfig
}

var _ Channel = (*Email)(nil)

// NewEmail returns an e-mail channel.
func NewEmail(cfg EmailConfig) *Email {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hello == "" {
		cfg.Hello = "localhost"
	}
	return &Email{cfg: cfg}
}

// Name is the channel's name in the config.
func (e *Email) Name() string { return e.cfg.Name }

// Type is "email".
func (e *Email) Type() string { return "email" }

// String names the channel and its server, without the password.
func (e *Email) String() string {
	return fmt.Sprintf("email channel %s via %s", e.cfg.Name, e.cfg.Addr)
}

// Send mails the message to every recipient in one transaction.
func (e *Email) Send(ctx context.Context, m Message) error {
	if err := e.send(ctx, m); err != nil {
		return fmt.Errorf("smtp %s: %w", e.cfg.Addr, err)
	}
	return nil
}

func (e *Email) send(ctx context.Context, m Message) error {
	host, _, err := net.SplitHostPort(e.cfg.Addr)
	if err != nil {
		return permanentError{fmt.Errorf("%q is not host:port", e.cfg.Addr)}
	}
	from, err := mail.ParseAddress(e.cfg.From)
	if err != nil {
		return permanentError{fmt.Errorf("from %q is not an address", e.cfg.From)}
	}
	var to []*mail.Address
	for _, s := range e.cfg.To {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return permanentError{fmt.Errorf("to %q is not an address", s)}
		}
		to = append(to, a)
	}
	if len(to) == 0 {
		return permanentError{errors.New("no recipients")}
	}
	msg, err := e.compose(m, from, to)
	if err != nil {
		return permanentError{err}
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.cfg.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(e.cfg.Hello); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return permanentError{errors.New("the server does not offer STARTTLS; fleetscore never sends mail or a password unencrypted")}
	}
	if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: e.cfg.RootCAs, MinVersion: tls.VersionTLS12}); err != nil {
		return fmt.Errorf("STARTTLS: %w", err)
	}
	if e.cfg.Username != "" {
		pw := ""
		if e.cfg.Password != nil {
			pw = e.cfg.Password()
		}
		if err := c.Auth(e.auth(c, host, pw)); err != nil {
			return authError(err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return err
	}
	for _, a := range to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("recipient %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// auth picks PLAIN, or LOGIN when the server offers only that (Exchange
// Online does).
func (e *Email) auth(c *smtp.Client, host, pw string) smtp.Auth {
	if _, mechs := c.Extension("AUTH"); !strings.Contains(" "+strings.ToUpper(mechs)+" ", " PLAIN ") &&
		strings.Contains(" "+strings.ToUpper(mechs)+" ", " LOGIN ") {
		return &loginAuth{user: e.cfg.Username, pass: pw}
	}
	return smtp.PlainAuth("", e.cfg.Username, pw, host)
}

// authError makes a refused login permanent: trying again with the same
// password does not help, and may lock the account.
func authError(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code == 535 {
		return permanentError{fmt.Errorf("the server refused the username and password: %w", err)}
	}
	return fmt.Errorf("authenticate: %w", err)
}

// loginAuth is the LOGIN mechanism, which net/smtp lacks.
type loginAuth struct{ user, pass string }

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS {
		return "", nil, errors.New("unencrypted connection")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(fromServer))) {
	case "username:":
		return []byte(a.user), nil
	case "password:":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", fromServer)
}

// compose writes the mail: headers, and the message as quoted-printable
// UTF-8 text. The Message-ID is the delivery's, so a retry that reaches
// the mailbox twice is one mail to clients that de-duplicate.
func (e *Email) compose(m Message, from *mail.Address, to []*mail.Address) ([]byte, error) {
	domain := "fleetscore.invalid"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	var rcpt []string
	for _, a := range to {
		rcpt = append(rcpt, a.String())
	}
	var b bytes.Buffer
	// No value may start a header of its own: CR and LF become spaces,
	// before a value is encoded and after.
	oneLine := strings.NewReplacer("\r", " ", "\n", " ").Replace
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, oneLine(v)) }
	header("From", from.String())
	header("To", strings.Join(rcpt, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(subject(m))))
	header("Date", e.cfg.Now().Format(time.RFC1123Z))
	if m.ID != 0 {
		header("Message-ID", fmt.Sprintf("<fleetscore.delivery.%d@%s>", m.ID, domain))
	} else {
		header("Message-ID", fmt.Sprintf("<fleetscore.test.%d@%s>", e.cfg.Now().UnixNano(), domain))
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	header("X-Fleetscore-Event", m.Event)
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(emailText(m), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// subject is "[fleetscore] FIRING big-drop: Contoso".
func subject(m Message) string { return "[fleetscore] " + m.EventLabel() + " " + m.Title }

// emailText is the body: the summary, the facts aligned, the link and where
// the message comes from.
func emailText(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\n%s\n\n", m.EventLabel(), m.Title, m.Summary)
	if m.Reason != "" {
		fmt.Fprintf(&b, "Why: %s\n\n", m.Reason)
	}
	width := 0
	for _, f := range m.Facts {
		width = max(width, len([]rune(f.Name)))
	}
	for _, f := range m.Facts {
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, f.Name+":", f.Value)
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "\n%s: %s\n", linkText, m.Link)
	}
	fmt.Fprintf(&b, "\n-- \n%s\n", footer(m))
	return b.String()
}
