package main

// fleetscore exceptions add|list: the register of exceptions (issue 14)
// from the command line, as the API's POST and GET /api/v1/exceptions.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/server"
)

// graphWriter writes exceptions into the tenants' Secure Score through
// each tenant's cloud's Graph client and app (the collection's wiring);
// write_back (top level, or the tenant's own) says where it may.
type graphWriter struct {
	g         fleetGraph
	targets   map[string]graph.Target
	writeBack map[string]bool
}

func (w graphWriter) SetControlState(ctx context.Context, tenantID, control, state, comment string) (fleetscore.ControlProfile, error) {
	t, ok := w.targets[tenantID]
	if !ok {
		return fleetscore.ControlProfile{}, fmt.Errorf("tenant %s is not in the config", tenantID)
	}
	return w.g.SetControlState(ctx, t, control, state, comment)
}

func (w graphWriter) WriteBack(tenantID string) bool { return w.writeBack[tenantID] }

// exceptionService is the register's service over the config's database;
// with w (the Graph wiring) it writes back where write_back allows, else
// every exception is local.
func exceptionService(store fleetscore.Store, cfg *config.Config, w *wiring) (*exceptions.Service, error) {
	es, ok := store.(exceptions.Store)
	if !ok {
		return nil, fmt.Errorf("database %s keeps no exceptions", redactDSN(cfg.Database))
	}
	svc := &exceptions.Service{Store: es, Approval: cfg.Exceptions != nil && cfg.Exceptions.Approval}
	if w != nil {
		gw := graphWriter{g: w.graph, targets: map[string]graph.Target{}, writeBack: map[string]bool{}}
		for _, j := range w.jobs {
			gw.targets[j.Tenant.ID] = j.Target
		}
		for _, t := range cfg.Tenants {
			gw.writeBack[t.ID] = t.WriteBack
		}
		svc.Writer = gw
	}
	return svc, nil
}

// followExceptions moves the register on after a collection: in effect,
// drifted, expired. A problem is logged; it never fails the collection.
func followExceptions(ctx context.Context, store fleetscore.Store, cfg *config.Config, log *slog.Logger) {
	svc, err := exceptionService(store, cfg, nil)
	if err != nil {
		return
	}
	changed, err := svc.Follow(ctx, time.Now())
	if err != nil {
		log.Error("exceptions", "err", err)
		return
	}
	var audit *auth.Service
	if as, ok := store.(auth.Store); ok {
		audit = &auth.Service{Store: as}
	}
	for _, x := range changed {
		log.Info("exception", "tenant", x.TenantID, "control", x.Control, "state", x.State, "status", x.Status)
		if audit != nil {
			audit.Audit(ctx, "fleetscore", "exception.follow", fmt.Sprintf("exception %d: %s at %s, state %s, now %s (from the collected data)",
				x.ID, x.Control, x.TenantID, x.State, x.Status), "")
		}
	}
}

func cmdExceptions(ctx context.Context, e env, args []string) error {
	return subcommand(e, "exceptions", "add|list", args, map[string]func([]string) error{
		"add":  func(a []string) error { return cmdExceptionsAdd(ctx, e, a) },
		"list": func(a []string) error { return cmdExceptionsList(ctx, e, a) },
	}, "  add --control C --state S --tenant ID [--tenant ID...] --reason R [--review-by YYYY-MM-DD]   apply an exception at each tenant\n"+
		"  list [--json]                                                                            list the register\n")
}

