package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/fleetscore/fleetscore/archive"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/query"
)

// loadConfig reads and validates the config, and loads the secrets that
// use needs (no others: `user add` works without the service's
// environment); its errors already name the file, the line and the fix.
func loadConfig(e env, path string, use config.Use) (*config.Config, error) {
	cfg, err := config.Load(path, e.getenv)
	if err == nil {
		err = cfg.Require(use)
	}
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return nil, exitError{2}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	return cfg, nil
}

func cmdCollect(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "collect", "[--config PATH] [--verbose]")
	cfgPath := configFlag(fs, e)
	verbose := fs.Bool("verbose", false, "log every request and retry")
	if done, err := parse(fs, args); done {
		return err
	}
	cfg, err := loadConfig(e, *cfgPath, config.UseGraph|config.UseArchive|config.UseChannels)
	if err != nil {
		return err
	}
	level := cfg.LogLevel
	if *verbose {
		level = slog.LevelDebug
	}
	return collectOnce(ctx, e, cfg, graph.NewHTTPClient(), newLogger(e.stderr, level))
}

// collectOnce runs one collection of every configured tenant, prints each
// tenant's outcome as it finishes and a summary, and fails when any tenant
// failed (after all of them have run).
func collectOnce(ctx context.Context, e env, cfg *config.Config, hc *http.Client, log *slog.Logger) error {
	sc := scrubberOf(cfg)
	log = scrubbed(log, sc)
	store, err := openStore(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	w, err := wire(cfg, hc, log)
	if err != nil {
		return err
	}
	if err := store.SyncTenants(ctx, tenantsOf(w.jobs)); err != nil {
		return fmt.Errorf("record tenants: %w", err)
	}
	arc, closeArchive, err := openArchive(ctx, cfg, e.getenv, hc, log)
	if err != nil {
		return err
	}
	defer closeArchive()
	var mu sync.Mutex
	c := &collect.Collector{
		Archive:     arc,
		Store:       store,
		Graph:       w.graph,
		Concurrency: cfg.Concurrency,
		Timeout:     cfg.Timeout,
		Logger:      log,
		Scrub:       sc,
		Progress: func(r collect.Result) {
			mu.Lock()
			defer mu.Unlock()
			printResult(e.stdout, r)
		},
	}
	fmt.Fprintf(e.stdout, "collecting %d tenants (%d at a time) into %s\n", len(w.jobs), max(cfg.Concurrency, 1), redactDSN(cfg.Database))
	sum := c.Run(ctx, w.jobs)
	fmt.Fprintf(e.stdout, "\n%d of %d tenants collected, %d failed", sum.OK, len(w.jobs), sum.Failed)
	if sum.Skipped > 0 {
		fmt.Fprintf(e.stdout, ", %d not started", sum.Skipped)
	}
	fmt.Fprintf(e.stdout, "; %d days written in %s\n", sum.Days, sum.Duration.Round(time.Millisecond))
	followExceptions(ctx, store, cfg, log)
	alertsAfterRun(cfg, store, log)(ctx, sum)
	reportsAfterRun(cfg, store, log, time.Now)(ctx)
	if err := sum.Err(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("collection interrupted: %w (run collect again: it carries on where it stopped)", err)
		}
		return fmt.Errorf("collection finished with errors: %w (see `fleetscore tenants` for each fix)", err)
	}
	return nil
}

func printResult(w io.Writer, r collect.Result) {
	c := r.Collection
	if r.Err == nil {
		fmt.Fprintf(w, "  ok     %-28s %3d days  %3d controls  %2d requests  %s\n", r.Tenant.Name, c.Days, c.Controls, c.Requests, c.Duration().Round(time.Millisecond))
		if r.ArchiveErr != nil {
			fmt.Fprintf(w, "         %s\n", r.ArchiveErr)
		}
		return
	}
	msg, advice := c.Error, c.Advice
	if msg == "" {
		msg, advice = collect.Explain(r.Err, "")
	}
	fmt.Fprintf(w, "  error  %-28s %s\n", r.Tenant.Name, msg)
	if advice != "" {
		fmt.Fprintf(w, "         fix: %s\n", advice)
	}
}

func cmdTenants(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "tenants", "[--config PATH] [--json]")
	cfgPath := configFlag(fs, e)
	asJSON := fs.Bool("json", false, "print the tenants as JSON (the objects of GET /api/v1/tenants)")
	if done, err := parse(fs, args); done {
		return err
	}
	cfg, err := loadConfig(e, *cfgPath, 0)
	if err != nil {
		return err
	}
	rows, err := tenantRows(ctx, cfg.Database)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	printTenants(e.stdout, rows)
	return nil
}

