package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/metrics"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/server"
)

func cmdServe(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "serve", "[--config PATH] [--listen ADDR] [--memory-limit SIZE]")
	cfgPath := configFlag(fs, e)
	listen := fs.String("listen", "", "address of the dashboard and API (default: the config's listen, 127.0.0.1:8080)")
	memLimit := fs.String("memory-limit", "", "the Go runtime's soft memory limit, as GOMEMLIMIT writes it (e.g. 200MiB); default: $GOMEMLIMIT, else none")
	if done, err := parse(fs, args); done {
		return err
	}
	if *memLimit != "" {
		n, err := parseMemoryLimit(*memLimit)
		if err != nil {
			return fmt.Errorf("--memory-limit: %w", err)
		}
		debug.SetMemoryLimit(n)
	}
	cfg, err := loadConfig(e, *cfgPath, config.UseAll)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	return serveFleet(ctx, e, cfg, graph.NewHTTPClient(), log, serveOptions{})
}

type serveOptions struct {
	// schedule overrides the config's (the demo collects every minute).
	schedule *collect.Schedule
	// ready is called with the dashboard's URL once it listens.
	ready func(url string)
	// afterRun is called after each collection run (the demo prints a line).
	afterRun func(collect.Summary)
	// dataNow is what day "today" is on the pages (the demo's emulated
	// days run ahead of the wall clock); nil is the wall clock.
	dataNow func() time.Time
	// now is the clock of the reports' schedule; nil is the wall clock.
	now func() time.Time
}

