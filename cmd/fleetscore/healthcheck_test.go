package main

import (
	"context"
	"io"
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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newURLWatcher(regexp.MustCompile(`dashboard: http://\S*:(\d+)/`))
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, getenv, strings.NewReader(""), out, io.Discard) }()
	var port string
	select {
	case port = <-out.found:
	case err := <-done:
		t.Fatalf("serve ended: %v\n%s", err, out.String())
	}

	// The healthcheck reads the same environment; only the port is the one
	// serve got (the image has a fixed one, 8080).
	vars["FLEETSCORE_LISTEN"] = ":" + port
	r := runCmd(t, getenv, "healthcheck")
	if r.err != nil || !strings.Contains(r.stdout, "healthy: http://127.0.0.1:"+port+"/healthz") {
		t.Errorf("healthcheck while serving: exit %d, %q %q", exitCode(r.err), r.stdout, r.stderr)
	}
	// --listen as serve's: the address wins over the environment.
	if r := runCmd(t, getenv, "healthcheck", "--listen", "[::]:"+port); exitCode(r.err) != 0 && !strings.Contains(r.stderr, "::1") {
		t.Errorf("healthcheck --listen [::]:%s: exit %d, %q", port, exitCode(r.err), r.stderr)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
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
