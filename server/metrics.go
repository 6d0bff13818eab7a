package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
)

// fleetCollector builds the metrics from the store at scrape time (as
// node_exporter does), from the same query layer as the pages and the API.
type fleetCollector struct {
	s *Server

	percent, points, maxPoints, target, meets *prometheus.Desc
	category, categoryMax                     *prometheus.Desc
	success, lastSuccess, duration, lastRun   *prometheus.Desc
	tenants, fleetAverage, fleetMeeting, up   *prometheus.Desc
}

func newFleetCollector(s *Server) *fleetCollector {
	t := []string{"tenant_id", "tenant"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("fleetscore_"+name, help, labels, nil)
	}
	return &fleetCollector{
		s:            s,
		percent:      d("secure_score_percent", "Secure Score of the tenant's latest snapshot, currentScore / maxScore * 100.", t...),
		points:       d("secure_score_points", "Secure Score points achieved in the latest snapshot (currentScore).", t...),
		maxPoints:    d("secure_score_max_points", "Secure Score points attainable in the latest snapshot (maxScore).", t...),
		target:       d("target_percent", "The tenant's KPI target percent.", t...),
		meets:        d("meets_target", "1 when the tenant's latest percent meets its target.", t...),
		category:     d("secure_score_category_points", "Points achieved per control category in the latest snapshot.", "tenant_id", "tenant", "category"),
		categoryMax:  d("secure_score_category_max_points", "Points attainable per control category in the latest snapshot.", "tenant_id", "tenant", "category"),
		success:      d("collection_success", "1 when the tenant's last collection succeeded.", t...),
		lastSuccess:  d("collection_last_success_timestamp_seconds", "When the tenant was last collected successfully (Unix time).", t...),
		duration:     d("collection_duration_seconds", "How long the tenant's last collection took.", t...),
		lastRun:      d("collection_last_timestamp_seconds", "When the tenant's last collection finished (Unix time).", t...),
		tenants:      d("tenants", "Tenants known to fleetscore."),
		fleetAverage: d("fleet_average_percent", "Mean of the tenants' latest Secure Score percents, stale tenants (no snapshot for over 3 days) left out."),
		fleetMeeting: d("fleet_tenants_meeting_target", "Tenants whose latest percent meets their target, stale tenants left out."),
		up:           d("store_up", "1 when the store answered this scrape."),
	}
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.percent, c.points, c.maxPoints, c.target, c.meets, c.category, c.categoryMax,
		c.success, c.lastSuccess, c.duration, c.lastRun, c.tenants, c.fleetAverage, c.fleetMeeting, c.up} {
		ch <- d
	}
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	// Only the latest snapshots and collections: a scrape reads no history.
	statuses, err := c.s.src.Tenants(ctx)
	if err != nil {
		c.s.log.Error("metrics", "err", err)
		g(c.up, 0)
		return
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
	g(c.fleetAverage, average)
	g(c.fleetMeeting, float64(meeting))
	for i, r := range rows {
		l := []string{r.TenantID, r.Name}
		g(c.target, r.TargetPercent, l...)
		if r.Percent != nil {
			g(c.percent, *r.Percent, l...)
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
	c.categories(ctx, rows, g)
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
func (c *fleetCollector) categories(ctx context.Context, rows []query.Tenant, g func(*prometheus.Desc, float64, ...string)) {
	controls, err := c.s.src.LatestControls(ctx)
	if err != nil {
		c.s.log.Error("metrics", "err", err)
		return
	}
	profiles, err := c.s.src.ProfileSummaries(ctx)
	if err != nil {
		c.s.log.Error("metrics", "err", err)
		return
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
			g(c.category, got[cat], r.TenantID, r.Name, cat)
			g(c.categoryMax, max[cat], r.TenantID, r.Name, cat)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricsHandler serves /metrics: the fleet, the Go runtime and the process.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newFleetCollector(s), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil})
}
