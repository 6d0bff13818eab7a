package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
)

// fleetCollector builds the metrics from the store at scrape time (as
// node_exporter does), from the same query layer as the pages and the API.
// Every family it writes is a gauge: it says what the store holds now. The
// counters of what this process did (collections, Graph requests) are the
// Options.Metrics collector's.
type fleetCollector struct {
	s          *Server
	incomplete atomic.Bool // the last scrape met an error

	ratio, targetRatio, fleetAverageRatio   *prometheus.Desc
	percent, points, maxPoints, target      *prometheus.Desc
	meets, category, categoryMax            *prometheus.Desc
	success, lastSuccess, duration, lastRun *prometheus.Desc
	tenants, fleetAverage, fleetMeeting, up *prometheus.Desc
}

// deprecatedPercent ends the HELP of a _percent gauge kept, for one
// release, beside the _ratio that replaces it.
func deprecatedPercent(ratio string) string {
	return " Deprecated: use fleetscore_" + ratio + " (0-1); this _percent name is removed in the release after next."
}

func newFleetCollector(s *Server) *fleetCollector {
	t := []string{"tenant_id", "tenant"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("fleetscore_"+name, help, labels, nil)
	}
	return &fleetCollector{
		s:                 s,
		ratio:             d("secure_score_ratio", "Secure Score of the tenant's latest snapshot as a ratio, currentScore / maxScore (0-1).", t...),
		targetRatio:       d("target_ratio", "The tenant's KPI target as a ratio (0-1).", t...),
		fleetAverageRatio: d("fleet_average_ratio", "Mean of the tenants' latest Secure Score ratios, stale tenants (no snapshot for over 3 days) left out."),
		percent:           d("secure_score_percent", "Secure Score of the tenant's latest snapshot, currentScore / maxScore * 100."+deprecatedPercent("secure_score_ratio"), t...),
		points:            d("secure_score_points", "Secure Score points achieved in the latest snapshot (currentScore).", t...),
		maxPoints:         d("secure_score_max_points", "Secure Score points attainable in the latest snapshot (maxScore).", t...),
		target:            d("target_percent", "The tenant's KPI target percent."+deprecatedPercent("target_ratio"), t...),
		meets:             d("meets_target", "1 when the tenant's latest percent meets its target.", t...),
		category:          d("secure_score_category_points", "Points achieved per control category in the latest snapshot.", "tenant_id", "tenant", "category"),
		categoryMax:       d("secure_score_category_max_points", "Points attainable per control category in the latest snapshot.", "tenant_id", "tenant", "category"),
		success:           d("collection_success", "1 when the tenant's last collection succeeded.", t...),
		lastSuccess:       d("collection_last_success_timestamp_seconds", "When the tenant was last collected successfully (Unix time).", t...),
		duration:          d("collection_last_duration_seconds", "How long the tenant's last collection took (by any instance; fleetscore_collection_duration_seconds is this process's histogram).", t...),
		lastRun:           d("collection_last_timestamp_seconds", "When the tenant's last collection finished (Unix time).", t...),
		tenants:           d("tenants", "Tenants known to fleetscore."),
		fleetAverage:      d("fleet_average_percent", "Mean of the tenants' latest Secure Score percents, stale tenants (no snapshot for over 3 days) left out."+deprecatedPercent("fleet_average_ratio")),
		fleetMeeting:      d("fleet_tenants_meeting_target", "Tenants whose latest percent meets their target, stale tenants left out."),
		up:                d("store_up", "1 when the store answered this scrape."),
	}
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ratio, c.targetRatio, c.fleetAverageRatio, c.percent, c.points, c.maxPoints, c.target, c.meets,
		c.category, c.categoryMax, c.success, c.lastSuccess, c.duration, c.lastRun, c.tenants, c.fleetAverage, c.fleetMeeting, c.up} {
		ch <- d
	}
}

