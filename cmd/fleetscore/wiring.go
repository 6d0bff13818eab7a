package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/archive"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/internal/redact"
	"github.com/fleetscore/fleetscore/postgres"
	"github.com/fleetscore/fleetscore/sqlite"
)

// openStore opens the database the config names.
func openStore(ctx context.Context, dsn string) (fleetscore.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
		}
		return s, nil
	default:
		s, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		return s, nil
	}
}

// redactDSN hides a password in a connection string.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":REDACTED" + dsn[at:]
			}
		}
	}
	return dsn
}

// scrubberOf knows every secret value the config holds, to remove it from
// any text an upstream sends back before it is stored, logged or shown.
func scrubberOf(cfg *config.Config) *redact.Scrubber {
	var vals []string
	for _, t := range cfg.Tenants {
		if t.App != nil {
			vals = append(vals, t.App.Secret.Reveal())
		}
	}
	for _, c := range cfg.Channels {
		vals = append(vals, c.URL.Reveal(), c.Secret.Reveal(), c.Password.Reveal())
		if c.App != nil {
			vals = append(vals, c.App.Secret.Reveal())
		}
	}
	if a := cfg.Auth; a != nil {
		vals = append(vals, a.MetricsToken.Reveal())
		if a.OIDC != nil {
			vals = append(vals, a.OIDC.ClientSecret.Reveal())
		}
	}
	return redact.New(vals...)
}

// scrubbed is log with the config's secrets removed from every record.
func scrubbed(log *slog.Logger, sc *redact.Scrubber) *slog.Logger {
	return slog.New(sc.Handler(log.Handler()))
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// wiring is what collect and check share: the Graph client of each cloud
// and one job per tenant, with one credential per app registration.
type wiring struct {
	graph fleetGraph
	jobs  []collect.Job
}

// fleetGraph reads each tenant through the Graph client of its cloud: the
// tenant's token scope and Graph host follow its cloud.
type fleetGraph struct {
	byTenant map[string]*graph.Client
}

var _ collect.Reader = fleetGraph{}

func (g fleetGraph) client(t graph.Target) (*graph.Client, error) {
	c, ok := g.byTenant[t.TenantID]
	if !ok {
		return nil, fmt.Errorf("tenant %s is not in the config", t.TenantID)
	}
	return c, nil
}

func (g fleetGraph) SecureScores(ctx context.Context, t graph.Target, top int) ([]fleetscore.Score, error) {
	c, err := g.client(t)
	if err != nil {
		return nil, err
	}
	return c.SecureScores(ctx, t, top)
}

func (g fleetGraph) ControlProfiles(ctx context.Context, t graph.Target) ([]fleetscore.ControlProfile, error) {
	c, err := g.client(t)
	if err != nil {
		return nil, err
	}
	return c.ControlProfiles(ctx, t)
}

func (g fleetGraph) CheckToken(ctx context.Context, t graph.Target) (graph.RoleKnowledge, error) {
	c, err := g.client(t)
	if err != nil {
		return graph.RoleUnknown, err
	}
	return c.CheckToken(ctx, t)
}

func (g fleetGraph) CheckWriteToken(ctx context.Context, t graph.Target) (graph.RoleKnowledge, error) {
	c, err := g.client(t)
	if err != nil {
		return graph.RoleUnknown, err
	}
	return c.CheckWriteToken(ctx, t)
}

// SetControlState writes a control's state into the tenant's Secure Score
// through its cloud's Graph client (exceptions' write-back).
func (g fleetGraph) SetControlState(ctx context.Context, t graph.Target, control, state, comment string) (fleetscore.ControlProfile, error) {
	c, err := g.client(t)
	if err != nil {
		return fleetscore.ControlProfile{}, err
	}
	return c.SetControlState(ctx, t, control, state, comment)
}

func wire(cfg *config.Config, hc *http.Client, log *slog.Logger) (*wiring, error) {
	type endpoints struct{ graphURL, scope string }
	clients := make(map[endpoints]*graph.Client)
	type credKey struct {
		app  *config.App
		host string
	}
	creds := make(map[credKey]graph.Target)
	w := &wiring{graph: fleetGraph{byTenant: make(map[string]*graph.Client, len(cfg.Tenants))}}
	for _, t := range cfg.Tenants {
		cloud := t.Cloud
		if cloud.GraphURL == "" {
			cloud = cfg.Cloud
		}
		ep := endpoints{cloud.GraphURL, cloud.GraphScope}
		gc, ok := clients[ep]
		if !ok {
			var err error
			gc, err = graph.New(graph.Options{
				BaseURL:    cloud.GraphURL,
				Scope:      cloud.GraphScope,
				HTTPClient: hc,
				Logger:     log,
			})
			if err != nil {
				return nil, err
			}
			clients[ep] = gc
		}
		w.graph.byTenant[t.ID] = gc
		ck := credKey{t.App, cloud.AuthorityHost}
		target, ok := creds[ck]
		if !ok {
			var err error
			if target, err = appTarget(t.App, t.ID, cloud, hc); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", cfg.Path, t.App.Line, err)
			}
			creds[ck] = target
		}
		target.TenantID = t.ID
		w.jobs = append(w.jobs, collect.Job{
			Tenant:     t.Domain(),
			Target:     target,
			ConsentURL: cfg.AdminConsentURL(t),
		})
	}
	return w, nil
}

