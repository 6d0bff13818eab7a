package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetscore/fleetscore/emulator"
)

// emulated is a running emulator with an app registered in it and a config
// file pointing at it: what demo, bench and the emulator command share.
type emulated struct {
	emu        *emulator.Emulator
	dir        string
	configPath string
	caFile     string
	offset     atomic.Int64 // days added to the emulator's clock
}

// now is the emulator's clock: the wall clock plus the days added.
func (em *emulated) now() time.Time { return time.Now().AddDate(0, 0, int(em.offset.Load())) }

type emulatedOptions struct {
	dir         string
	tenants     int
	seed        int64
	listen      string
	latency     time.Duration
	concurrency int
	// secretTenants get their own app with a client secret (the
	// one-app-per-client model), kept in demoSecretFile (0600).
	secretTenants int
	secret        string
	database      string
}

const demoClientID = "6e1f3c55-8a0b-4d7e-9f2a-51c0d2b4a7e9"
const demoSecretClientID = "0b9d2f41-3c6e-4a85-b1d7-8e2f60a9c3d5"

// demoSecretFile holds the secret app's client secret, beside the config.
const demoSecretFile = "client-secret.txt"

// startEmulated starts an emulator on o.listen with o.tenants tenants, one
// certificate app consented everywhere, and writes o.dir/fleetscore.yaml.
func startEmulated(o emulatedOptions) (*emulated, error) {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return nil, err
	}
	em := &emulated{dir: o.dir}
	em.emu = emulator.New(emulator.Options{
		Seed:    o.seed,
		Tenants: o.tenants,
		Now:     em.now,
		Latency: o.latency,
	})
	certPEM, keyPEM, cert, err := selfSignedCert("fleetscore demo app")
	if err != nil {
		return nil, err
	}
	appFile := filepath.Join(o.dir, "app.pem")
	if err := os.WriteFile(appFile, append(certPEM, keyPEM...), 0o600); err != nil {
		return nil, err
	}
	em.emu.AddApp(emulator.App{ClientID: demoClientID, Certs: []*x509.Certificate{cert}})
	em.emu.ConsentAll(demoClientID)
	if o.secretTenants > 0 {
		em.emu.AddApp(emulator.App{ClientID: demoSecretClientID, Secrets: []string{o.secret}})
		em.emu.ConsentAll(demoSecretClientID)
		// Kept in a file the config names, so that every command the demo
		// prints (tenants, collect) works as printed, in any shell.
		if err := os.WriteFile(filepath.Join(o.dir, demoSecretFile), []byte(o.secret+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	listen := o.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if err := em.emu.StartOn(listen); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	em.caFile = filepath.Join(o.dir, "emulator-ca.pem")
	if err := os.WriteFile(em.caFile, em.emu.CACertPEM(), 0o644); err != nil {
		em.emu.Close()
		return nil, err
	}

	db := o.database
	if db == "" {
		db = "sqlite:fleetscore.db"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by fleetscore for %d emulated tenants at %s.\n", o.tenants, em.emu.URL())
	fmt.Fprintf(&b, "# To collect again while the emulator runs: SSL_CERT_FILE=%s fleetscore collect --config %s\n", em.caFile, filepath.Join(o.dir, "fleetscore.yaml"))
	fmt.Fprintf(&b, "database: %s\ntarget_percent: 75\ncloud: global\n", db)
	fmt.Fprintf(&b, "authority_host: %s/\ngraph_url: %s\n", em.emu.URL(), em.emu.URL())
	if o.concurrency > 0 {
		fmt.Fprintf(&b, "concurrency: %d\n", o.concurrency)
	}
	fmt.Fprintf(&b, "app:\n  client_id: %s\n  certificate: app.pem\ntenants:\n", demoClientID)
	tenants := em.emu.Tenants()
	for i, t := range tenants {
		fmt.Fprintf(&b, "  - name: %s\n    tenant_id: %s\n", strconv.Quote(t.Name), t.ID)
		if i%5 == 2 {
			fmt.Fprintf(&b, "    target_percent: 80\n")
		}
		if i >= len(tenants)-o.secretTenants {
			fmt.Fprintf(&b, "    app:\n      client_id: %s\n      client_secret_file: %s\n", demoSecretClientID, demoSecretFile)
		}
	}
	em.configPath = filepath.Join(o.dir, "fleetscore.yaml")
	if err := os.WriteFile(em.configPath, []byte(b.String()), 0o600); err != nil {
		em.emu.Close()
		return nil, err
	}
	return em, nil
}

func (em *emulated) Close() error { return em.emu.Close() }

// setLatency makes every tenant's Graph requests take d longer.
func (em *emulated) setLatency(d time.Duration) {
	for _, t := range em.emu.Tenants() {
		em.emu.SetFaults(t.ID, emulator.Faults{Slow: d})
	}
}

// selfSignedCert makes the RSA certificate an app registration would carry.
func selfSignedCert(cn string) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), cert, nil
}

// emulatorReady is the line the emulator command prints once it serves.
type emulatorReady struct {
	URL     string `json:"url"`
	CAFile  string `json:"ca_file"`
	Config  string `json:"config"`
	Tenants int    `json:"tenants"`
}

func cmdEmulator(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "emulator", "[--tenants N] [--seed N] [--listen ADDR] [--dir DIR] [--latency D] [--control]")
	tenants := fs.Int("tenants", 25, "emulated tenants")
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same tenants and history")
	listen := fs.String("listen", "127.0.0.1:0", "address to serve HTTPS on")
	dir := fs.String("dir", "data/emulator", "folder for the CA, the app certificate and a config that points at the emulator")
	latency := fs.Duration("latency", 0, "latency added to every Graph request")
	control := fs.Bool("control", false, "read commands on stdin ('advance N' moves the clock N days, 'latency D' slows every Graph request); exit at end of input")
	if done, err := parse(fs, args); done {
		return err
	}
	em, err := startEmulated(emulatedOptions{dir: *dir, tenants: *tenants, seed: *seed, listen: *listen, latency: *latency})
	if err != nil {
		return err
	}
	defer em.Close()
	ready, _ := json.Marshal(emulatorReady{URL: em.emu.URL(), CAFile: em.caFile, Config: em.configPath, Tenants: *tenants})
	fmt.Fprintln(e.stdout, string(ready))
	if !*control {
		fmt.Fprintf(e.stderr, "emulator serving %d tenants at %s; collect with:\n  SSL_CERT_FILE=%s fleetscore collect --config %s\n", *tenants, em.emu.URL(), em.caFile, em.configPath)
		<-ctx.Done()
		return nil
	}
	sc := bufio.NewScanner(e.stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "advance":
			n, err := strconv.Atoi(f[1])
			if err != nil {
				fmt.Fprintln(e.stdout, "error:", err)
				continue
			}
			em.offset.Add(int64(n))
			fmt.Fprintln(e.stdout, "ok")
		case len(f) == 2 && f[0] == "latency":
			d, err := time.ParseDuration(f[1])
			if err != nil {
				fmt.Fprintln(e.stdout, "error:", err)
				continue
			}
			em.setLatency(d)
			fmt.Fprintln(e.stdout, "ok")
		default:
			fmt.Fprintln(e.stdout, "error: unknown command", strconv.Quote(sc.Text()))
		}
	}
	return nil
}