// tenantRows reads the tenants' rows from the database.
func tenantRows(ctx context.Context, dsn string) ([]query.Tenant, error) {
	store, err := openStore(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	src, ok := store.(query.Source)
	if !ok {
		return nil, fmt.Errorf("database %s cannot list the fleet", redactDSN(dsn))
	}
	return query.Tenants(ctx, src)
}

// printTenants writes the tenants table, failed tenants' reasons and fixes
// below it.
func printTenants(w io.Writer, rows []query.Tenant) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTENANT ID\tSCORE\tPOINTS\tTARGET\tAS OF\tLAST COLLECTION\tSTATUS")
	meet, scored := 0, 0
	var failed []query.Tenant
	for _, r := range rows {
		score, points, asOf := "-", "-", "-"
		if r.Percent != nil {
			scored++
			mark := "below"
			if r.MeetsTarget {
				meet++
				mark = "meets"
			}
			score = fmt.Sprintf("%.1f%% %s", *r.Percent, mark)
			points = fmt.Sprintf("%.2f / %.0f", *r.CurrentScore, *r.MaxScore)
			asOf = *r.AsOf
			if r.Stale {
				asOf += " (stale)" // the fleet figures no longer count it
			}
		}
		last, status := "never", "-"
		if lc := r.LastCollection; lc != nil {
			last = lc.At.Local().Format("2006-01-02 15:04")
			status = lc.Status
			if lc.Status != "ok" {
				failed = append(failed, r)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f%%\t%s\t%s\t%s\n", r.Name, r.TenantID, score, points, r.TargetPercent, asOf, last, status)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d of %d tenants meet their target", meet, len(rows))
	if scored < len(rows) {
		fmt.Fprintf(w, " (%d have no score yet)", len(rows)-scored)
	}
	fmt.Fprintln(w)
	for _, r := range failed {
		fmt.Fprintf(w, "\n%s (%s): %s\n", r.Name, r.TenantID, r.LastCollection.Error)
		if r.LastCollection.Advice != "" {
			fmt.Fprintf(w, "  fix: %s\n", r.LastCollection.Advice)
		}
	}
}

func cmdCheck(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "check", "[--config PATH]")
	cfgPath := configFlag(fs, e)
	if done, err := parse(fs, args); done {
		return err
	}
	cfg, err := loadConfig(e, *cfgPath, config.UseAll)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: config is valid (%d tenants, %s)\n", cfg.Path, len(cfg.Tenants), cloudsOf(cfg))
	hc := graph.NewHTTPClient()
	checkArchive(ctx, e, cfg, hc)
	return checkTokens(ctx, e, cfg, hc)
}

// checkArchive warns of the folders of the old name-keyed archive layout
// that two configured tenants map to, which collect cannot move to the
// tenants' ID folders. (Two tenants that would share an ID folder are one
// tenant_id listed twice, which the config already refuses.) It looks into
// the archive, reading only; when it cannot, it judges from the names.
func checkArchive(ctx context.Context, e env, cfg *config.Config, hc *http.Client) {
	if cfg.Archive == nil {
		return
	}
	refs := tenantRefs(cfg)
	var found []archive.Collision
	a := cfg.Archive
	if a.Folder != "" {
		if _, err := os.Stat(a.Folder); errors.Is(err, fs.ErrNotExist) {
			return // nothing archived yet, and check creates nothing
		}
	}
	arc, err := archive.Open(ctx, archiveConfig(a), e.getenv, hc)
	if err == nil {
		actx, cancel := context.WithTimeout(ctx, min(cfg.Timeout, time.Minute))
		found, err = archive.Unmigratable(actx, arc, refs)
		cancel()
		arc.Close()
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: %s:%d: archive: cannot look for folders of the old layout (%v); judging from the tenants' names alone\n", cfg.Path, a.Line, err)
		found, _ = archive.LegacyCollisions(refs)
	}
	line := map[string]int{}
	for _, t := range cfg.Tenants {
		line[t.ID] = t.Line
	}
	for _, c := range found {
		var names, dests []string
		for _, t := range c.Tenants {
			names = append(names, fmt.Sprintf("%q (%s:%d, %s)", t.Name, cfg.Path, line[t.ID], t.ID))
			dests = append(dests, t.ID+"/")
		}
		held := "if the archive holds that folder, its days"
		switch {
		case c.Days == 1:
			held = "the archive holds it with 1 day file, which"
		case c.Days > 1:
			held = fmt.Sprintf("the archive holds it with %d day files, which", c.Days)
		}
		fmt.Fprintf(e.stderr, "warning: archive: tenants %s map to the same folder %q of the archive layout before tenant-ID folders; %s cannot be attributed automatically and collect leaves them there. "+
			"fix: move each %s/{date}.json by hand into %s according to the azureTenantId inside it, then delete the folder\n",
			strings.Join(names, " and "), c.Folder, held, c.Folder, strings.Join(dests, " or "))
	}
}

// checkTokens gets a token for every tenant and says whether it carries the
// permission Secure Score needs, and, for a tenant with write_back on,
// whether it carries the one writing exceptions needs. It calls no Graph
// endpoint and writes nothing.
func checkTokens(ctx context.Context, e env, cfg *config.Config, hc *http.Client) error {
	w, err := wire(cfg, hc, newLogger(io.Discard, slog.LevelError))
	if err != nil {
		return err
	}
	sc := scrubberOf(cfg)
	writeBack := map[string]bool{}
	for _, t := range cfg.Tenants {
		writeBack[t.ID] = t.WriteBack
	}
	type outcome struct {
		ok          bool
		msg, advice string
		// write is the write-back line, when write_back is on; writeFix
		// its fix, when the token lacks the role.
		write, writeFix string
	}
	out := make([]outcome, len(w.jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(cfg.Concurrency, 1))
	for i, j := range w.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tctx, cancel := context.WithTimeout(ctx, min(cfg.Timeout, time.Minute))
			defer cancel()
			roles, err := w.graph.CheckToken(tctx, j.Target)
			switch {
			case err != nil:
				msg, advice := collect.Explain(err, j.ConsentURL)
				out[i] = outcome{msg: sc.String(msg), advice: sc.String(advice)}
			case roles == graph.RoleUnknown:
				// An opaque token: the first collection tells.
				out[i] = outcome{ok: true, msg: "token ok; it does not show its roles, so SecurityEvents.Read.All is checked at the first collection"}
			case roles == graph.RoleLacking:
				out[i] = outcome{
					msg:    "token issued, but it carries no SecurityEvents.Read.All role",
					advice: "grant the app the SecurityEvents.Read.All application permission and have an admin of this tenant consent: " + j.ConsentURL,
				}
			default:
				out[i] = outcome{ok: true, msg: "token ok, SecurityEvents.Read.All granted"}
			}
			if out[i].ok && writeBack[j.Tenant.ID] {
				out[i].write, out[i].writeFix = checkWriteRole(tctx, w.graph, j)
				out[i].write, out[i].writeFix = sc.String(out[i].write), sc.String(out[i].writeFix)
			}
		}()
	}
	wg.Wait()
	failed, lacking := 0, 0
	for i, j := range w.jobs {
		status := "ok   "
		if !out[i].ok {
			status = "error"
			failed++
		}
		fmt.Fprintf(e.stdout, "  %s  %-28s %s  %s\n", status, j.Tenant.Name, j.Tenant.ID, out[i].msg)
		if out[i].advice != "" {
			fmt.Fprintf(e.stdout, "         fix: %s\n", out[i].advice)
		}
		if out[i].write != "" {
			fmt.Fprintf(e.stdout, "         write-back: %s\n", out[i].write)
		}
		if out[i].writeFix != "" {
			lacking++
			fmt.Fprintf(e.stdout, "         fix: %s\n", out[i].writeFix)
		}
	}
	if lacking > 0 {
		// Not a failure: collection works, and exceptions stay in fleetscore.
		noun := "tenants with write_back on lack"
		if lacking == 1 {
			noun = "tenant with write_back on lacks"
		}
		fmt.Fprintf(e.stdout, "%d %s SecurityEvents.ReadWrite.All: their exceptions are kept in fleetscore only\n", lacking, noun)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d tenants cannot be collected", failed, len(w.jobs))
	}
	fmt.Fprintf(e.stdout, "all %d tenants can be collected\n", len(w.jobs))
	return nil
}

