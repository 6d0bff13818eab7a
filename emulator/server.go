package emulator

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"time"
)

// routes lists the whole emulated surface in one place.
func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	// Entra ID
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", e.openIDConfiguration)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", e.token)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", e.keys)
	// Microsoft Graph
	for _, v := range []string{"v1.0", "beta"} {
		mux.HandleFunc("GET /"+v+"/security/secureScores", e.graph(v, resScores))
		mux.HandleFunc("GET /"+v+"/security/secureScores/{id}", e.graph(v, resScore))
		mux.HandleFunc("GET /"+v+"/security/secureScoreControlProfiles", e.graph(v, resProfiles))
		mux.HandleFunc("GET /"+v+"/security/secureScoreControlProfiles/{id}", e.graph(v, resProfile))
		mux.HandleFunc("PATCH /"+v+"/security/secureScoreControlProfiles/{id}", e.graph(v, resPatch))
		mux.HandleFunc("POST /"+v+"/users/{id}/sendMail", e.graph(v, resSendMail))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" && isGraphPath(r.URL.Path) {
			e.graphNotFound(w, r) // Graph answers unknown segments in its own error shape
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func isGraphPath(p string) bool {
	return strings.HasPrefix(p, "/v1.0/") || strings.HasPrefix(p, "/beta/")
}

func tlsServerConfig(m *tlsMaterial) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{m.cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// newClient builds the HTTP client that trusts the emulator's CA. HTTP/2 is
// on, as it is against the real Graph; no proxy, ever.
func (e *Emulator) newClient() *http.Client {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.tlsm != nil {
		tlsConf.RootCAs = e.tlsm.pool
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr}
}
