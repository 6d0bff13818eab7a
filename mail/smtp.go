package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Security modes of an SMTP server: how the connection is encrypted. There
// is no plaintext mode: fleetscore never sends mail or a password readable
// on the way.
const (
	// SecuritySTARTTLS connects in the clear and upgrades with STARTTLS
	// before anything else; a server that does not offer it gets nothing.
	// The default, except on port 465.
	SecuritySTARTTLS = "starttls"
	// SecurityTLS is implicit TLS: TLS from the first byte (port 465,
	// "SMTPS", RFC 8314). The default on port 465.
	SecurityTLS = "tls"
)

// Authentication mechanisms of SMTPConfig.Auth.
const (
	// AuthPassword (the default when a Username is set) is PLAIN, or LOGIN
	// when the server offers only that (Exchange Online does).
	AuthPassword = ""
	AuthNone     = "none"
	AuthPlain    = "plain"
	AuthLogin    = "login"
	// AuthXOAUTH2 logs in with an OAuth 2.0 access token from
	// SMTPConfig.Token, as Exchange Online wants once Basic SMTP AUTH is off:
	// an app's token for the scope https://outlook.office365.com/.default
	// (azidentity's client credential; the app needs the SMTP.SendAsApp
	// permission and an Exchange service principal with the mailbox's
	// rights), with Username the mailbox's address.
	AuthXOAUTH2 = "xoauth2"
)

// SMTPConfig is where and how an SMTP sender sends.
type SMTPConfig struct {
	Host string
	Port int // 587 (submission, STARTTLS) as a rule; 465 for implicit TLS
	// Security is SecuritySTARTTLS or SecurityTLS; "" picks SecurityTLS on
	// port 465 and SecuritySTARTTLS on any other.
	Security string
	Auth     string // one of the Auth constants; ignored (none) when Username is ""
	Username string
	Password func() string // a func, so the value is not copied into structs that get printed
	// Token returns an access token for AuthXOAUTH2.
	Token func(ctx context.Context) (string, error)
	From  string // the sender, an address ("Name <a@b>" or "a@b")
	// RootCAs are the CAs the server's certificate must chain to; nil means
	// the system's (which SSL_CERT_FILE and SSL_CERT_DIR can replace).
	RootCAs *x509.CertPool
	Hello   string           // the name sent in EHLO; default "localhost"
	Now     func() time.Time // the Date header; default time.Now
	Timeout time.Duration    // for the whole connection; default one minute
}

// SMTP sends mail through an SMTP server, always over TLS, with the
// server's certificate checked against its host name.
type SMTP struct {
	cfg  SMTPConfig
	from *mail.Address
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks the config and returns the sender.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: port %d is not a port", cfg.Port)
	}
	switch cfg.Security {
	case "":
		cfg.Security = SecuritySTARTTLS
		if cfg.Port == 465 {
			cfg.Security = SecurityTLS
		}
	case SecuritySTARTTLS, SecurityTLS:
	default:
		return nil, fmt.Errorf("smtp: security %q is neither %s nor %s", cfg.Security, SecuritySTARTTLS, SecurityTLS)
	}
	switch cfg.Auth = strings.ToLower(cfg.Auth); cfg.Auth {
	case AuthPassword, AuthNone, AuthPlain, AuthLogin:
	case AuthXOAUTH2:
		if cfg.Token == nil {
			return nil, errors.New("smtp: xoauth2 needs a token source")
		}
	default:
		return nil, fmt.Errorf("smtp: auth %q is not one of none, plain, login, xoauth2", cfg.Auth)
	}
	if cfg.Username == "" {
		cfg.Auth = AuthNone
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from %q is not an address", cfg.From)
	}
	if cfg.Hello == "" {
		cfg.Hello = "localhost"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.RootCAs == nil {
		// The system's pool, read now so that a broken SSL_CERT_FILE shows
		// at start, not at the first alert.
		if pool, err := x509.SystemCertPool(); err == nil {
			cfg.RootCAs = pool
		}
	}
	return &SMTP{cfg: cfg, from: from}, nil
}

// Addr is host:port.
func (s *SMTP) Addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

// Security is the mode in use, SecuritySTARTTLS or SecurityTLS.
func (s *SMTP) Security() string { return s.cfg.Security }

// String names the server, without any secret.
func (s *SMTP) String() string { return "smtp " + s.Addr() + " (" + s.cfg.Security + ")" }