// checkWriteRole says whether a tenant's token carries the role that
// writing exceptions back needs, and the fix when it does not.
func checkWriteRole(ctx context.Context, gc fleetGraph, j collect.Job) (line, fix string) {
	role, err := gc.CheckWriteToken(ctx, j.Target)
	switch {
	case err != nil:
		msg, _ := collect.Explain(err, j.ConsentURL)
		return "cannot tell whether the token carries " + graph.WriteRole + ": " + msg, ""
	case role == graph.RoleGranted:
		return graph.WriteRole + " granted: exceptions are written to this tenant's Secure Score", ""
	case role == graph.RoleLacking:
		return "the token lacks " + graph.WriteRole + ": exceptions stay in fleetscore (local) until it is granted",
			graph.WriteRoleAdvice(j.Tenant.ID) + ": " + j.ConsentURL
	}
	return "the token does not show its roles, so " + graph.WriteRole + " is checked at the first write", ""
}

// cloudsOf names the clouds the tenants are in: "cloud global", or
// "clouds global (3 tenants), usgov (1 tenant)".
func cloudsOf(cfg *config.Config) string {
	var names []string
	n := map[string]int{}
	for _, t := range cfg.Tenants {
		name := t.Cloud.Name
		if name == "" {
			name = cfg.Cloud.Name
		}
		if n[name] == 0 {
			names = append(names, name)
		}
		n[name]++
	}
	if len(names) <= 1 {
		return "cloud " + cfg.Cloud.Name
	}
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s (%s)", name, plural(n[name], "tenant"))
	}
	return "clouds " + strings.Join(parts, ", ")
}
