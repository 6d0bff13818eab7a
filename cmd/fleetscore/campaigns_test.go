package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/sqlite"
)

// TestCampaignsList: campaigns list prints each campaign with its
// progress, as a table and as the API's JSON; with none, an empty list.
func TestCampaignsList(t *testing.T) {
	cfg, ids := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}, {name: "Fabrikam", consent: true}})
	if r := runCmd(t, nil, "collect", "--config", cfg); r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	if r := runCmd(t, nil, "campaigns", "list", "--config", cfg, "--json"); r.err != nil || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("no campaigns: %v %q", r.err, r.stdout)
	}
	ctx := context.Background()
	s, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(filepath.Dir(cfg), "fleetscore.db"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.Profiles(ctx, ids[0])
	if err != nil || len(ps) == 0 {
		t.Fatalf("profiles: %v", err)
	}
	due := fleetscore.DayOf(time.Now()).AddDays(10)
	c, err := (&campaign.Service{Store: s}).Create(ctx, "cli", campaign.Request{Control: ps[0].ID, Tenants: []string{ids[0]}, Owner: "SOC team", Due: due})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, nil, "campaigns", "list", "--config", cfg)
	if r.err != nil || !strings.Contains(r.stdout, "SOC team") || !strings.Contains(r.stdout, ps[0].ID) || !strings.Contains(r.stdout, due.String()) ||
		!strings.Contains(r.stdout, " of 1") {
		t.Errorf("campaigns list: %v\n%s", r.err, r.stdout)
	}
	r = runCmd(t, nil, "campaigns", "list", "--config", cfg, "--json")
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 || out[0]["id"] != float64(c.ID) || out[0]["total"] != 1.0 {
		t.Errorf("campaigns list --json: %v\n%s", err, r.stdout)
	}
}
