package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/graph"
)

// TestExceptionsWrittenBack applies a template of two controls (a Defender
// for Office control to Third party, a Defender for Endpoint scid_ one) to
// five emulated tenants: three whose app may write, one whose app may not,
// one with write_back off. At the emulator: one PATCH per writable tenant,
// its body as Microsoft documents it, none for scid_; after the next day's
// collection the three are in effect with full points; applying again sends
// nothing; a state changed in the portal drifts, and alerts once.
func TestExceptionsWrittenBack(t *testing.T) {
	var offset atomic.Int64
	emu := emulator.New(emulator.Options{Seed: 31, Now: func() time.Time { return time.Now().AddDate(0, 0, int(offset.Load())) }})
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	emu.AddApp(emulator.App{ClientID: testCertApp, Certs: []*x509.Certificate{shared.cert}})
	names := []string{"Writer One", "Writer Two", "Writer Three", "Read Only", "Kept Local"}
	ids := make([]string, len(names))
	for i := range names {
		tn := emulator.Tenant{Name: names[i], ConsentedApps: []string{testCertApp}}
		if i != 3 {
			tn.WriteApps = []string{testCertApp}
		}
		ids[i] = emu.AddTenant(tn).ID
	}
	// A control every tenant has, open and untouched, and a scid_ one.
	office, endpoint := commonControls(t, emu, ids)

	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "database: sqlite:fleetscore.db\nconcurrency: 5\ntimeout: 1m\nwrite_back: true\n")
	fmt.Fprintf(&b, "authority_host: %s/\ngraph_url: %s\n", emu.URL(), emu.URL())
	fmt.Fprintf(&b, "app:\n  client_id: %s\n  certificate: %s\ntenants:\n", testCertApp, shared.certFile)
	for i, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    tenant_id: %s\n", n, ids[i])
		if i == 4 {
			b.WriteString("    write_back: false\n")
		}
	}
	fmt.Fprintf(&b, "exceptions:\n  templates:\n    - name: Mimecast\n      items:\n"+
		"        - {control: %s, state: ThirdParty, reason: covered by Mimecast}\n"+
		"        - {control: %s, state: ThirdParty, reason: covered by CrowdStrike}\n", office, endpoint)
	hook := alerttest.NewReceiver(t)
	b.WriteString("channels:\n  - name: siem\n    type: webhook\n    url_env: HOOK_URL\n    secret_env: HOOK_SECRET\n" +
		"alerts:\n  - name: drift\n    when: exception_drift\n    channels: [siem]\n")
	path := filepath.Join(dir, "fleetscore.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"HOOK_URL": hook.URL(), "HOOK_SECRET": cmdHookSecret}
	e := env{getenv: func(k string) string { return vars[k] }, stdout: io.Discard, stderr: io.Discard}
	cfg, err := loadConfig(e, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	hc := graph.NewHTTPClient(emu.CACertPEM())
	log := newLogger(io.Discard, 0)
	collect := func() {
		t.Helper()
		if err := collectOnce(context.Background(), e, cfg, hc, log); err != nil {
			t.Fatalf("collect: %v", err)
		}
	}
	collect()

	ctx := context.Background()
	store, err := openStore(ctx, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w, err := wire(cfg, hc, log)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := exceptionService(store, cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	mimecast, ok := templateOf(cfg, "mimecast")
	if !ok || len(mimecast.Items) != 2 {
		t.Fatalf("the config's template: %+v", mimecast)
	}
	ana := auth.Principal{Name: "ana", Role: auth.RoleAnalyst}
	out, err := svc.ApplyTemplate(ctx, ana, mimecast, ids, fleetscore.Day{}, "soc")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i, id := range ids {
		want[id+office] = []string{"written", "written", "written", "failed", "local"}[i]
		want[id+endpoint] = "refused"
	}
	for _, x := range out {
		if x.Status != want[x.TenantID+x.Control] {
			t.Errorf("%s at %s: %s (%s), want %s", x.Control, x.TenantID, x.Status, x.Error, want[x.TenantID+x.Control])
		}
		// Graph's answer, for the audit log: none where nothing was sent.
		wantAnswer := map[string]string{"written": "PATCH accepted; read back: ThirdParty by " + testCertApp, "failed": "PATCH answered 403"}[x.Status]
		if (wantAnswer == "") != (x.GraphAnswer == "") || !strings.HasPrefix(x.GraphAnswer, wantAnswer) {
			t.Errorf("%s at %s (%s): Graph's answer %q, want %q...", x.Control, x.TenantID, x.Status, x.GraphAnswer, wantAnswer)
		}
		if x.TenantID == ids[3] && x.Control == office && !strings.Contains(x.Advice, "SecurityEvents.ReadWrite.All") {
			t.Errorf("the tenant without the write role gets advice %q; want it to name SecurityEvents.ReadWrite.All", x.Advice)
		}
	}
	for _, x := range out {
		t.Logf("%s %s %s %s", x.TenantID[:8], x.Control, x.Status, x.Error)
	}
	// At the emulator: the documented body, once per writable tenant, and
	// nothing for the scid_ control or the local tenant.
	for i, id := range ids {
		ps := emu.Patches(id)
		n := map[bool]int{true: 1, false: 0}[i < 3]
		if i == 3 {
			n = 1 // sent, and refused with 403
		}
		if len(ps) != n {
			t.Fatalf("%s: %d PATCH requests, want %d: %+v", names[i], len(ps), n, ps)
		}
		for _, p := range ps {
			if p.Control == endpoint {
				t.Errorf("%s: a PATCH of the scid_ control was sent", names[i])
			}
			var body map[string]any
			if err := json.Unmarshal(p.Body, &body); err != nil {
				t.Fatal(err)
			}
			vi, _ := body["vendorInformation"].(map[string]any)
			if body["state"] != "ThirdParty" || body["comment"] != "covered by Mimecast" || body["assignedTo"] != "" ||
				vi["provider"] != "SecureScore" || vi["vendor"] != "Microsoft" || vi["providerVersion"] != nil || vi["subProvider"] != nil {
				t.Errorf("%s: PATCH body %s", names[i], p.Body)
			}
		}
	}
	// Applying again sends nothing.
	if _, err := svc.ApplyTemplate(ctx, ana, mimecast, ids, fleetscore.Day{}, "soc"); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:3] {
		if n := len(emu.Patches(id)); n != 1 {
			t.Errorf("%s: %d PATCH requests after applying again, want still 1", names[i], n)
		}
	}

	// The next day: Microsoft scores the control in full; in effect.
	offset.Add(1)
	collect()
	list, err := svc.List(ctx, exceptions.Filter{Control: office})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range list {
		i := indexOf(ids, x.TenantID)
		if i < 3 && x.Status != exceptions.StatusInEffect {
			t.Errorf("%s after the next day's collection: %s, want in_effect", names[i], x.Status)
		}
	}
	scores, err := store.Scores(ctx, ids[0], fleetscore.Day{}, fleetscore.Day{})
	if err != nil || len(scores) == 0 {
		t.Fatal(err)
	}
	_, profiles := emu.Expected(ids[0])
	for _, c := range scores[len(scores)-1].Controls {
		for _, p := range profiles {
			if c.Name == office && p.ID == office && c.Score != p.MaxScore {
				t.Errorf("%s's %s scores %v of %v after Third party", names[0], office, c.Score, p.MaxScore)
			}
		}
	}

	// Someone resets it in the portal: drifted.
	if err := emu.SetControlState(ids[0], office, fleetscore.StateDefault, "not ours", "bob@client.example"); err != nil {
		t.Fatal(err)
	}
	offset.Add(1)
	collect()
	drifts := func() int {
		n := 0
		for _, d := range hook.Delivered() {
			var m alert.Message
			if json.Unmarshal(d.Body, &m) == nil && m.Rule == "drift" && m.Event == alert.Firing && m.TenantID == ids[0] && m.Control == office {
				n++
			}
		}
		return n
	}
	if n := drifts(); n != 1 {
		t.Errorf("the drift alerted %d times, want once", n)
	}
	offset.Add(1)
	collect()
	if n := drifts(); n != 1 {
		t.Errorf("after another collection the drift has alerted %d times, want still once", n)
	}
	list, _ = svc.List(ctx, exceptions.Filter{TenantID: ids[0], Control: office})
	t.Logf("after drift: %+v", list)
	// Every status the collections moved is in the audit log.
	events, err := store.(auth.Store).AuditLog(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	follows := map[string]int{}
	for _, ev := range events {
		if ev.Action == "exception.follow" {
			for _, st := range []string{"in_effect", "drifted"} {
				if strings.Contains(ev.Detail, "now "+st) {
					follows[st]++
				}
			}
		}
	}
	if follows["in_effect"] < 3 || follows["drifted"] != 1 {
		t.Errorf("audited follows %v; want 3 in_effect and 1 drifted", follows)
	}
	if len(list) != 1 || list[0].Status != exceptions.StatusDrifted {
		t.Errorf("after a change in the portal: %+v, want drifted", list)
	}
}

func indexOf(ids []string, id string) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// commonControls finds a non-scid_ control open and in the Default state
// at every tenant, and a scid_ control every tenant has.
func commonControls(t *testing.T, emu *emulator.Emulator, ids []string) (office, endpoint string) {
	t.Helper()
	count := map[string]int{}
	scid := map[string]int{}
	for _, id := range ids {
		scores, profiles := emu.Expected(id)
		pts := map[string]float64{}
		for _, c := range scores[len(scores)-1].Controls {
			pts[c.Name] = c.Score
		}
		for _, p := range profiles {
			v, scored := pts[p.ID]
			switch {
			case strings.HasPrefix(p.ID, "scid_"):
				scid[p.ID]++
			case scored && !p.Deprecated && v < p.MaxScore && len(p.StateUpdates) <= 1 && (len(p.StateUpdates) == 0 || p.StateUpdates[0].State == fleetscore.StateDefault):
				count[p.ID]++
			}
		}
	}
	for id, n := range count {
		if n == len(ids) && (office == "" || id < office) {
			office = id
		}
	}
	for id, n := range scid {
		if n == len(ids) && (endpoint == "" || id < endpoint) {
			endpoint = id
		}
	}
	if office == "" || endpoint == "" {
		t.Fatalf("no control common to the tenants: %q %q", office, endpoint)
	}
	return office, endpoint
}
