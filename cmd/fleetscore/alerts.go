package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/mail"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/server"
)

// alertChannels builds the config's channels. Secrets pass as the Reveal
// method of the config's Secret, so they stay REDACTED everywhere else.
func alertChannels(cfg *config.Config, hc *http.Client) []alert.Channel {
	hello := mailHello()
	var out []alert.Channel
	for _, c := range cfg.Channels {
		switch c.Type {
		case config.ChannelTeams:
			out = append(out, alert.NewTeams(c.Name, c.URL.Reveal, hc))
		case config.ChannelSlack:
			out = append(out, alert.NewSlack(c.Name, c.URL.Reveal, hc))
		case config.ChannelWebhook:
			out = append(out, alert.NewWebhook(c.Name, c.URL.Reveal, c.Secret.Reveal, hc, nil))
		case config.ChannelEmail:
			out = append(out, alert.NewMailChannel(c.Name, c.Type, c.SMTP, c.To, mailSender(cfg, c, hello)))
		case config.ChannelGraphMail:
			out = append(out, alert.NewMailChannel(c.Name, c.Type, "Microsoft Graph as "+c.Sender, c.To, mailSender(cfg, c, hello)))
		}
	}
	return out
}

// mailSender is the mail.Sender of an email or graph_mail channel of the
// config; the alerts' mail channels and the client reports send through
// it. Secrets pass as Reveal method values. A channel that cannot be
// built fails each send, permanently, saying why.
func mailSender(cfg *config.Config, c config.Channel, hello string) mail.Sender {
	switch c.Type {
	case config.ChannelGraphMail:
		return graphMailSender(cfg, c)
	case config.ChannelEmail:
		host, port, err := net.SplitHostPort(c.SMTP)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			return failedSender{fmt.Errorf("channel %s: smtp %q is not host:port", c.Name, c.SMTP)}
		}
		sc := mail.SMTPConfig{Host: host, Port: n, Security: c.Security, Auth: c.Auth, Username: c.Username,
			Password: c.Password.Reveal, From: c.From, RootCAs: c.RootCAs, Hello: hello}
		if c.Auth == config.AuthXOAUTH2 {
			sc.Token = exchangeToken(cfg, c)
		}
		s, err := mail.NewSMTP(sc)
		if err != nil {
			return failedSender{fmt.Errorf("channel %s: %w", c.Name, err)}
		}
		return s
	}
	return failedSender{fmt.Errorf("channel %s is a %s channel, not a mail channel", c.Name, c.Type)}
}

// mailHello is the name sent in EHLO: this machine's, when it has dots.
func mailHello() string {
	hello, err := os.Hostname()
	if err != nil || !strings.Contains(hello, ".") {
		hello = "localhost"
	}
	return hello
}

// graphMailSender is a graph_mail channel's sender: Graph's sendMail in
// the MSSP's tenant, with an azidentity credential for the channel's app
// built as the collector builds its own (graph.NewCredential), in the
// file's cloud. A channel that cannot be built fails each send saying why.
func graphMailSender(cfg *config.Config, c config.Channel) mail.Sender {
	hc := graph.NewHTTPClient() // the system's CAs and SSL_CERT_FILE; no redirects with a token
	gc, err := graph.New(graph.Options{BaseURL: cfg.Cloud.GraphURL, Scope: cfg.Cloud.GraphScope, HTTPClient: hc, MaxAttempts: 3})
	if err != nil {
		return failedSender{err}
	}
	target, err := appTarget(c.App, c.TenantID, cfg.Cloud, hc)
	if err != nil {
		return failedSender{fmt.Errorf("%s:%d: channel %s: %w", cfg.Path, c.Line, c.Name, err)}
	}
	return gc.MailSender(target, c.Sender)
}

// exchangeScopes are Exchange Online's token scopes by cloud, for SMTP
// AUTH XOAUTH2.
var exchangeScopes = map[string]string{
	"global":   "https://outlook.office365.com/.default",
	"usgov":    "https://outlook.office365.us/.default",
	"usgovdod": "https://outlook-dod.office365.us/.default",
}

// exchangeToken gets the channel's app a token for Exchange Online in the
// MSSP's tenant (SMTP.SendAsApp), from the same kind of azidentity
// credential the collector uses; azidentity caches it until near expiry.
func exchangeToken(cfg *config.Config, c config.Channel) func(context.Context) (string, error) {
	target, err := appTarget(c.App, c.TenantID, cfg.Cloud, graph.NewHTTPClient())
	scope := exchangeScopes[cfg.Cloud.Name]
	if scope == "" {
		scope = exchangeScopes["global"]
	}
	return func(ctx context.Context) (string, error) {
		if err != nil {
			return "", err
		}
		tok, err := target.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: c.TenantID})
		if err != nil {
			e := graph.TokenError(c.TenantID, c.App.ClientID, err)
			if e.Advice != "" {
				return "", fmt.Errorf("%s: %s", e.Error(), e.Advice)
			}
			return "", e
		}
		return tok.Token, nil
	}
}

