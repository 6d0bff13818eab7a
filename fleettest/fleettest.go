// Package fleettest builds a collected fleet for tests: a real HTTPS
// emulator of Entra and Graph, a real SQLite store, and a real collection of
// every tenant through the Graph client, so that tests of the views, the API
// and the pages read data that went the whole way. Only tests import it
// (TestOnlyTestsImportIt): it sits beside the packages it wires, not below
// internal/, so that no import runs back up the tree.
package fleettest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/sqlite"
)

// ClientID is the certificate app registered in the fleet's emulator.
const ClientID = "2c7d9e0f-1a3b-4c5d-8e6f-7a8b9c0d1e2f"

// Fleet is a collected fleet.
type Fleet struct {
	Emu       *emulator.Emulator
	Store     *sqlite.Store
	Collector *collect.Collector
	Jobs      []collect.Job
	Failing   emulator.TenantInfo // a tenant whose consent was revoked: collected with an error
	Summary   collect.Summary     // the first collection's
}

// Options shape the fleet.
type Options struct {
	Tenants int   // collected tenants, besides the failing one; default 8
	Seed    int64 // default 11
	// Now is the emulator's data clock (default time.Now) and Days its days
	// of history (default 90).
	Now  func() time.Time
	Days int
	// Script, when set, is called before the collection, e.g. to script
	// tenants' histories (emulator.SetScript).
	Script func(e *emulator.Emulator)
}

// New builds and collects a fleet; everything is closed when the test ends.
func New(tb testing.TB, o Options) *Fleet {
	tb.Helper()
	if o.Tenants == 0 {
		o.Tenants = 8
	}
	if o.Seed == 0 {
		o.Seed = 11
	}
	f := &Fleet{Emu: emulator.New(emulator.Options{Seed: o.Seed, Tenants: o.Tenants, Now: o.Now, Days: o.Days})}
	if err := f.Emu.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Emu.Close() })
	cert, key := Certificate(tb)
	f.Emu.AddApp(emulator.App{ClientID: ClientID, Certs: []*x509.Certificate{cert}})
	f.Emu.ConsentAll(ClientID)
	f.Failing = f.Emu.AddTenant(emulator.Tenant{Name: "Zeta Failing Ltd", ConsentedApps: []string{ClientID}})
	f.Emu.SetFaults(f.Failing.ID, emulator.Faults{RevokeConsent: true})

	store, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(tb.TempDir(), "fleetscore.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	f.Store = store

	hc := graph.NewHTTPClient(f.Emu.CACertPEM())
	gc, err := graph.New(graph.Options{BaseURL: f.Emu.URL(), HTTPClient: hc,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := graph.NewCredential(graph.App{ClientID: ClientID, Certificates: []*x509.Certificate{cert}, Key: key},
		"organizations", graph.AuthOptions{AuthorityHost: f.Emu.URL() + "/", Custom: true, HTTPClient: hc})
	if err != nil {
		tb.Fatal(err)
	}
	var tenants []fleetscore.Tenant
	for i, ti := range f.Emu.Tenants() {
		t := fleetscore.Tenant{ID: ti.ID, Name: ti.Name, TargetPercent: 75}
		if i%3 == 1 {
			t.TargetPercent = 60
		}
		tenants = append(tenants, t)
		f.Jobs = append(f.Jobs, collect.Job{
			Tenant:     t,
			Target:     graph.Target{TenantID: ti.ID, ClientID: ClientID, Credential: cred},
			ConsentURL: f.Emu.URL() + "/" + ti.ID + "/adminconsent?client_id=" + ClientID,
		})
	}
	if err := store.SyncTenants(context.Background(), tenants); err != nil {
		tb.Fatal(err)
	}
	if o.Script != nil {
		o.Script(f.Emu)
	}
	f.Collector = &collect.Collector{Store: store, Graph: gc, Concurrency: 4, Timeout: time.Minute, Now: o.Now}
	sum := f.Collector.Run(context.Background(), f.Jobs)
	f.Summary = sum
	if sum.OK != o.Tenants || sum.Failed != 1 {
		tb.Fatalf("fleet collection: %d ok, %d failed; want %d ok and the revoked tenant failed", sum.OK, sum.Failed, o.Tenants)
	}
	return f
}

// Certificate makes an app registration's RSA certificate.
func Certificate(tb testing.TB) (*x509.Certificate, *rsa.PrivateKey) {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "fleetscore test app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

// ScoredEverywhere is a control every one of the tenants scores on its
// latest emulated day, worth minMax points or more, not a Defender for
// Endpoint (scid_) one and untouched by state updates, with its maximum
// at each tenant: a control a test can script the points of (emulator.Script).
func ScoredEverywhere(tb testing.TB, e *emulator.Emulator, ids []string, minMax float64) (string, map[string]float64) {
	tb.Helper()
	count := map[string]int{}
	maxOf := map[string]float64{}
	for _, id := range ids {
		scores, profiles := e.Expected(id)
		if len(scores) == 0 {
			tb.Fatalf("tenant %s has no emulated scores", id)
		}
		pts := map[string]bool{}
		for _, c := range scores[len(scores)-1].Controls {
			pts[c.Name] = true
		}
		for _, p := range profiles {
			if pts[p.ID] && !p.Deprecated && p.MaxScore >= minMax && !strings.HasPrefix(p.ID, "scid_") &&
				(len(p.StateUpdates) == 0 || len(p.StateUpdates) == 1 && p.StateUpdates[0].State == fleetscore.StateDefault) {
				count[p.ID]++
				maxOf[id+"\x00"+p.ID] = p.MaxScore
			}
		}
	}
	control := ""
	for c, n := range count {
		if n == len(ids) && (control == "" || c < control) {
			control = c
		}
	}
	if control == "" {
		tb.Fatal("no control is scored at every tenant")
	}
	out := make(map[string]float64, len(ids))
	for _, id := range ids {
		out[id] = maxOf[id+"\x00"+control]
	}
	return control, out
}
