package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/sqlite"
)

// TestExceptionsAddAndList: after a collection, exceptions add validates
// (a missing reason is refused, naming the flag's field), applies at each
// tenant (a scid_ control is refused, nothing sent; the unwired write
// is local: write_back is off), a config template applies, and list shows the register, as a table and as JSON.
func TestExceptionsAddAndList(t *testing.T) {
	cfg, ids := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}, {name: "Fabrikam", consent: true}})
	if r := runCmd(t, nil, "collect", "--config", cfg); r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	s, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(filepath.Dir(cfg), "fleetscore.db"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.Profiles(context.Background(), ids[0])
	ps1, err1 := s.Profiles(context.Background(), ids[1])
	s.Close()
	if err != nil || err1 != nil || len(ps) == 0 {
		t.Fatalf("profiles: %v %v", err, err1)
	}
	atBoth := map[string]bool{}
	for _, p := range ps1 {
		atBoth[p.ID] = true
	}
	control, scid := "", ""
	for _, p := range ps {
		if strings.HasPrefix(p.ID, "scid_") {
			scid = p.ID
		} else if control == "" && atBoth[p.ID] {
			control = p.ID
		}
	}
	if control == "" {
		t.Fatal("the two tenants share no control")
	}
	r := runCmd(t, nil, "exceptions", "add", "--config", cfg, "--control", control, "--state", "ThirdParty", "--tenant", ids[0])
	if r.err == nil || !strings.Contains(r.err.Error(), "reason is required") {
		t.Errorf("no reason: %v", r.err)
	}
	r = runCmd(t, nil, "exceptions", "add", "--config", cfg, "--control", control, "--state", "ThirdParty",
		"--tenant", ids[0], "--tenant", ids[1], "--reason", "covered by Mimecast", "--review-by", "2099-01-31", "--json")
	if r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 2 {
		t.Fatalf("add --json: %v\n%s", err, r.stdout)
	}
	// write_back is off (the default): kept in fleetscore only.
	if out[0]["status"] != "local" || out[0]["error"] != "" || out[1]["review_by"] != "2099-01-31" {
		t.Errorf("add: %s", r.stdout)
	}
	// A template of the config, applied to both tenants.
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "exceptions:\n  templates:\n    - name: Reviewed by SOC\n      items:\n        - {control: %s, state: Reviewed, reason: reviewed quarterly}\n", control)
	f.Close()
	r = runCmd(t, nil, "exceptions", "add", "--config", cfg, "--template", "reviewed by soc", "--tenant", ids[0], "--tenant", ids[1], "--json")
	out = nil
	if err := json.Unmarshal([]byte(r.stdout), &out); r.err != nil || err != nil || len(out) != 2 || out[0]["state"] != "Reviewed" || out[1]["reason"] != "reviewed quarterly" {
		t.Errorf("add --template: %v %v\n%s%s", r.err, err, r.stdout, r.stderr)
	}
	if r := runCmd(t, nil, "exceptions", "add", "--config", cfg, "--template", "nope", "--tenant", ids[0]); r.err == nil || !strings.Contains(r.err.Error(), `no template "nope"`) {
		t.Errorf("an unknown template: %v", r.err)
	}
	if scid != "" {
		r = runCmd(t, nil, "exceptions", "add", "--config", cfg, "--control", scid, "--state", "Reviewed", "--tenant", ids[0], "--reason", "MDE")
		if r.err != nil || !strings.Contains(r.stdout, "refused") {
			t.Errorf("scid_: %v\n%s", r.err, r.stdout)
		}
	}
	r = runCmd(t, nil, "exceptions", "list", "--config", cfg)
	if r.err != nil || !strings.Contains(r.stdout, "reviewed quarterly") || !strings.Contains(r.stdout, ids[1]) || !strings.Contains(r.stdout, "STATUS") {
		t.Errorf("list: %v\n%s", r.err, r.stdout)
	}
	r = runCmd(t, nil, "exceptions", "list", "--config", cfg, "--json")
	out = nil
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) < 2 || out[0]["control"] != control {
		t.Errorf("list --json: %v\n%s", err, r.stdout)
	}
}
