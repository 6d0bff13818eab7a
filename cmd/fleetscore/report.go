package main

// fleetscore report: a client's report for a period, written to a file
// (PDF or print-friendly HTML), and `report send`: each tenant with
// report_to gets its report by e-mail through reports.channel, recorded so
// that none is sent twice. serve and collect send the scheduled ones after
// each collection (reportsAfterRun).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/mail"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/report"
)

func cmdReport(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "send" {
		return cmdReportSend(ctx, e, args[1:], time.Now)
	}
	fs := newFlags(e, "report", "--tenant ID --period 2026-11|2026-Q4|FROM..TO [--format pdf|html] --out FILE [--config PATH]\n"+
		"       fleetscore report send --period 2026-11 [--dry-run] [--config PATH]")
	cfgPath := configFlag(fs, e)
	tenant := fs.String("tenant", "", "the tenant's ID")
	periodFlag := fs.String("period", "", "a month (2026-11), a quarter (2026-Q4) or FROM..TO (2026-10-05..2026-11-04); default last month")
	format := fs.String("format", "pdf", "pdf or html")
	out := fs.String("out", "", "the file to write (- for standard output)")
	if done, err := parse(fs, args); done {
		return err
	}
	if *tenant == "" || *out == "" {
		return errors.New("--tenant and --out are required (see fleetscore report --help)")
	}
	if *format != "pdf" && *format != "html" {
		return fmt.Errorf("--format %q is not pdf or html", *format)
	}
	p, err := periodOf(*periodFlag, time.Now())
	if err != nil {
		return fmt.Errorf("--period: %w", err)
	}
	cfg, err := loadConfig(e, *cfgPath, 0)
	if err != nil {
		return err
	}
	store, src, err := reportStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	c, err := report.Build(ctx, src, registersOf(store), *tenant, p, time.Now())
	if errors.Is(err, fleetscore.ErrNotFound) {
		return fmt.Errorf("tenant %s is not in the database (see `fleetscore tenants`)", *tenant)
	}
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if *format == "html" {
		err = report.HTML(&b, c, brandingOf(cfg))
	} else {
		var pdf []byte
		pdf, err = report.PDF(c, brandingOf(cfg))
		b.Write(pdf)
	}
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = e.stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	fmt.Fprintf(e.stdout, "wrote %s: the %s report of %s for %s (%d bytes)\n", *out, *format, c.Tenant.Name, p.Key, b.Len())
	return nil
}

func cmdReportSend(ctx context.Context, e env, args []string, now func() time.Time) error {
	fs := newFlags(e, "report send", "--period 2026-11 [--dry-run] [--config PATH]")
	cfgPath := configFlag(fs, e)
	periodFlag := fs.String("period", "", "the period to send (2026-11, 2026-Q4); default last month")
	dryRun := fs.Bool("dry-run", false, "build each report and say what would be sent; send and record nothing")
	if done, err := parse(fs, args); done {
		return err
	}
	p, err := periodOf(*periodFlag, now())
	if err != nil {
		return fmt.Errorf("--period: %w", err)
	}
	use := config.UseChannels
	if *dryRun {
		use = 0
	}
	cfg, err := loadConfig(e, *cfgPath, use)
	if err != nil {
		return err
	}
	store, _, err := reportStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	d, err := deliverer(cfg, store, now, newLogger(e.stderr, cfg.LogLevel), !*dryRun)
	if err != nil {
		return err
	}
	if len(d.Recipients) == 0 {
		return errors.New("no tenant has report_to: add report_to: [addresses] to the tenants whose reports are mailed")
	}
	outcomes, err := d.Send(ctx, p, *dryRun)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, o := range outcomes {
		what := "sent"
		switch {
		case o.AlreadySent:
			what = "already sent"
		case o.NoData:
			what = "no data in the period: not sent"
		case o.Err != nil:
			what = "failed: " + o.Err.Error()
		case *dryRun:
			what = "would send"
		}
		name := o.Name
		if name == "" {
			name = o.TenantID
		}
		size := ""
		if o.Bytes > 0 {
			size = strconv.Itoa(o.Bytes) + " bytes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d recipients\t%s\t%s\n", name, p.Key, len(o.To), size, what)
	}
	tw.Flush()
	return err
}

func periodOf(s string, now time.Time) (report.Period, error) {
	if s == "" {
		return report.LastMonth(now), nil
	}
	return report.ParsePeriod(s)
}

