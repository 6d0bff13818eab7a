package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore/config"
)

// cmdHealthcheck asks the server this config describes whether it is up:
// GET /healthz on its listen address (loopback when it listens on every
// interface). It exits 0 when the answer is 200, else 1 with one line
// saying why: the container's HEALTHCHECK, which has no curl.
func cmdHealthcheck(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "healthcheck", "[--config PATH] [--listen ADDR] [--timeout DURATION]")
	cfgPath := configFlag(fs, e)
	listen := fs.String("listen", "", "the address serve listens on (default: $FLEETSCORE_LISTEN, the config's listen, 127.0.0.1:8080)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if done, err := parse(fs, args); done {
		return err
	}
	unhealthy := func(format string, a ...any) error {
		fmt.Fprintf(e.stderr, "unhealthy: "+format+"\n", a...)
		return exitError{1}
	}
	// Secrets are not needed (nothing is signed in to): Require is not called.
	cfg, err := config.Load(*cfgPath, e.getenv)
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		return unhealthy("%s", first)
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	url, tc, err := healthTarget(cfg)
	if err != nil {
		return unhealthy("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return unhealthy("%v", err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap() // without "Get URL:", which is said below
		}
		return unhealthy("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return unhealthy("GET %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(e.stdout, "healthy:", url)
	return nil
}

// healthTarget is the URL of the health endpoint of the server cfg
// describes, and the TLS config that trusts exactly its certificate.
func healthTarget(cfg *config.Config) (string, *tls.Config, error) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", nil, fmt.Errorf("listen %q: %v (write host:port, e.g. 127.0.0.1:8080)", cfg.Listen, err)
	}
	if port == "0" {
		return "", nil, fmt.Errorf("listen %q has port 0, so the healthcheck cannot know the port serve got; give it a fixed port", cfg.Listen)
	}
	// Every interface includes loopback, the one a healthcheck reaches.
	switch ip := net.ParseIP(host); {
	case host == "" || (ip != nil && ip.Equal(net.IPv4zero)):
		host = "127.0.0.1"
	case ip != nil && ip.Equal(net.IPv6unspecified):
		host = "::1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	if cfg.Auth == nil || cfg.Auth.TLSCert == "" {
		return url, nil, nil
	}
	// The certificate is for the server's public name, not for loopback:
	// instead of the name, the leaf must be the configured certificate
	// itself. Nothing secret is sent either way.
	want, err := leafOf(cfg.Auth.TLSCert)
	if err != nil {
		return "", nil, err
	}
	tc := &tls.Config{
		InsecureSkipVerify: true, // replaced by VerifyConnection's pin
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want.Raw) {
				return fmt.Errorf("the server's certificate is not auth.tls_cert %s", cfg.Auth.TLSCert)
			}
			return nil
		},
	}
	return "https" + strings.TrimPrefix(url, "http"), tc, nil
}

// leafOf reads the first certificate of a PEM file.
func leafOf(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth.tls_cert: %w", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("auth.tls_cert %s holds no PEM certificate", path)
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}
