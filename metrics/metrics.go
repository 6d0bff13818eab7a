// Package metrics counts what this fleetscore process did, for Prometheus:
// the tenant collections it ran (by status, and how long each took) and the
// answers Entra and Graph gave it, with the build it runs. Unlike the
// fleet's gauges, which the server builds from the store at each scrape,
// these live in the process: they start at zero when it starts, count only
// its own work (in `serve`, its collections; a `collect` run's are gone
// when it exits) and reset on restart, as Prometheus counters do.
package metrics

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetscore/fleetscore"
)

// DurationBuckets are the collection duration histogram's upper bounds, in
// seconds: a daily run of a tenant takes a second or two, a 90-day backfill
// or a throttled tenant minutes, and a tenant's timeout can be set to tens
// of minutes.
var DurationBuckets = []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// Process is the process-lifetime metrics. It is a prometheus.Collector;
// register it with the registry that serves /metrics.
type Process struct {
	build       prometheus.Gauge
	collections *prometheus.CounterVec
	duration    prometheus.Histogram
	answers     *prometheus.CounterVec
}

// It also implements collect.Observer and graph.AnswerCounter (asserted in
// the tests, so that this package depends on neither).
var _ prometheus.Collector = (*Process)(nil)

// New returns the metrics of a process that runs version (the version the
// binary was built as, -X main.version; "" or "dev" takes the module's).
func New(version string) *Process {
	p := &Process{
		build: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "fleetscore_build_info",
			Help:        "Always 1; its labels name the fleetscore version, VCS revision and Go version of this process.",
			ConstLabels: BuildLabels(version, debug.ReadBuildInfo),
		}),
		collections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetscore_collections_total",
			Help: "Tenant collections this process ran since it started, by status (ok, error). Resets on restart.",
		}, []string{"status"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetscore_collection_duration_seconds",
			Help:    "How long each tenant collection this process ran took, since it started. Resets on restart.",
			Buckets: DurationBuckets,
		}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetscore_graph_requests_total",
			Help: "Requests this process sent to Microsoft Graph and Entra (tokens), by the HTTP status of the answer (code=\"error\" when none came), each retry and page counted. Resets on restart.",
		}, []string{"code"}),
	}
	p.build.Set(1)
	// Both statuses exist from the start, so that rate() and alerts on
	// errors see a zero before the first failure.
	for _, s := range []string{fleetscore.StatusOK, fleetscore.StatusError} {
		p.collections.WithLabelValues(s)
	}
	return p
}

// Collected counts one tenant collection (collect.Observer).
func (p *Process) Collected(status string, took time.Duration) {
	if status != fleetscore.StatusOK {
		status = fleetscore.StatusError // the label has two values, whatever the caller says
	}
	p.collections.WithLabelValues(status).Inc()
	p.duration.Observe(took.Seconds())
}

// Answer counts one answer of Graph or Entra (graph.AnswerCounter).
func (p *Process) Answer(status int) {
	code := "error"
	if status >= 100 && status <= 999 {
		code = strconv.Itoa(status)
	}
	p.answers.WithLabelValues(code).Inc()
}

// Describe implements prometheus.Collector.
func (p *Process) Describe(ch chan<- *prometheus.Desc) {
	p.build.Describe(ch)
	p.collections.Describe(ch)
	p.duration.Describe(ch)
	p.answers.Describe(ch)
}

// Collect implements prometheus.Collector.
func (p *Process) Collect(ch chan<- prometheus.Metric) {
	p.build.Collect(ch)
	p.collections.Collect(ch)
	p.duration.Collect(ch)
	p.answers.Collect(ch)
}

// BuildLabels are fleetscore_build_info's labels: version (the one given,
// unless it is "" or "dev", else the module's version from the build
// information, "(devel)" for a build from a checkout), revision (the VCS
// commit, with "-dirty" when the tree had changes; "unknown" when the build
// recorded none) and goversion.
func BuildLabels(version string, read func() (*debug.BuildInfo, bool)) prometheus.Labels {
	l := prometheus.Labels{"version": version, "revision": "unknown", "goversion": runtime.Version()}
	bi, ok := read()
	if !ok || bi == nil {
		if version == "" || version == "dev" {
			l["version"] = "unknown"
		}
		return l
	}
	if (version == "" || version == "dev") && bi.Main.Version != "" {
		l["version"] = bi.Main.Version
	}
	if l["version"] == "" {
		l["version"] = "unknown"
	}
	if bi.GoVersion != "" {
		l["goversion"] = bi.GoVersion
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			l["revision"] = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && l["revision"] != "unknown" {
		l["revision"] += "-dirty"
	}
	return l
}
