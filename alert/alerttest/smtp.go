package alerttest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPOptions shape an SMTPServer.
type SMTPOptions struct {
	// Username and Password, when set, are required (AUTH PLAIN, LOGIN or
	// XOAUTH2 with Password as the token, offered only over TLS).
	Username, Password string
	// AuthMechanisms offered; default "PLAIN LOGIN".
	AuthMechanisms string
	// NoSTARTTLS offers no STARTTLS, as a misconfigured server would.
	NoSTARTTLS bool
	// ImplicitTLS speaks TLS from the first byte, as on port 465 (and
	// offers no STARTTLS).
	ImplicitTLS bool
	// CertNames are the DNS names of the server's certificate; default
	// localhost and 127.0.0.1 (the address it listens on).
	CertNames []string
}

// Part is one attachment of a Mail.
type Part struct {
	Name        string // the file name
	ContentType string // without parameters
	Data        []byte // decoded
}

// Mail is one message an SMTPServer took.
type Mail struct {
	From    string
	To      []string
	User    string // who authenticated; "" when nobody did
	Header  mail.Header
	Subject string // decoded
	// Body is the text/plain part (of a multipart mail, its first), decoded
	// from quoted-printable or base64, with LF line ends; HTML the
	// text/html part's.
	Body        string
	HTML        string
	Attachments []Part
	// Multipart is the top-level multipart type ("mixed", "alternative"),
	// "" for a single part.
	Multipart string
	Raw       []byte
}

// SMTPServer is a small SMTP receiver: EHLO, STARTTLS (or implicit TLS),
// AUTH, MAIL, RCPT, DATA, RSET, NOOP, QUIT. It accepts mail only over TLS.
type SMTPServer struct {
	Addr   string // host:port
	CAFile string // the PEM file of the CA that signed its certificate
	CAPool *x509.CertPool

	opts SMTPOptions
	tls  *tls.Config
	ln   net.Listener

	mu    sync.Mutex
	mails []Mail
	fail  int // the next fail DATA commands get 451
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewSMTPServer starts a server on 127.0.0.1, stopped when the test ends.
func NewSMTPServer(tb testing.TB, opts SMTPOptions) *SMTPServer {
	tb.Helper()
	if opts.AuthMechanisms == "" {
		opts.AuthMechanisms = "PLAIN LOGIN"
	}
	caPEM, cert := testCertificates(tb, opts.CertNames)
	caFile := filepath.Join(tb.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, tc)
		opts.NoSTARTTLS = true
	}
	s := &SMTPServer{Addr: ln.Addr().String(), CAFile: caFile, CAPool: pool, opts: opts, ln: ln, conns: map[net.Conn]bool{}, tls: tc}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// FailNext answers the next n DATA commands with 451 (try again later).
func (s *SMTPServer) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// Mails returns the mail taken, in order.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

func (s *SMTPServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// session serves one connection.
func (s *SMTPServer) session(c net.Conn) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	tp := textproto.NewConn(c)
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			return
		}
	}
	var (
		secure = s.opts.ImplicitTLS
		user   string
		from   string
		to     []string
	)
	reply := func(format string, args ...any) bool { return tp.PrintfLine(format, args...) == nil }
	reply("220 localhost fleetscore test ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ext := []string{"localhost"}
			if !secure && !s.opts.NoSTARTTLS {
				ext = append(ext, "STARTTLS")
			}
			if secure && s.opts.Username != "" {
				ext = append(ext, "AUTH "+s.opts.AuthMechanisms)
			}
			ext = append(ext, "8BITMIME")
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				reply("250%s%s", sep, e)
			}
		case "HELO":
			reply("250 localhost")
		case "STARTTLS":
			if secure || s.opts.NoSTARTTLS {
				reply("502 5.5.1 not available")
				continue
			}
			reply("220 2.0.0 ready to start TLS")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, tp, secure = tc, textproto.NewConn(tc), true
			from, to, user = "", nil, ""
		case "AUTH":
			if !secure || s.opts.Username == "" {
				reply("503 5.5.1 AUTH not available")
				continue
			}
			u, p, ok := s.auth(tp, arg)
			if ok && u == s.opts.Username && p == s.opts.Password {
				user = u
				reply("235 2.7.0 authenticated")
			} else {
				reply("535 5.7.8 authentication credentials invalid")
			}
		case "MAIL":
			switch {
			case !secure:
				reply("530 5.7.0 must issue a STARTTLS command first")
			case s.opts.Username != "" && user == "":
				reply("530 5.7.0 authentication required")
			default:
				from, to = angle(arg), nil
				reply("250 2.1.0 ok")
			}
		case "RCPT":
			if from == "" {
				reply("503 5.5.1 MAIL first")
				continue
			}
			to = append(to, angle(arg))
			reply("250 2.1.5 ok")
		case "DATA":
			if len(to) == 0 {
				reply("503 5.5.1 RCPT first")
				continue
			}
			s.mu.Lock()
			failing := s.fail > 0
			if failing {
				s.fail--
			}
			s.mu.Unlock()
			if failing {
				reply("451 4.3.0 try again later")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			raw, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m := Mail{From: from, To: to, User: user, Raw: raw}
			if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
				m.Header = msg.Header
				m.Subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
				if mt, _, err := mime.ParseMediaType(msg.Header.Get("Content-Type")); err == nil && strings.HasPrefix(mt, "multipart/") {
					m.Multipart = strings.TrimPrefix(mt, "multipart/")
				}
				m.readPart(textproto.MIMEHeader(msg.Header), msg.Body)
			}
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			from, to = "", nil
			reply("250 2.0.0 queued")
		case "RSET":
			from, to = "", nil
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not recognised")
		}
	}
}