// reportStore opens the database, which must be a query.Source and a
// report.Log.
func reportStore(ctx context.Context, cfg *config.Config) (fleetscore.Store, query.Source, error) {
	store, err := openStore(ctx, cfg.Database)
	if err != nil {
		return nil, nil, err
	}
	src, ok := store.(query.Source)
	if _, logs := store.(report.Log); !ok || !logs {
		store.Close()
		return nil, nil, fmt.Errorf("database %s keeps no reports", redactDSN(cfg.Database))
	}
	return store, src, nil
}

// registersOf reads the exceptions register and the campaigns of the
// store, where it keeps them.
func registersOf(store fleetscore.Store) report.Registers {
	var regs report.Registers
	if reg, ok := store.(exceptions.Register); ok {
		regs.Exceptions = func(ctx context.Context, tenantID string) ([]exceptions.Exception, error) {
			return reg.Exceptions(ctx, exceptions.Filter{TenantID: tenantID})
		}
	}
	if cs, ok := store.(campaign.Store); ok {
		svc := &campaign.Service{Store: cs}
		regs.Campaigns = func(ctx context.Context, tenantID string) ([]campaign.Progress, error) {
			return svc.List(ctx, func(id string) bool { return strings.EqualFold(id, tenantID) })
		}
	}
	return regs
}

// brandingOf is the reports: block as the report package takes it.
func brandingOf(cfg *config.Config) report.Branding {
	r := cfg.Reports
	if r == nil {
		return report.Branding{}
	}
	return report.Branding{Name: r.Name, Logo: r.Logo, Accent: r.Accent, Footer: r.Footer, Paper: r.Paper, Locale: r.Locale}
}

// deliverer wires the reports' delivery from the config; with send, the
// channel's sender (an error when reports.channel is not set).
func deliverer(cfg *config.Config, store fleetscore.Store, now func() time.Time, log *slog.Logger, send bool) (*report.Deliverer, error) {
	src, ok := store.(query.Source)
	sent, logs := store.(report.Log)
	if !ok || !logs {
		return nil, fmt.Errorf("database %s keeps no reports", redactDSN(cfg.Database))
	}
	d := &report.Deliverer{Source: src, Log: sent, Branding: brandingOf(cfg), Now: now, Logger: log,
		Registers: registersOf(store)}
	for _, t := range cfg.Tenants {
		if len(t.ReportTo) > 0 {
			d.Recipients = append(d.Recipients, report.Recipients{TenantID: t.ID, To: t.ReportTo})
		}
	}
	if r := cfg.Reports; r != nil && r.Schedule != nil {
		d.Schedule = &report.Schedule{Every: r.Schedule.Every, Day: r.Schedule.Day, Hour: r.Schedule.Hour, Minute: r.Schedule.Minute}
	}
	if !send {
		return d, nil
	}
	s, err := reportSender(cfg)
	if err != nil {
		return nil, err
	}
	d.Sender = s
	return d, nil
}

// reportSender is the sender of reports.channel: an email (SMTP) or
// graph_mail channel, built as the alerts' channels are (mailSender).
func reportSender(cfg *config.Config) (mail.Sender, error) {
	if cfg.Reports == nil || cfg.Reports.Channel == "" {
		return nil, errors.New("reports.channel is not set: add a reports: block with channel: naming an email or graph_mail channel")
	}
	for _, ch := range cfg.Channels {
		if ch.Name == cfg.Reports.Channel && (ch.Type == config.ChannelEmail || ch.Type == config.ChannelGraphMail) {
			return mailSender(cfg, ch, mailHello()), nil
		}
	}
	return nil, fmt.Errorf("reports.channel %s is not an email or graph_mail channel", cfg.Reports.Channel)
}

// reportsAfterRun sends the reports the schedule has due, after a
// collection; nothing without reports.schedule or recipients. A failure
// is logged and tried again after the next collection.
func reportsAfterRun(cfg *config.Config, store fleetscore.Store, log *slog.Logger, now func() time.Time) func(context.Context) {
	nothing := func(context.Context) {}
	if cfg.Reports == nil || cfg.Reports.Schedule == nil {
		return nothing
	}
	d, err := deliverer(cfg, store, now, log, true)
	if err != nil {
		log.Error("reports are off", "err", err)
		return nothing
	}
	if len(d.Recipients) == 0 {
		return nothing
	}
	return func(ctx context.Context) {
		if ctx.Err() != nil {
			return
		}
		p, out, err := d.Run(ctx)
		sent := 0
		for _, o := range out {
			if o.Sent {
				sent++
			}
		}
		if sent > 0 || err != nil {
			log.Info("client reports", "period", p.Key, "sent", sent, "of", len(out), "err", err)
		}
	}
}