// appTarget is a config app's credential for one tenant of a cloud.
func appTarget(a *config.App, tenant string, cloud config.Cloud, hc *http.Client) (graph.Target, error) {
	if a == nil {
		return graph.Target{}, errors.New("no app")
	}
	app := graph.App{ClientID: a.ClientID, Certificates: a.Certificates, Key: a.Key}
	if a.Secret != "" {
		app.Secret = a.Secret.Reveal
	}
	cred, err := graph.NewCredential(app, tenant, graph.AuthOptions{AuthorityHost: cloud.AuthorityHost, Custom: cloud.Custom, HTTPClient: hc})
	if err != nil {
		return graph.Target{}, fmt.Errorf("app %s: %w", a.ClientID, err)
	}
	return graph.Target{TenantID: tenant, ClientID: a.ClientID, Credential: cred}, nil
}

// failedSender is a mail channel that could not be built: every send
// fails, permanently, saying why.
type failedSender struct{ err error }

func (f failedSender) Send(context.Context, mail.Message) error {
	return &mail.Error{Msg: f.err.Error(), Perm: true}
}

func alertRules(cfg *config.Config) []alert.Rule {
	out := make([]alert.Rule, 0, len(cfg.Alerts))
	for _, r := range cfg.Alerts {
		out = append(out, alert.Rule{Name: r.Name, When: r.When, Points: r.Points, Percent: r.Percent,
			Days: r.Days, Runs: r.Runs, Tenants: r.Tenants, Channels: r.Channels})
	}
	return out
}

// alertHTTPClient is the channels' client: the system's CAs (and
// SSL_CERT_FILE), proxies from the environment, and a deadline.
func alertHTTPClient() *http.Client {
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: time.Minute}
}

// alertEngine is the alert engine of the config over the store.
func alertEngine(cfg *config.Config, store fleetscore.Store, log *slog.Logger) (*alert.Engine, error) {
	state, ok := store.(alert.StateStore)
	src, ok2 := store.(query.Source)
	if !ok || !ok2 {
		return nil, fmt.Errorf("database %s keeps no alert state: alerts need a store that keeps alert state", redactDSN(cfg.Database))
	}
	var ids []string
	for _, t := range cfg.Tenants {
		ids = append(ids, t.ID)
	}
	over := cfg.DigestOver
	if over == 0 {
		over = -1 // digest_over: 0 never digests
	}
	return &alert.Engine{Store: state, Source: src, Rules: alertRules(cfg), Channels: alertChannels(cfg, alertHTTPClient()),
		Tenants: ids, Logger: log, DigestOver: over, PublicURL: cfg.PublicURL}, nil
}

// alertsAfterRun returns what collect and serve call after each collection:
// it evaluates the alert rules and sends their messages. Nothing it does
// fails the collection: a problem is logged, a channel that does not take a
// message keeps it queued for the next run. Without alert rules it does
// nothing.
func alertsAfterRun(cfg *config.Config, store fleetscore.Store, log *slog.Logger) func(context.Context, collect.Summary) {
	if len(cfg.Alerts) == 0 {
		return func(context.Context, collect.Summary) {}
	}
	eng, err := alertEngine(cfg, store, log)
	if err != nil {
		log.Error("alerts are off", "err", err)
		return func(context.Context, collect.Summary) {}
	}
	return func(ctx context.Context, sum collect.Summary) {
		if ctx.Err() != nil {
			return // interrupted: the next run evaluates
		}
		rep, err := eng.EvaluateRun(ctx, alertRun(sum))
		if err != nil {
			log.Error("alert evaluation", "err", err)
		}
		if len(rep.Fired)+len(rep.Resolved)+rep.Delivered+rep.Pending+rep.Expired > 0 {
			log.Info("alerts", "fired", len(rep.Fired), "resolved", len(rep.Resolved),
				"delivered", rep.Delivered, "queued", rep.Pending, "dropped", rep.Expired)
		}
	}
}

// alertRun tells the alerts which tenants the run backfilled: their
// history sets a baseline and fires no change alert.
func alertRun(sum collect.Summary) alert.Run {
	var run alert.Run
	for _, r := range sum.Results {
		if r.Backfill {
			run.Backfilled = append(run.Backfilled, r.Tenant.ID)
		}
	}
	return run
}

func cmdAlerts(ctx context.Context, e env, args []string) error {
	const synopsis = "test|list [--config PATH]"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlags(e, "alerts", synopsis)
		fs.Usage = func() {
			fmt.Fprintf(e.stdout, "Usage: fleetscore alerts %s\n\n", synopsis)
			fmt.Fprintln(e.stdout, "  test   send a test message to every channel of the config")
			fmt.Fprintln(e.stdout, "  list   show the open alerts and the latest messages sent")
		}
		if done, err := parse(fs, args); done {
			return err
		}
		fs.Usage()
		return exitError{2}
	}
	switch args[0] {
	case "test":
		return cmdAlertsTest(ctx, e, args[1:])
	case "list":
		return cmdAlertsList(ctx, e, args[1:])
	}
	return fmt.Errorf("alerts: unknown subcommand %q: use test or list", args[0])
}

