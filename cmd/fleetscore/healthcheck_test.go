package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestContainerServeAndHealthcheck runs serve as the image does: no flags,
// the config from $FLEETSCORE_CONFIG, every interface from
// $FLEETSCORE_LISTEN, and the database in the default data folder
// ($FLEETSCORE_DATA, the image's /var/lib/fleetscore). healthcheck exits 0
// while it runs and 1, with one line, once it is down.
func TestContainerServeAndHealthcheck(t *testing.T) {
	written, _ := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}})
	data, err := os.ReadFile(written)
	if err != nil {
		t.Fatal(err)
	}
	// The image's config names no database: the data folder's default holds it.
	cfg := strings.Replace(string(data), "database: sqlite:fleetscore.db\n", "", 1)
	if cfg == string(data) {
		t.Fatal("writeConfig no longer names the database: update this test")
	}
	if err := os.WriteFile(written, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "var-lib-fleetscore")
	vars := map[string]string{"FLEETSCORE_CONFIG": written, "FLEETSCORE_DATA": dataDir, "FLEETSCORE_LISTEN": ":0"}
	getenv := func(k string) string { return vars[k] }

	// With nobody to sign in, serve stays on loopback, as outside a container.
	if r := runCmd(t, getenv, "serve"); r.err == nil || !strings.Contains(r.err.Error(), "fleetscore user add") {
		t.Fatalf("serve on every interface with no user: %v; want the refusal", r.err)
	}
	if r := runWithStdinEnv(t, getenv, "long enough password\n", "user", "add", "ann", "--role", "admin"); r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	for p, mode := range map[string]os.FileMode{dataDir: os.ModeDir | 0o700, filepath.Join(dataDir, "fleetscore.db"): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("the data folder holds no database: %v", err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
	}

	port, stop := startServe(t, getenv, `dashboard: http://\S*:(\d+)/`)

	// The healthcheck reads the same environment; only the port is the one
	// serve got (the image has a fixed one, 8080).
	vars["FLEETSCORE_LISTEN"] = ":" + port
	r := runCmd(t, getenv, "healthcheck")
	if r.err != nil || !strings.Contains(r.stdout, "healthy: http://127.0.0.1:"+port+"/healthz") {
		t.Errorf("healthcheck while serving: exit %d, %q %q", exitCode(r.err), r.stdout, r.stderr)
	}
	// --listen, as serve's, wins over the environment; [::] is asked on ::1
	// (where serve got every interface of IPv6 too, as Go does when it can).
	r = runCmd(t, getenv, "healthcheck", "--listen", "[::]:"+port)
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		if r.err != nil || !strings.Contains(r.stdout, "healthy: http://[::1]:"+port+"/healthz") {
			t.Errorf("healthcheck --listen [::]:%s: exit %d, %q %q", port, exitCode(r.err), r.stdout, r.stderr)
		}
	} else if exitCode(r.err) != 1 || !strings.Contains(r.stderr, "http://[::1]:"+port) {
		t.Errorf("healthcheck --listen [::]:%s without IPv6: exit %d, %q", port, exitCode(r.err), r.stderr)
	}

	stop()
	r = runCmd(t, getenv, "healthcheck")
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "unhealthy: GET http://127.0.0.1:"+port+"/healthz: ") ||
		!strings.Contains(r.stderr, "connection refused") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("healthcheck once down: exit %d, stderr %q; want 1 and one line", exitCode(r.err), r.stderr)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"FLEETSCORE_CONFIG": filepath.Join(dataDir, "none.yaml")}, nil, "the config file does not exist"},
		{map[string]string{"FLEETSCORE_CONFIG": written, "FLEETSCORE_LISTEN": "127.0.0.1:0"}, nil, "port 0"},
		{map[string]string{"FLEETSCORE_CONFIG": written, "FLEETSCORE_LISTEN": "8080"}, nil, "FLEETSCORE_LISTEN"},
	} {
		r := runCmd(t, func(k string) string { return c.env[k] }, append([]string{"healthcheck"}, c.args...)...)
		if exitCode(r.err) != 1 || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 1 and one line with %q", c.env, exitCode(r.err), r.stderr, c.want)
		}
	}
}

// TestHealthcheckTLS: with auth.tls_cert, the healthcheck asks over HTTPS
// and trusts the server only if it presents that certificate (issued for
// the public name, not for loopback).
func TestHealthcheckTLS(t *testing.T) {
	cfg, _ := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}})
	dir := filepath.Dir(cfg)
	for _, name := range []string{"tls", "other"} {
		certPEM, keyPEM, _, err := selfSignedCert("fleetscore.example.com")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name+".crt"), certPEM, 0o600)
		os.WriteFile(filepath.Join(dir, name+".key"), keyPEM, 0o600)
	}
	data, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(data, "auth:\n  tls_cert: tls.crt\n  tls_key: tls.key\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"FLEETSCORE_CONFIG": cfg, "FLEETSCORE_LISTEN": "127.0.0.1:0"}
	getenv := func(k string) string { return vars[k] }
	if r := runWithStdinEnv(t, getenv, "long enough password\n", "user", "add", "ann", "--role", "admin"); r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	port, stop := startServe(t, getenv, `dashboard: https://127\.0\.0\.1:(\d+)/`)
	defer stop()
	vars["FLEETSCORE_LISTEN"] = "127.0.0.1:" + port
	if r := runCmd(t, getenv, "healthcheck"); r.err != nil || !strings.Contains(r.stdout, "healthy: https://127.0.0.1:"+port+"/healthz") {
		t.Errorf("healthcheck over TLS: exit %d, %q %q", exitCode(r.err), r.stdout, r.stderr)
	}
	// A config naming another certificate than the one served: refused.
	other := filepath.Join(dir, "other.yaml")
	os.WriteFile(other, append(data, "auth:\n  tls_cert: other.crt\n  tls_key: other.key\n"...), 0o600)
	vars["FLEETSCORE_CONFIG"] = other
	if r := runCmd(t, getenv, "healthcheck"); exitCode(r.err) != 1 || !strings.Contains(r.stderr, "is not auth.tls_cert") {
		t.Errorf("healthcheck against another certificate: exit %d, %q", exitCode(r.err), r.stderr)
	}
}

// startServe runs `serve` with no flags in getenv's environment until stop,
// and returns the port it printed (the first submatch of pattern).
func startServe(t *testing.T, getenv func(string) string, pattern string) (port string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := newURLWatcher(regexp.MustCompile(pattern))
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, getenv, strings.NewReader(""), out, io.Discard) }()
	select {
	case port = <-out.found:
	case err := <-done:
		cancel()
		t.Fatalf("serve ended: %v\n%s", err, out.String())
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return port, stop
}

func runWithStdinEnv(t *testing.T, getenv func(string) string, stdin string, args ...string) result {
	t.Helper()
	var out, errb strings.Builder
	err := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), err}
}

// urlWatcher is serve's stdout: it sends the first submatch of re, once,
// as soon as it is written.
type urlWatcher struct {
	mu    sync.Mutex
	b     strings.Builder
	re    *regexp.Regexp
	found chan string
	sent  bool
}

func newURLWatcher(re *regexp.Regexp) *urlWatcher {
	return &urlWatcher{re: re, found: make(chan string, 1)}
}

func (w *urlWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if m := w.re.FindStringSubmatch(w.b.String()); m != nil && !w.sent {
		w.sent = true
		w.found <- m[1]
	}
	return len(p), nil
}

func (w *urlWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
