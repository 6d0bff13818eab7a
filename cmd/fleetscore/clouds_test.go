package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/graph"
)

// microsoftHosts are the host names of Entra ID and Graph in the global
// and US Government clouds.
var microsoftHosts = []string{"login.microsoftonline.com", "graph.microsoft.com", "login.microsoftonline.us", "graph.microsoft.us"}

// dialEmulator is an HTTP client for Microsoft's own host names that
// reaches the emulator instead: the config names no custom endpoint, and
// the emulator sees the host and scope fleetscore really asks for.
func dialEmulator(emu *emulator.Emulator) *http.Client {
	hc := graph.NewHTTPClient(emu.CACertPEM())
	tr := hc.Transport.(*http.Transport)
	addr := strings.TrimPrefix(emu.URL(), "https://")
	tr.TLSClientConfig.RootCAs = x509.NewCertPool() // the emulator's CA only: nothing reaches a real host
	tr.TLSClientConfig.RootCAs.AppendCertsFromPEM(emu.CACertPEM())
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return hc
}

// TestMixedClouds: one config with commercial and GCC High tenants; each
// tenant's token is asked of its cloud's Entra ID with its cloud's Graph
// scope, and its scores are read from its cloud's Graph host. A usgov
// tenant without its own app is refused by the config.
func TestMixedClouds(t *testing.T) {
	emu := emulator.New(emulator.Options{Seed: 7, Hosts: microsoftHosts})
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	emu.AddApp(emulator.App{ClientID: testSecretApp, Secrets: []string{shared.secret}})
	const govApp = "6a3e0c11-2b4d-4f6e-8a90-1b2c3d4e5f60"
	emu.AddApp(emulator.App{ClientID: govApp, Secrets: []string{"gov-secret"}})
	type spec struct {
		name, cloud string
	}
	specs := []spec{{"Contoso", ""}, {"Fabrikam Federal", "usgov"}, {"Northwind", "global"}, {"Tailspin Defense", "usgov"}}
	ids := make([]string, len(specs))
	var b strings.Builder
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte(shared.secret), 0o600)
	os.WriteFile(filepath.Join(dir, "gov-secret.txt"), []byte("gov-secret"), 0o600)
	fmt.Fprintf(&b, "database: sqlite:fleetscore.db\nconcurrency: 2\ntimeout: 1m\ncloud: global\n")
	fmt.Fprintf(&b, "app:\n  client_id: %s\n  client_secret_file: secret.txt\n", testSecretApp)
	b.WriteString("tenants:\n")
	for i, s := range specs {
		app := testSecretApp
		if s.cloud == "usgov" {
			app = govApp
		}
		ids[i] = emu.AddTenant(emulator.Tenant{Name: s.name, Cloud: s.cloud, ConsentedApps: []string{app}}).ID
		fmt.Fprintf(&b, "  - name: %s\n    tenant_id: %s\n", s.name, ids[i])
		if s.cloud != "" {
			fmt.Fprintf(&b, "    cloud: %s\n", s.cloud)
		}
		if s.cloud == "usgov" {
			fmt.Fprintf(&b, "    app: &gov\n      client_id: %s\n      client_secret_file: gov-secret.txt\n", govApp)
		}
	}
	cfgPath := filepath.Join(dir, "fleetscore.yaml")
	// The second usgov tenant shares the first one's app by YAML alias.
	y := strings.Replace(b.String(), "    app: &gov\n      client_id: "+govApp+"\n      client_secret_file: gov-secret.txt\n", "    app: *gov\n", 2)
	y = strings.Replace(y, "    app: *gov\n", "    app: &gov\n      client_id: "+govApp+"\n      client_secret_file: gov-secret.txt\n", 1)
	if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	e := env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
	cfg, err := loadConfig(e, cfgPath, 0)
	if err != nil {
		t.Fatalf("config:\n%s", y)
	}
	var out strings.Builder
	e.stdout = &out
	if err := collectOnce(context.Background(), e, cfg, dialEmulator(emu), newLogger(io.Discard, 0)); err != nil {
		t.Fatalf("collect: %v\n%s", err, out.String())
	}
	for i, s := range specs {
		st := emu.Stats(ids[i])
		login, graphHost := "login.microsoftonline.com", "graph.microsoft.com"
		if s.cloud == "usgov" {
			login, graphHost = "login.microsoftonline.us", "graph.microsoft.us"
		}
		if st.TokenHost != login || st.TokenScope != "https://"+graphHost+"/.default" || st.GraphHost != graphHost {
			t.Errorf("%s (%s): token from %q for %q, Graph at %q; want %s, https://%s/.default, %s",
				s.name, s.cloud, st.TokenHost, st.TokenScope, st.GraphHost, login, graphHost, graphHost)
		}
		if st.Requests == 0 || st.Unauthorized != 0 {
			t.Errorf("%s: %d Graph requests, %d refused", s.name, st.Requests, st.Unauthorized)
		}
	}
	rows, err := tenantRows(context.Background(), cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Percent == nil {
			t.Errorf("%s has no score after the collection", r.Name)
		}
	}

	// The emulator refuses what Microsoft would: a usgov tenant asked of
	// the global Entra ID, so the assertions above could fail.
	wrong := strings.Replace(y, "    cloud: usgov\n", "    cloud: global\n", 1)
	wrong = strings.Replace(wrong, "    app: &gov\n      client_id: "+govApp+"\n      client_secret_file: gov-secret.txt\n", "", 1)
	wrong = strings.Replace(wrong, "    app: *gov\n", "    app:\n      client_id: "+govApp+"\n      client_secret_file: gov-secret.txt\n", 1)
	os.WriteFile(cfgPath, []byte(wrong), 0o600)
	cfg, err = loadConfig(e, cfgPath, 0)
	if err != nil {
		t.Fatalf("config:\n%s", wrong)
	}
	out.Reset()
	if err := collectOnce(context.Background(), e, cfg, dialEmulator(emu), newLogger(io.Discard, 0)); err == nil || !strings.Contains(out.String(), "Fabrikam Federal") {
		t.Errorf("a usgov tenant collected through the global cloud: %v\n%s", err, out.String())
	}

	// A tenant in another cloud cannot use the default app.
	noApp := strings.Replace(y, "    app: &gov\n      client_id: "+govApp+"\n      client_secret_file: gov-secret.txt\n", "", 1)
	noApp = strings.Replace(noApp, "    app: *gov\n", "    app:\n      client_id: "+govApp+"\n      client_secret_file: gov-secret.txt\n", 1)
	os.WriteFile(cfgPath, []byte(noApp), 0o600)
	var errb strings.Builder
	e.stderr = &errb
	if _, err := loadConfig(e, cfgPath, 0); err == nil || !strings.Contains(errb.String(), "usgov cloud") || !strings.Contains(errb.String(), "portal.azure.us") {
		t.Errorf("a usgov tenant on the default (global) app: %v\n%s", err, errb.String())
	}
}