func cmdAlertsTest(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "alerts test", "[--config PATH]")
	cfgPath := configFlag(fs, e)
	if done, err := parse(fs, args); done {
		return err
	}
	cfg, err := loadConfig(e, *cfgPath, config.UseChannels)
	if err != nil {
		return err
	}
	if len(cfg.Channels) == 0 {
		return fmt.Errorf("%s has no channels: list; add one (see docs/alerts.md)", cfg.Path)
	}
	eng := &alert.Engine{Channels: alertChannels(cfg, alertHTTPClient())}
	fmt.Fprintf(e.stdout, "sending a test message to %s\n", plural(len(cfg.Channels), "channel"))
	failed := 0
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	for _, r := range eng.Test(ctx) {
		if r.Err != nil {
			failed++
			fmt.Fprintf(tw, "  error\t%s\t%s\t%s\n", r.Channel, r.Type, r.Err)
			continue
		}
		fmt.Fprintf(tw, "  ok\t%s\t%s\t%s\n", r.Channel, r.Type, r.Took.Round(time.Millisecond))
	}
	tw.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %s did not take the test message", failed, plural(len(cfg.Channels), "channel"))
	}
	if len(cfg.Channels) == 1 {
		fmt.Fprintln(e.stdout, "the channel took the test message")
		return nil
	}
	fmt.Fprintf(e.stdout, "all %d channels took the test message\n", len(cfg.Channels))
	return nil
}

func cmdAlertsList(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "alerts list", "[--config PATH] [--limit N]")
	cfgPath := configFlag(fs, e)
	limit := fs.Int("limit", 20, "how many of the latest messages to show")
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
	state, ok := store.(alert.StateStore)
	if !ok {
		return errors.New("this database keeps no alert state")
	}
	open, err := state.OpenAlerts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(e.stdout, "%d open alerts\n", len(open))
	if len(open) > 0 {
		fmt.Fprintln(tw, "RULE\tTENANT\tCONTROL\tSINCE\tSUMMARY")
		for _, o := range open {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Rule, dash(o.TenantName), dash(o.Subject), o.OpenedAt.UTC().Format("2006-01-02 15:04"), o.Summary)
		}
		tw.Flush()
	}
	ds, err := state.Deliveries(ctx, *limit)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nlatest %d messages, newest first\n", len(ds))
	if len(ds) > 0 {
		fmt.Fprintln(tw, "ID\tCHANNEL\tEVENT\tTITLE\tQUEUED\tSTATUS\tATTEMPTS\tLAST ERROR")
		for _, d := range ds {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.Channel, d.Message.Event, d.Message.Title,
				d.CreatedAt.UTC().Format("2006-01-02 15:04"), d.Status, d.Attempts, dash(d.LastError))
		}
		tw.Flush()
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// openAlertsFor gives the pages the open alerts, when alerts are configured.
func openAlertsFor(cfg *config.Config, store fleetscore.Store) func(context.Context) (map[string][]server.OpenAlert, error) {
	state, ok := store.(alert.StateStore)
	if len(cfg.Alerts) == 0 || !ok {
		return nil
	}
	return func(ctx context.Context) (map[string][]server.OpenAlert, error) {
		open, err := alert.OpenByTenant(ctx, state)
		if err != nil {
			return nil, err
		}
		out := make(map[string][]server.OpenAlert, len(open))
		for tenant, list := range open {
			for _, a := range list {
				out[tenant] = append(out[tenant], server.OpenAlert{Rule: a.Rule, Title: a.Title, Summary: a.Summary, Since: a.OpenedAt})
			}
		}
		return out, nil
	}
}

// plural is "1 channel" or "2 channels".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// alertBook is the alerts page's view of the alert state.
type alertBook struct {
	state alert.StateStore
	now   func() time.Time
}

var _ server.AlertBook = alertBook{}

// alertBookFor gives the alerts page the alert state, when alerts are
// configured.
func alertBookFor(cfg *config.Config, store fleetscore.Store) server.AlertBook {
	state, ok := store.(alert.StateStore)
	if len(cfg.Alerts) == 0 || !ok {
		return nil
	}
	return alertBook{state: state, now: time.Now}
}

func (b alertBook) Alerts(ctx context.Context, limit int) ([]server.AlertEntry, error) {
	all, err := b.state.Alerts(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]server.AlertEntry, 0, len(all))
	for _, a := range all {
		e := server.AlertEntry{ID: a.ID, Rule: a.Rule, TenantID: a.Tenant, Tenant: a.TenantName, Title: a.Title,
			Summary: a.Summary, Reason: a.Reason, Since: a.OpenedAt, Resolved: a.ResolvedAt}
		if a.Ack != nil {
			e.AckBy, e.AckNote, e.AckAt = a.Ack.By, a.Ack.Note, a.Ack.At
		}
		out = append(out, e)
	}
	return out, nil
}

func (b alertBook) Acknowledge(ctx context.Context, id int64, by, note string) error {
	return b.state.Acknowledge(ctx, id, alert.Ack{By: by, Note: note, At: b.now().UTC()})
}