// Percents are rounded as the API rounds them (percentDecimals), so that
// /metrics and the API say the same number; ratios keep as many digits.
// Sums of points lose only float noise (0.30000000000000004).
func metricPercent(p float64) float64 { return round(p, percentDecimals) }
func metricRatio(p float64) float64   { return round(p/100, percentDecimals+2) }
func metricPoints(p float64) float64  { return round(p, 9) }

// Collect sends the fleet's gauges, read from the fleet model: it runs
// when the handler encodes the fleet's families again (once per store
// version and day; metricsHandler keeps their text, not these).
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ok := c.collect(ctx, func(m prometheus.Metric) { ch <- m })
	c.incomplete.Store(!ok)
}

// collect builds the fleet's gauges; false when a read failed (what was
// built is sent all the same).
func (c *fleetCollector) collect(ctx context.Context, emit func(prometheus.Metric)) bool {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		emit(prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	// Only the latest snapshots and collections: a scrape reads no history.
	statuses, err := c.s.src.Tenants(ctx)
	if err != nil {
		c.s.log.Error("metrics", "err", err)
		g(c.up, 0)
		return false
	}
	rows := make([]query.Tenant, len(statuses))
	today := fleetscore.DayOf(c.s.dataNow())
	for i, st := range statuses {
		rows[i] = query.TenantRow(st)
		// The fleet gauges count the tenants the overview's cards count.
		rows[i].Stale = query.IsStale(st, today)
	}
	_, meeting, average := query.Summarize(rows)
	g(c.up, 1)
	g(c.tenants, float64(len(rows)))
	g(c.fleetAverage, metricPercent(average))
	g(c.fleetAverageRatio, metricRatio(average))
	g(c.fleetMeeting, float64(meeting))
	for i, r := range rows {
		l := []string{r.TenantID, r.Name}
		g(c.target, r.TargetPercent, l...)
		g(c.targetRatio, metricRatio(r.TargetPercent), l...)
		if r.Percent != nil {
			g(c.ratio, metricRatio(*r.Percent), l...)
			g(c.percent, metricPercent(*r.Percent), l...)
			g(c.points, *r.CurrentScore, l...)
			g(c.maxPoints, *r.MaxScore, l...)
			g(c.meets, b2f(r.MeetsTarget), l...)
		}
		if lc := statuses[i].LastCollection; lc != nil && lc.Status != fleetscore.StatusRunning {
			ok := lc.Status == fleetscore.StatusOK
			g(c.success, b2f(ok), l...)
			g(c.lastRun, float64(lc.FinishedAt.Unix()), l...)
			g(c.duration, lc.Duration().Seconds(), l...)
			if ok {
				g(c.lastSuccess, float64(lc.FinishedAt.Unix()), l...)
			} else {
				c.lastSuccessBefore(ctx, r, g)
			}
		}
	}
	return c.categories(ctx, rows, g)
}

// lastSuccessBefore finds a failing tenant's last success further back in
// its log: the one per-tenant query of a scrape, and only for failing tenants.
func (c *fleetCollector) lastSuccessBefore(ctx context.Context, r query.Tenant, g func(*prometheus.Desc, float64, ...string)) {
	log, err := c.s.src.Collections(ctx, r.TenantID, 100)
	if err != nil {
		return
	}
	for _, col := range log {
		if col.Status == fleetscore.StatusOK {
			g(c.lastSuccess, float64(col.FinishedAt.Unix()), r.TenantID, r.Name)
			return
		}
	}
}

// categories adds points per control category of each tenant's latest day.
func (c *fleetCollector) categories(ctx context.Context, rows []query.Tenant, g func(*prometheus.Desc, float64, ...string)) bool {
	controls, err := c.s.src.LatestControls(ctx)
	if err != nil {
		c.s.log.Error("metrics", "err", err)
		return false
	}
	profiles, err := c.s.src.ProfileSummaries(ctx)
	if err != nil {
		c.s.log.Error("metrics", "err", err)
		return false
	}
	for _, r := range rows {
		if r.Percent == nil {
			continue
		}
		maxOf := map[string]float64{}
		for _, p := range profiles[r.TenantID] {
			maxOf[p.ID] = p.MaxScore
		}
		got, max := map[string]float64{}, map[string]float64{}
		for _, ctl := range controls[r.TenantID] {
			got[ctl.Category] += ctl.Score
			max[ctl.Category] += maxOf[ctl.Name]
		}
		for _, cat := range fleetscore.Categories {
			g(c.category, metricPoints(got[cat]), r.TenantID, r.Name, cat)
			g(c.categoryMax, metricPoints(max[cat]), r.TenantID, r.Name, cat)
		}
	}
	return true
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// family is one metric family in the text format; z is the text
// compressed, for the fleet's families (kept), nil for the others. A kept
// family keeps its compressed text only (text nil: 26 MB at 10,000
// tenants), inflated for a scraper that does not take gzip.
type family struct {
	name string
	text []byte
	z    *deflated
}

// metricsHandler serves /metrics: the fleet, what this process counted
// (Options.Metrics), the Go runtime and the process, in the text format,
// gzipped when the scraper takes it (Prometheus does). The fleet's part
// is encoded and compressed once per store version and day (query.Memo);
// the process's is gathered and compressed on every scrape, and the two
// are sent as one gzip member (gzipMember).
func (s *Server) metricsHandler() http.Handler {
	fleet := prometheus.NewRegistry()
	fc := newFleetCollector(s)
	fleet.MustRegister(fc)
	proc := prometheus.NewRegistry()
	proc.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s.metrics != nil {
		proc.MustRegister(s.metrics)
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	// encode is g's families, each encoded on its own, in name order.
	encode := func(g prometheus.Gatherer) ([]family, error) {
		mfs, err := g.Gather()
		out := make([]family, 0, len(mfs))
		for _, mf := range mfs {
			var b bytes.Buffer
			if err := expfmt.NewEncoder(&b, format).Encode(mf); err != nil {
				return out, err
			}
			out = append(out, family{name: mf.GetName(), text: b.Bytes()})
		}
		return out, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		day := fleetscore.DayOf(s.dataNow()).String()
		own, err := query.Memo(r.Context(), s.src, "metrics-text/"+day, func(ctx context.Context, _ query.Source) ([]family, error) {
			fs, err := encode(fleet)
			if err == nil && fc.incomplete.Load() {
				err = errors.New("incomplete scrape")
			}
			for i := range fs {
				z := deflatePiece(fs[i].text)
				fs[i].z, fs[i].text = &z, nil
			}
			return fs, err
		})
		if err != nil {
			// Not kept: encoded again for this scrape (store_up says 0).
			own, _ = encode(fleet)
		}
		rest, err := encode(proc)
		if err != nil {
			s.log.Error("metrics", "err", err)
		}
		h := w.Header()
		h.Set("Content-Type", string(format))
		h.Add("Vary", "Accept-Encoding")
		var g *gzipMember
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			g = newGzipMember(w)
		}
		// Both lists are in name order: merged, so is the answer. The
		// process's families between two of the fleet's are compressed
		// together.
		var pending bytes.Buffer
		send := func(f family) {
			switch {
			case g == nil && f.z != nil:
				w.Write(pieceText(*f.z))
			case g == nil:
				w.Write(f.text)
			case f.z == nil:
				pending.Write(f.text)
			default:
				g.compressed(pending.Bytes())
				pending.Reset()
				g.kept(*f.z)
			}
		}
		for len(own) > 0 || len(rest) > 0 {
			if len(rest) == 0 || len(own) > 0 && own[0].name < rest[0].name {
				send(own[0])
				own = own[1:]
			} else {
				send(rest[0])
				rest = rest[1:]
			}
		}
		if g != nil {
			g.compressed(pending.Bytes())
			g.close()
		}
	})
}