// Send mails m to its recipients in one transaction. Errors carry no
// password or token; those no retry fixes (a refused login, a server
// without STARTTLS, a bad address) are Permanent.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	secrets := []string{}
	var token string
	if s.cfg.Auth == AuthXOAUTH2 {
		t, err := s.cfg.Token(ctx)
		if err != nil {
			return fmt.Errorf("smtp %s: get the XOAUTH2 token: %w", s.Addr(), err)
		}
		token = t
		secrets = append(secrets, t)
	} else if s.cfg.Password != nil {
		secrets = append(secrets, s.cfg.Password())
	}
	msg, err := s.compose(m)
	if err != nil {
		return &Error{Msg: "smtp " + s.Addr() + ": " + err.Error(), Perm: true}
	}
	c, err := s.client(token)
	if err != nil {
		return &Error{Msg: "smtp " + s.Addr() + ": " + err.Error(), Perm: true}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return s.wrap(err, secrets)
	}
	return nil
}

func (s *SMTP) client(token string) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithHELO(s.cfg.Hello),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.cfg.Host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	if s.cfg.Security == SecurityTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	pw := ""
	if s.cfg.Password != nil {
		pw = s.cfg.Password()
	}
	switch s.cfg.Auth {
	case AuthNone:
	case AuthPassword:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthOpportunistic),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(pw))
	case AuthPlain:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(pw))
	case AuthLogin:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthLogin), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(pw))
	case AuthXOAUTH2:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthXOAUTH2), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(token))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// oneLine keeps a value to one header line: CR and LF become spaces.
var oneLine = strings.NewReplacer("\r", " ", "\n", " ").Replace

// compose builds the mail: text, and HTML as its alternative when set;
// attachments after them.
func (s *SMTP) compose(m Message) (*gomail.Msg, error) {
	if len(m.To) == 0 {
		return nil, errors.New("no recipients")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.SetAddrHeader(gomail.HeaderFrom, s.from.String()); err != nil {
		return nil, fmt.Errorf("from %q is not an address", s.cfg.From)
	}
	for _, to := range m.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return nil, fmt.Errorf("to %q is not an address", to)
		}
	}
	if err := msg.To(m.To...); err != nil {
		return nil, fmt.Errorf("the recipients are not addresses: %v", err)
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetDateWithValue(s.cfg.Now())
	id, err := NewMessageID(s.from.Address)
	if err != nil {
		return nil, err
	}
	msg.SetMessageIDWithValue(strings.Trim(id, "<>"))
	for _, k := range sortedKeys(m.Headers) {
		msg.SetGenHeader(gomail.Header(textproto.CanonicalMIMEHeaderKey(oneLine(k))), oneLine(m.Headers[k]))
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if err := msg.AttachReader(oneLine(a.Name), bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(ct))); err != nil {
			return nil, fmt.Errorf("attach %s: %v", a.Name, err)
		}
	}
	return msg, nil
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewMessageID is a new Message-ID, "<random@domain>": 20 bytes from
// crypto/rand (160 bits, so two databases or instances never meet) and
// the domain of the from address.
func NewMessageID(from string) (string, error) {
	domain := "fleetscore.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	}
	if i := strings.LastIndex(from, "@"); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a Message-ID: %w", err)
	}
	return "<" + strings.ToLower(idEncoding.EncodeToString(b[:])) + "@" + domain + ">", nil
}

// wrap turns go-mail's error into one without secrets, saying what to fix.
func (s *SMTP) wrap(err error, secrets []string) error {
	msg := err.Error()
	perm := false
	var te *textproto.Error
	var se *gomail.SendError
	switch {
	case strings.Contains(msg, "does not support STARTTLS"):
		msg, perm = "the server does not offer STARTTLS; fleetscore never sends mail or a password unencrypted (set security: tls if it expects TLS from the first byte, as on port 465)", true
	case strings.Contains(msg, "does not support SMTP AUTH type"):
		msg, perm = msg+" (set auth: to a mechanism it offers)", true
	case strings.Contains(msg, "does not support SMTP AUTH"):
		msg, perm = "the server offers no AUTH (after TLS): remove username, or use the server's submission port", true
	case errors.As(err, &te) && te.Code == 535, strings.Contains(msg, "SMTP AUTH failed: 535"):
		what := "the username and password"
		if s.cfg.Auth == AuthXOAUTH2 {
			what = "the OAuth token (does the app have SMTP.SendAsApp and the mailbox's rights?)"
		}
		msg, perm = "the server refused "+what+": "+msg, true
	case errors.As(err, &se):
		perm = !se.IsTemp() && se.Reason != gomail.ErrConnCheck && se.ErrorCode() >= 500
	}
	return &Error{Msg: "smtp " + s.Addr() + ": " + redact(msg, secrets), Perm: perm}
}

// redact removes each secret, and its base64, from s.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) < 4 {
			continue
		}
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			s = strings.ReplaceAll(s, form, "REDACTED")
		}
	}
	return s
}

// Error is a failed Send. Its text has no secret; Permanent says no
// retry with the same settings helps.
type Error struct {
	Msg  string
	Perm bool
}

func (e *Error) Error() string { return e.Msg }

// Permanent is true when trying again does not help.
func (e *Error) Permanent() bool { return e.Perm }