// readPart reads one MIME part into m: a multipart's parts in turn, the
// first text/plain as Body, the first text/html as HTML, and anything
// with a file name (or another type) as an attachment.
func (m *Mail) readPart(h textproto.MIMEHeader, r io.Reader) {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			m.readPart(p.Header, p)
		}
	}
	var body io.Reader = r
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(r)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{r})
	}
	b, _ := io.ReadAll(body)
	_, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	switch {
	case name == "" && mt == "text/plain" && m.Body == "":
		m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	case name == "" && mt == "text/html" && m.HTML == "":
		m.HTML = strings.ReplaceAll(string(b), "\r\n", "\n")
	default:
		if dec, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
			name = dec
		}
		m.Attachments = append(m.Attachments, Part{Name: name, ContentType: mt, Data: b})
	}
}

// newlineStripper drops CR and LF, which base64 bodies break lines with.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// auth runs AUTH PLAIN or LOGIN and returns the username and password.
func (s *SMTPServer) auth(tp *textproto.Conn, arg string) (user, pass string, ok bool) {
	mech, initial, _ := strings.Cut(arg, " ")
	if !strings.Contains(" "+s.opts.AuthMechanisms+" ", " "+strings.ToUpper(mech)+" ") {
		return "", "", false
	}
	read := func(prompt string) (string, bool) {
		if err := tp.PrintfLine("334 %s", base64.StdEncoding.EncodeToString([]byte(prompt))); err != nil {
			return "", false
		}
		line, err := tp.ReadLine()
		if err != nil {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(line)
		return string(b), err == nil
	}
	switch strings.ToUpper(mech) {
	case "PLAIN":
		resp := ""
		if initial != "" {
			b, err := base64.StdEncoding.DecodeString(initial)
			if err != nil {
				return "", "", false
			}
			resp = string(b)
		} else if resp, ok = read(""); !ok {
			return "", "", false
		}
		parts := strings.Split(resp, "\x00")
		if len(parts) != 3 {
			return "", "", false
		}
		return parts[1], parts[2], true
	case "XOAUTH2":
		// "user=NAME^Aauth=Bearer TOKEN^A^A": the token stands for the password.
		b, err := base64.StdEncoding.DecodeString(initial)
		if err != nil || initial == "" {
			return "", "", false
		}
		for _, f := range strings.Split(string(b), "\x01") {
			if v, ok := strings.CutPrefix(f, "user="); ok {
				user = v
			} else if v, ok := strings.CutPrefix(f, "auth=Bearer "); ok {
				pass = v
			}
		}
		return user, pass, user != "" && pass != ""
	case "LOGIN":
		u, ok1 := read("Username:")
		p, ok2 := read("Password:")
		return u, p, ok1 && ok2
	}
	return "", "", false
}

// angle returns the address in "FROM:<a@b> BODY=8BITMIME".
func angle(arg string) string {
	if i := strings.Index(arg, "<"); i >= 0 {
		if j := strings.Index(arg[i:], ">"); j > 0 {
			return arg[i+1 : i+j]
		}
	}
	return arg
}

// testCertificates makes a CA and a server certificate it signed, for
// names, or 127.0.0.1 and localhost when there are none.
func testCertificates(tb testing.TB, names []string) (caPEM []byte, server tls.Certificate) {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fleetscore test SMTP CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(names) > 0 {
		leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses = names[0], names, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
