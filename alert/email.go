package alert

import (
	"context"
	"crypto/x509"
	"fmt"
	"html/template"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore/mail"
)

// EmailConfig is where and how an Email channel sends.
type EmailConfig struct {
	Name     string
	Addr     string   // the SMTP server, host:port (587, the submission port, as a rule; 465 for implicit TLS)
	From     string   // the sender, an address
	To       []string // the recipients, addresses
	Username string   // "" sends without authenticating
	Password func() string
	// Security is mail.SecuritySTARTTLS or mail.SecurityTLS; "" picks TLS
	// on port 465 and STARTTLS on any other.
	Security string
	// Auth is one of mail's Auth constants; "" is PLAIN, or LOGIN when the
	// server offers only that. mail.AuthXOAUTH2 takes its token from Token.
	Auth  string
	Token func(ctx context.Context) (string, error)
	// RootCAs are the CAs the server's certificate must chain to; nil means
	// the system's.
	RootCAs *x509.CertPool
	Hello   string           // the name sent in EHLO; default "localhost"
	Now     func() time.Time // the Date header; default time.Now
}

// Email sends alerts as e-mail, text with an HTML alternative, through a
// mail.Sender: an SMTP server (NewEmail, always over TLS: a server that
// does not offer it gets nothing, not even the password) or Microsoft
// Graph's sendMail (NewMailChannel with a graph_mail sender).
type Email struct {
	name, typ, via string
	to             []string
	sender         mail.Sender
	err            error // why the channel cannot send, from its config
}

var _ Channel = (*Email)(nil)

// NewEmail returns an e-mail channel that sends through an SMTP server. A
// config the sender refuses makes every Send fail, permanently, saying why.
func NewEmail(cfg EmailConfig) *Email {
	e := &Email{name: cfg.Name, typ: "email", via: cfg.Addr, to: cfg.To}
	host, port, err := net.SplitHostPort(cfg.Addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		e.err = permanentError{fmt.Errorf("smtp %q is not host:port", cfg.Addr)}
		return e
	}
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: n, Security: cfg.Security, Auth: cfg.Auth,
		Username: cfg.Username, Password: cfg.Password, Token: cfg.Token, From: cfg.From,
		RootCAs: cfg.RootCAs, Hello: cfg.Hello, Now: cfg.Now})
	if err != nil {
		e.err = permanentError{err}
		return e
	}
	e.sender = s
	return e
}

// NewMailChannel returns an e-mail channel of type typ (graph_mail) that
// sends through s; via names where, for String.
func NewMailChannel(name, typ, via string, to []string, s mail.Sender) *Email {
	return &Email{name: name, typ: typ, via: via, to: to, sender: s}
}

// Name is the channel's name in the config.
func (e *Email) Name() string { return e.name }

// Type is "email", or the type NewMailChannel was given.
func (e *Email) Type() string { return e.typ }

// String names the channel and its server, without the password.
func (e *Email) String() string {
	return fmt.Sprintf("%s channel %s via %s", e.typ, e.name, e.via)
}

// Send mails the message to every recipient in one transaction. Each mail
// has a new random Message-ID.
func (e *Email) Send(ctx context.Context, m Message) error {
	if e.err != nil {
		return e.err
	}
	return e.sender.Send(ctx, mail.Message{
		To:      e.to,
		Subject: subject(m),
		Text:    emailText(m),
		HTML:    emailHTML(m),
		Headers: map[string]string{"Auto-Submitted": "auto-generated", "X-Fleetscore-Event": m.Event},
	})
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

// emailHTMLTemplate is the HTML part: the same as the text, as a small
// page with inline styles (mail clients drop style sheets). html/template
// escapes every value, and drops a link that is not http(s).
var emailHTMLTemplate = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#222">
<h2 style="font-size:18px;margin:0 0 8px"><span style="color:{{.Color}}">{{.Label}}</span> {{.Title}}</h2>
<p>{{.Summary}}</p>
{{- if .Reason}}
<p><b>Why:</b> {{.Reason}}</p>
{{- end}}
{{- if .Facts}}
<table style="border-collapse:collapse">
{{- range .Facts}}
<tr><th style="text-align:left;padding:2px 12px 2px 0;font-weight:600">{{.Name}}</th><td style="padding:2px 0">{{.Value}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- if .Link}}
<p><a href="{{.Link}}">{{.LinkText}}</a></p>
{{- end}}
<p style="color:#666;font-size:12px;border-top:1px solid #ddd;padding-top:6px">{{.Footer}}</p>
</body></html>
`))

func emailHTML(m Message) string {
	color := "#a4262c" // firing
	switch m.Event {
	case Resolved:
		color = "#107c10"
	case Test, Digest:
		color = "#0078d4"
	}
	var b strings.Builder
	err := emailHTMLTemplate.Execute(&b, map[string]any{"Label": m.EventLabel(), "Color": color, "Title": m.Title,
		"Summary": m.Summary, "Reason": m.Reason, "Facts": m.Facts, "Link": m.Link, "LinkText": linkText, "Footer": footer(m)})
	if err != nil {
		return "" // the text part alone still goes
	}
	return b.String()
}
