package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestServeCountsItsCollections: serve's /metrics counts the tenant
// collections this process ran, by status, with their durations, and the
// answers Graph and Entra gave it, beside its build.
func TestServeCountsItsCollections(t *testing.T) {
	cfg, _ := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}, {name: "Fabrikam", consent: false}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, func(string) string { return "" },
			strings.NewReader(""), &out, io.Discard)
	}()
	var base string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && base == ""; time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`dashboard: (http://\S*:\d+)/`).FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve did not start: %v\n%s", <-done, out.String())
	}
	// The first run starts at once (neither tenant was collected); wait
	// for both tenants' collections to be counted.
	var fams map[string]*familyValues
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		fams = scrape(t, base+"/metrics")
		if c := fams["fleetscore_collections_total"]; c != nil && c.byLabel["status"]["ok"]+c.byLabel["status"]["error"] >= 2 {
			break
		}
	}
	c := fams["fleetscore_collections_total"]
	if c == nil || c.byLabel["status"]["ok"] != 1 || c.byLabel["status"]["error"] != 1 {
		t.Fatalf("collections_total %+v; want 1 ok (Contoso) and 1 error (Fabrikam, not consented)", c)
	}
	if h := fams["fleetscore_collection_duration_seconds"]; h == nil || h.count != 2 {
		t.Errorf("collection_duration_seconds %+v; want 2 observations", h)
	}
	g := fams["fleetscore_graph_requests_total"]
	if g == nil || g.byLabel["code"]["200"] < 2 {
		t.Errorf("graph_requests_total %+v; want 200s for the token and Contoso's pages", g)
	}
	if b := fams["fleetscore_build_info"]; b == nil || b.sum != 1 || len(b.byLabel["goversion"]) != 1 {
		t.Errorf("build_info %+v; want one series of 1 with its goversion", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// familyValues is one scraped family: its values summed by each label's
// value, a histogram's count, and the sum of its series.
type familyValues struct {
	byLabel map[string]map[string]float64
	count   uint64
	sum     float64
}

func scrape(t *testing.T, url string) map[string]*familyValues {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*familyValues{}
	for name, mf := range mfs {
		fv := &familyValues{byLabel: map[string]map[string]float64{}}
		for _, m := range mf.Metric {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			fv.count += m.GetHistogram().GetSampleCount()
			fv.sum += v
			for _, l := range m.Label {
				if fv.byLabel[l.GetName()] == nil {
					fv.byLabel[l.GetName()] = map[string]float64{}
				}
				fv.byLabel[l.GetName()][l.GetValue()] += v
			}
		}
		out[name] = fv
	}
	return out
}