func cmdExceptionsAdd(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "exceptions add", "--control C --state S --tenant ID [--tenant ID...] --reason R [--review-by YYYY-MM-DD] [--config PATH]")
	cfgPath := configFlag(fs, e)
	control := fs.String("control", "", "the control profile's id, e.g. mdo_safelinksforemail")
	state := fs.String("state", "", "ThirdParty, Ignored, Reviewed, or Default to clear")
	reason := fs.String("reason", "", "why, for the auditor (required)")
	reviewBy := fs.String("review-by", "", "the review date, YYYY-MM-DD (required for Ignored; default a year from today)")
	owner := fs.String("owner", "", "who owns the exception")
	asJSON := fs.Bool("json", false, "print the exceptions as JSON")
	template := fs.String("template", "", "apply the config's template of this name (exceptions.templates) instead of --control, --state and --reason")
	var tenants listFlag
	fs.Var(&tenants, "tenant", "a tenant ID to apply it to (repeat for several)")
	if done, err := parse(fs, args); done {
		return err
	}
	req := exceptions.Request{Control: *control, Tenants: tenants, State: *state, Reason: *reason, Owner: *owner}
	if *reviewBy != "" {
		d, err := fleetscore.ParseDay(*reviewBy)
		if err != nil {
			return fmt.Errorf("--review-by: %w", err)
		}
		req.ReviewBy = d
	}
	cfg, err := loadConfig(e, *cfgPath, config.UseGraph)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	w, err := wire(cfg, graph.NewHTTPClient(), scrubbed(newLogger(e.stderr, cfg.LogLevel), scrubberOf(cfg)))
	if err != nil {
		return err
	}
	svc, err := exceptionService(store, cfg, w)
	if err != nil {
		return err
	}
	who := auth.Principal{Name: "cli", Role: auth.RoleAdmin}
	var out []exceptions.Exception
	if *template != "" {
		tmpl, ok := templateOf(cfg, *template)
		if !ok {
			return fmt.Errorf("exceptions add: %s has no template %q under exceptions.templates", cfg.Path, *template)
		}
		out, err = svc.ApplyTemplate(ctx, who, tmpl, tenants, req.ReviewBy, req.Owner)
	} else {
		out, err = svc.Apply(ctx, who, req)
	}
	if as, ok := store.(auth.Store); ok {
		a := &auth.Service{Store: as}
		for _, x := range out {
			a.Audit(ctx, "cli", "exception.apply", fmt.Sprintf("exception %d: %s at %s, state %s, status %s, review by %s, reason %q, error %q, Graph: %q",
				x.ID, x.Control, x.TenantID, x.State, x.Status, x.ReviewBy, x.Reason, x.Error, x.GraphAnswer), "")
		}
	}
	if err != nil {
		if errors.Is(err, exceptions.ErrInvalid) {
			return fmt.Errorf("exceptions add: %w", err)
		}
		return err
	}
	if *asJSON {
		return printJSON(e, out)
	}
	printExceptions(e, out)
	return nil
}

func cmdExceptionsList(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "exceptions list", "[--json] [--tenant ID] [--control C] [--status S] [--config PATH]")
	cfgPath := configFlag(fs, e)
	asJSON := fs.Bool("json", false, "print the register as JSON (the API's exception objects)")
	tenant := fs.String("tenant", "", "only this tenant")
	control := fs.String("control", "", "only this control")
	status := fs.String("status", "", "only this status")
	if done, err := parse(fs, args); done {
		return err
	}
	cfg, err := loadConfig(e, *cfgPath, 0)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := exceptionService(store, cfg, nil)
	if err != nil {
		return err
	}
	out, err := svc.List(ctx, exceptions.Filter{TenantID: *tenant, Control: *control, Status: *status})
	if err != nil {
		return err
	}
	if *asJSON {
		if out == nil {
			out = []exceptions.Exception{}
		}
		return printJSON(e, out)
	}
	printExceptions(e, out)
	return nil
}

func printJSON(e env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printExceptions(e env, out []exceptions.Exception) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tCONTROL\tSTATE\tSTATUS\tREVIEW BY\tCREATED BY\tCREATED\tREASON\tERROR")
	for _, x := range out {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.TenantID, x.Control, x.State, x.Status, x.ReviewBy,
			x.CreatedBy, x.CreatedAt.UTC().Format(time.RFC3339), x.Reason, x.Error)
	}
	tw.Flush()
}

// exceptionBookFor is the register the server offers; nil (no
// /api/v1/exceptions) when the database keeps none.
func exceptionBookFor(cfg *config.Config, store fleetscore.Store, w *wiring) server.ExceptionBook {
	svc, err := exceptionService(store, cfg, w)
	if err != nil {
		return nil
	}
	return svc
}

// templatesOf is the config's saved templates of exceptions.
func templatesOf(cfg *config.Config) []exceptions.Template {
	if cfg.Exceptions == nil {
		return nil
	}
	var out []exceptions.Template
	for _, t := range cfg.Exceptions.Templates {
		x := exceptions.Template{Name: t.Name}
		for _, it := range t.Items {
			x.Items = append(x.Items, exceptions.TemplateItem{Control: it.Control, State: it.State, Reason: it.Reason})
		}
		out = append(out, x)
	}
	return out
}

// templateOf is the config's template of that name (case-insensitive).
func templateOf(cfg *config.Config, name string) (exceptions.Template, bool) {
	for _, t := range templatesOf(cfg) {
		if strings.EqualFold(t.Name, name) {
			return t, true
		}
	}
	return exceptions.Template{}, false
}
