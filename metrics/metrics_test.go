package metrics_test

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/metrics"
)

var (
	_ collect.Observer    = (*metrics.Process)(nil)
	_ graph.AnswerCounter = (*metrics.Process)(nil)
)

// TestProcessCounts: each collection and each answer is counted under its
// status, durations land in their buckets, and both statuses of
// collections_total exist before anything ran.
func TestProcessCounts(t *testing.T) {
	p := metrics.New("v1.2.3")
	if got := value(t, p, "fleetscore_collections_total", "status", "error"); got != 0 {
		t.Fatalf("error collections before any run: %v", got)
	}
	if n := testutil.CollectAndCount(p, "fleetscore_collections_total"); n != 2 {
		t.Errorf("collections_total has %d series before any run; want ok and error at 0", n)
	}
	p.Collected("ok", 1500*time.Millisecond)
	p.Collected("ok", 45*time.Second)
	p.Collected("error", 20*time.Minute)
	p.Collected("running", time.Second) // not a status a finished collection has: counted as error
	for _, code := range []int{200, 200, 429, 503, 0, 307} {
		p.Answer(code)
	}
	want := `
# HELP fleetscore_collection_duration_seconds How long each tenant collection this process ran took, since it started. Resets on restart.
# TYPE fleetscore_collection_duration_seconds histogram
fleetscore_collection_duration_seconds_bucket{le="1"} 1
fleetscore_collection_duration_seconds_bucket{le="2"} 2
fleetscore_collection_duration_seconds_bucket{le="5"} 2
fleetscore_collection_duration_seconds_bucket{le="10"} 2
fleetscore_collection_duration_seconds_bucket{le="30"} 2
fleetscore_collection_duration_seconds_bucket{le="60"} 3
fleetscore_collection_duration_seconds_bucket{le="120"} 3
fleetscore_collection_duration_seconds_bucket{le="300"} 3
fleetscore_collection_duration_seconds_bucket{le="600"} 3
fleetscore_collection_duration_seconds_bucket{le="1200"} 4
fleetscore_collection_duration_seconds_bucket{le="1800"} 4
fleetscore_collection_duration_seconds_bucket{le="3600"} 4
fleetscore_collection_duration_seconds_bucket{le="+Inf"} 4
fleetscore_collection_duration_seconds_sum 1247.5
fleetscore_collection_duration_seconds_count 4
# HELP fleetscore_collections_total Tenant collections this process ran since it started, by status (ok, error). Resets on restart.
# TYPE fleetscore_collections_total counter
fleetscore_collections_total{status="error"} 2
fleetscore_collections_total{status="ok"} 2
`
	if err := testutil.CollectAndCompare(p, strings.NewReader(want), "fleetscore_collections_total", "fleetscore_collection_duration_seconds"); err != nil {
		t.Error(err)
	}
	codes := map[string]float64{"200": 2, "429": 1, "503": 1, "error": 1, "307": 1}
	for code, n := range codes {
		if got := value(t, p, "fleetscore_graph_requests_total", "code", code); got != n {
			t.Errorf("graph_requests_total{code=%q} = %v; want %v", code, got, n)
		}
	}
	if n := testutil.CollectAndCount(p, "fleetscore_graph_requests_total"); n != len(codes) {
		t.Errorf("graph_requests_total has %d series; want %d", n, len(codes))
	}
}

// value is the series of family name whose label has value, in p's
// exposition (gauge or counter).
func value(t *testing.T, p *metrics.Process, name, label, want string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if f.GetName() == name && l.GetName() == label && l.GetValue() == want {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, want)
	return 0
}

// TestBuildLabels: the version given wins over the module's unless it is
// the default "dev"; the revision is the VCS commit, marked dirty.
func TestBuildLabels(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/fleetscore/fleetscore", Version: "v0.9.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}}
	read := func() (*debug.BuildInfo, bool) { return bi, true }
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, c := range []struct {
		name, version string
		read          func() (*debug.BuildInfo, bool)
		want          prometheus.Labels
	}{
		{"ldflags version", "v1.0.0", read, prometheus.Labels{"version": "v1.0.0", "revision": "0123abcd-dirty", "goversion": "go1.26.0"}},
		{"dev takes the module's", "dev", read, prometheus.Labels{"version": "v0.9.0", "revision": "0123abcd-dirty", "goversion": "go1.26.0"}},
		{"no build info", "dev", none, prometheus.Labels{"version": "unknown", "revision": "unknown", "goversion": runtime.Version()}},
	} {
		got := metrics.BuildLabels(c.version, c.read)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v; want %v", c.name, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: %s=%q; want %q", c.name, k, got[k], v)
			}
		}
	}
	clean := *bi
	clean.Settings = bi.Settings[:1]
	if got := metrics.BuildLabels("v1", func() (*debug.BuildInfo, bool) { return &clean, true }); got["revision"] != "0123abcd" {
		t.Errorf("a clean tree's revision: %q", got["revision"])
	}
	// The process's own build_info is one series, 1, with the version given.
	p := metrics.New("v9.8.7")
	if n := testutil.CollectAndCount(p, "fleetscore_build_info"); n != 1 {
		t.Errorf("build_info series: %d", n)
	}
	if v := value(t, p, "fleetscore_build_info", "version", "v9.8.7"); v != 1 {
		t.Errorf("build_info{version=\"v9.8.7\"} = %v; want 1", v)
	}
}
