package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/sqlite"
)

// TestExceptionsAddAndList: after a collection, exceptions add validates
// (a missing reason is refused, naming the flag's field), applies at each
// tenant (a scid_ control is refused, nothing sent; the unwired write
// fails plainly), and list shows the register, as a table and as JSON.
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
	s.Close()
	if err != nil || len(ps) == 0 {
		t.Fatalf("profiles: %v", err)
	}
	control, scid := "", ""
	for _, p := range ps {
		if strings.HasPrefix(p.ID, "scid_") {
			scid = p.ID
		} else if control == "" {
			control = p.ID
		}
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
	if out[0]["status"] != "failed" || out[0]["error"] != "write-back is not wired yet" || out[1]["review_by"] != "2099-01-31" {
		t.Errorf("add: %s", r.stdout)
	}
	if scid != "" {
		r = runCmd(t, nil, "exceptions", "add", "--config", cfg, "--control", scid, "--state", "Reviewed", "--tenant", ids[0], "--reason", "MDE")
		if r.err != nil || !strings.Contains(r.stdout, "refused") {
			t.Errorf("scid_: %v\n%s", r.err, r.stdout)
		}
	}
	r = runCmd(t, nil, "exceptions", "list", "--config", cfg)
	if r.err != nil || !strings.Contains(r.stdout, "covered by Mimecast") || !strings.Contains(r.stdout, ids[1]) || !strings.Contains(r.stdout, "STATUS") {
		t.Errorf("list: %v\n%s", r.err, r.stdout)
	}
	r = runCmd(t, nil, "exceptions", "list", "--config", cfg, "--json")
	out = nil
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) < 2 || out[0]["control"] != control {
		t.Errorf("list --json: %v\n%s", err, r.stdout)
	}
}