func tenantsOf(jobs []collect.Job) []fleetscore.Tenant {
	ts := make([]fleetscore.Tenant, len(jobs))
	for i, j := range jobs {
		ts[i] = j.Tenant
	}
	return ts
}

// openArchive opens the raw-snapshot archive the config names, if any, as
// the collector's Archive, and moves what versions before the tenant-ID
// layout wrote there for the configured tenants (archive.Migrate). A
// migration that fails or leaves days behind is logged, never fatal: the
// collection writes the new layout either way and the next start tries
// again. close releases the archive.
func openArchive(ctx context.Context, cfg *config.Config, getenv func(string) string, hc *http.Client, log *slog.Logger) (collect.Archive, func(), error) {
	if cfg.Archive == nil {
		return nil, func() {}, nil
	}
	a := cfg.Archive
	arc, err := archive.Open(ctx, archiveConfig(a), getenv, hc)
	if err != nil {
		return nil, nil, fmt.Errorf("%s:%d: archive: %w", cfg.Path, a.Line, err)
	}
	// Bounded like one tenant's collection, so an unreachable account
	// delays the start no longer than that.
	mctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r, err := archive.Migrate(mctx, arc, tenantRefs(cfg))
	if n := len(r.Moved); n > 0 {
		log.Info("archive: moved days of the old name-keyed layout into tenant-ID folders", "days", n)
	}
	for _, w := range r.Warnings() {
		log.Warn(w)
	}
	if err != nil {
		log.Warn("archive: moving the old name-keyed layout did not finish; the next start tries again", "err", err)
	}
	return archiveAdapter{arc}, func() { _ = arc.Close() }, nil
}

func archiveConfig(a *config.Archive) archive.Config {
	return archive.Config{
		Kind: a.Kind(), Folder: a.Folder, Container: a.Container, AccountURL: a.AccountURL,
		ConnectionStringEnv: a.ConnectionStringEnv, AccountKeyEnv: a.AccountKeyEnv,
		ManagedIdentity: a.ManagedIdentity, ClientID: a.ClientID,
	}
}

// tenantRefs are the configured tenants as the archive knows them.
func tenantRefs(cfg *config.Config) []archive.TenantRef {
	refs := make([]archive.TenantRef, len(cfg.Tenants))
	for i, t := range cfg.Tenants {
		refs[i] = archive.TenantRef{ID: t.ID, Name: t.Name}
	}
	return refs
}

// archiveAdapter gives the collector an archive.Archiver.
type archiveAdapter struct{ a archive.Archiver }

func (x archiveAdapter) Put(ctx context.Context, t fleetscore.Tenant, day fleetscore.Day, raw []byte) error {
	return x.a.Put(ctx, archive.Snapshot{TenantID: t.ID, TenantName: t.Name, Day: day, JSON: raw})
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