// serveFleet runs the scheduler and the web server until ctx ends. The first
// collection starts at once when a tenant has never been collected.
func serveFleet(ctx context.Context, e env, cfg *config.Config, hc *http.Client, log *slog.Logger, o serveOptions) error {
	log = scrubbed(log, scrubberOf(cfg))
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return fmt.Errorf("listen %q: %v (write host:port, e.g. 127.0.0.1:8080)", cfg.Listen, err)
	}
	store, err := openStore(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	authOpts, err := signIn(ctx, cfg, store, hc, log)
	if err != nil {
		return err
	}
	if authOpts.Open {
		// Nobody can sign in: the dashboard is everyone's, so it stays on
		// this machine.
		if err := loopbackOnly(cfg.Listen); err != nil {
			return err
		}
	} else if !authOpts.TLS && loopbackOnly(cfg.Listen) != nil {
		log.Warn("sign-in is served over plain HTTP: passwords and session cookies cross the network in clear unless a proxy in front adds TLS; "+
			"set auth.tls_cert and auth.tls_key to serve HTTPS", "listen", cfg.Listen)
	}
	src, ok := store.(query.Source)
	if !ok {
		return fmt.Errorf("database %s cannot serve the dashboard", redactDSN(cfg.Database))
	}
	// What this process does, counted for /metrics: every answer of Entra
	// and Graph on the collection's client, and each tenant collection.
	counted := metrics.New(version)
	w, err := wire(cfg, graph.CountAnswers(hc, counted), log)
	if err != nil {
		return err
	}
	if err := store.SyncTenants(ctx, tenantsOf(w.jobs)); err != nil {
		return fmt.Errorf("record tenants: %w", err)
	}
	sched, err := collect.ParseSchedule(cfg.Schedule)
	if err != nil {
		return err
	}
	if o.schedule != nil {
		sched = *o.schedule
	}
	arc, closeArchive, err := openArchive(ctx, cfg, e.getenv, hc, log)
	if err != nil {
		return err
	}
	defer closeArchive()
	afterRun := alertsAfterRun(cfg, store, log)
	now := o.now
	if now == nil {
		now = time.Now
	}
	reports := reportsAfterRun(cfg, store, log, now)
	var srv *server.Server
	runner := &collect.Runner{
		Collector: &collect.Collector{Store: store, Graph: w.graph, Concurrency: cfg.Concurrency, Timeout: cfg.Timeout, Logger: log, Archive: arc, Scrub: scrubberOf(cfg), Observer: counted},
		Jobs:      func() []collect.Job { return w.jobs },
		Schedule:  sched,
		After: func(ctx context.Context, s collect.Summary) {
			log.Info("collection finished", "ok", s.OK, "failed", s.Failed, "took", s.Duration.Round(time.Millisecond))
			followExceptions(ctx, store, cfg, log)
			afterRun(ctx, s)
			reports(ctx)
			if o.afterRun != nil {
				o.afterRun(s)
			}
			// Build the overview now, so the first view after a run is fast.
			if err := srv.WarmOverview(ctx); err != nil {
				log.Warn("overview", "err", err)
			}
		},
	}
	// Several instances on one PostgreSQL share the collection: each
	// tenant's day goes to the instance that claims it. (A single SQLite
	// instance claims nothing, so "collect now" can run a day twice.)
	if cl, ok := store.(collect.Claimer); ok && isPostgres(cfg.Database) {
		runner.Collector.Claims = cl
	}
	var ready func(context.Context) error
	if p, ok := store.(interface{ Ping(context.Context) error }); ok {
		ready = p.Ping
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set listen in the config or --listen)", cfg.Listen, err)
	}
	defer ln.Close()
	srv, err = server.New(server.Options{Source: src, Runner: runner, Logger: log, Version: version,
		OpenAlerts: openAlertsFor(cfg, store), Alerts: alertBookFor(cfg, store), Exceptions: exceptionBookFor(cfg, store, w), Ready: ready,
		Campaigns: campaignBookFor(store, o.dataNow),
		Auth:      authOpts.Auth, OIDC: authOpts.OIDC, MetricsToken: authOpts.MetricsToken, TLS: authOpts.TLS,
		TrustedProxies: authOpts.TrustedProxies, Open: authOpts.Open, Listen: ln.Addr().String(), DataNow: o.dataNow,
		ExceptionTemplates: templatesOf(cfg), Metrics: counted, Branding: brandingOf(cfg)})
	if err != nil {
		return err
	}
	scheme := "http"
	if authOpts.TLS {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String() + "/"
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	runFirst, err := neverCollected(ctx, src)
	if err != nil {
		return err
	}
	// Build the overview before the first view asks for it.
	go func() {
		if err := srv.WarmOverview(ctx); err != nil {
			log.Warn("overview", "err", err)
		}
	}()
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runner.Loop(loopCtx, runFirst)
	}()
	fmt.Fprintf(e.stdout, "fleetscore dashboard: %s (API %sapi/v1/tenants, metrics %smetrics); next collection %s\n",
		url, url, url, scheduleText(cfg.Schedule, o.schedule))
	if authOpts.Open {
		fmt.Fprintf(e.stdout, "open mode: no user or API token exists, so everyone on this machine is the admin (on loopback only, "+
			"and only for requests addressed to it); it ends as soon as one is made with `fleetscore user add` or `fleetscore token create`\n")
	}
	if o.ready != nil {
		o.ready(url)
	}
	errc := make(chan error, 1)
	go func() {
		if authOpts.TLS {
			errc <- hs.ServeTLS(ln, cfg.Auth.TLSCert, cfg.Auth.TLSKey)
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		stopLoop()
		<-done
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdown)
	stopLoop()
	<-done
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func scheduleText(cfgSchedule string, override *collect.Schedule) string {
	if override != nil {
		return fmt.Sprintf("every %s", override.Interval)
	}
	return cfgSchedule + " (UTC)"
}

// neverCollected reports whether some tenant has no collection yet.
func neverCollected(ctx context.Context, src query.Source) (bool, error) {
	ts, err := src.Tenants(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range ts {
		if t.LastCollection == nil {
			return true, nil
		}
	}
	return false, nil
}

// signIn builds the sign-in of the server. It is in open mode (Open) while
// the database has no user and no API token and the config no OIDC
// provider; presented tokens are checked all the same.
func signIn(ctx context.Context, cfg *config.Config, store fleetscore.Store, hc *http.Client, log *slog.Logger) (server.Options, error) {
	o := server.Options{Open: true}
	as, ok := store.(auth.Store)
	if !ok {
		return o, nil
	}
	users, err := as.Users(ctx)
	if err != nil {
		return o, err
	}
	tokens, err := as.Tokens(ctx)
	if err != nil {
		return o, err
	}
	hasOIDC := cfg.Auth != nil && cfg.Auth.OIDC != nil
	o.Auth = &auth.Service{Store: as, Log: log}
	o.Open = len(users) == 0 && len(tokens) == 0 && !hasOIDC
	if cfg.Auth != nil {
		o.MetricsToken = cfg.Auth.MetricsToken.Reveal()
		o.TLS = cfg.Auth.TLSCert != ""
		o.TrustedProxies = cfg.Auth.TrustedProxies
	}
	if hasOIDC {
		c := cfg.Auth.OIDC
		var clients []auth.OIDCClient
		for _, cl := range c.Clients {
			clients = append(clients, auth.OIDCClient{Match: cl.Match, Tenants: cl.Tenants})
		}
		o.OIDC, err = auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: c.Issuer, TenantID: c.TenantID, ClientID: c.ClientID, ClientSecret: c.ClientSecret.Reveal(),
			RedirectURL: c.RedirectURL, Admins: c.Admins, Analysts: c.Analysts, Clients: clients, HTTPClient: hc})
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// loopbackOnly refuses any listen address but loopback while nobody can
// sign in: the dashboard must not be reachable from another machine.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen %q: %v (write host:port, e.g. 127.0.0.1:8080)", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen %q: with no user to sign in, the dashboard serves on loopback only (127.0.0.1 or ::1); "+
		"add one with `fleetscore user add NAME --role admin` (or configure auth.oidc) to listen on other addresses", addr)
}

// parseMemoryLimit reads a size as GOMEMLIMIT writes it: a number of
// bytes with an optional unit B, KiB, MiB, GiB or TiB, or "off" (no
// limit).
func parseMemoryLimit(s string) (int64, error) {
	if s == "off" {
		return math.MaxInt64, nil
	}
	num, mul := s, int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mul {
		return 0, fmt.Errorf("%q is not a size (write e.g. 200MiB, 1GiB or off)", s)
	}
	return n * mul, nil
}
