package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/fleetscore/fleetscore/mail"
	"github.com/fleetscore/fleetscore/query"
)

// Schedule frequencies.
const (
	Monthly   = "monthly"
	Quarterly = "quarterly"
)

// CatchUp is how long after its time a scheduled send is still made: a
// run in the week after the time sends the reports not sent yet (a failed
// send is tried again at each run), a later one sends nothing (`fleetscore
// report send --period` does). Without it, turning the schedule on in the
// middle of a month would mail last month's reports at once.
const CatchUp = 7 * 24 * time.Hour

// Schedule is reports.schedule: every month (or quarter, on its first
// month) on Day at Hour:Minute UTC, the reports of the month (or quarter)
// before are sent.
type Schedule struct {
	Every        string // Monthly or Quarterly
	Day          int    // 1..28
	Hour, Minute int
}

// String is the schedule as the config writes it.
func (s Schedule) String() string {
	return fmt.Sprintf("%s on day %d at %02d:%02d UTC", s.Every, s.Day, s.Hour, s.Minute)
}

// Due is the period whose reports are due at now, and the time they were
// due: the latest scheduled time at or before now, if it is less than
// CatchUp ago.
func (s Schedule) Due(now time.Time) (Period, time.Time, bool) {
	now = now.UTC()
	step := 1
	if s.Every == Quarterly {
		step = 3
	}
	y, m, _ := now.Date()
	first := time.Month((int(m)-1)/step*step + 1) // the month of this period's send
	at := time.Date(y, first, s.Day, s.Hour, s.Minute, 0, 0, time.UTC)
	if now.Before(at) {
		at = time.Date(y, first-time.Month(step), s.Day, s.Hour, s.Minute, 0, 0, time.UTC)
	}
	if now.Sub(at) >= CatchUp {
		return Period{}, at, false
	}
	if s.Every == Quarterly {
		return LastQuarter(at), at, true
	}
	return LastMonth(at), at, true
}

// Recipients are a tenant's report_to addresses.
type Recipients struct {
	TenantID string
	To       []string
}

// Deliverer builds, sends and records the reports.
type Deliverer struct {
	Source     query.Source
	Registers  Registers // the exceptions and campaigns sections' registers
	Log        Log
	Sender     mail.Sender // nil: nothing can be sent (a dry run still works)
	Branding   Branding
	Schedule   *Schedule // nil: no scheduled sends
	Recipients []Recipients
	Now        func() time.Time
	Logger     *slog.Logger
}

// Outcome is what became of one tenant's report.
type Outcome struct {
	TenantID, Name string
	To             []string
	Bytes          int
	SHA256         string
	Sent           bool  // the sender took it (and it is recorded)
	AlreadySent    bool  // recorded before: not sent again
	NoData         bool  // no stored day in the period: not sent, tried again at the next run
	Err            error // the send failed: tried again at the next run
}

// Run sends the reports the schedule has due now, if any: after each
// collection. It returns the period and each tenant's outcome.
func (d *Deliverer) Run(ctx context.Context) (Period, []Outcome, error) {
	if d.Schedule == nil {
		return Period{}, nil, nil
	}
	p, _, due := d.Schedule.Due(d.Now())
	if !due {
		return Period{}, nil, nil
	}
	out, err := d.Send(ctx, p, false)
	return p, out, err
}

// Send sends each tenant with recipients its report of p, unless it was
// sent before; a dry run builds the reports and sends and records nothing.
// One tenant's failure does not stop the others; the error is the first
// failure, for the caller's exit status.
func (d *Deliverer) Send(ctx context.Context, p Period, dryRun bool) ([]Outcome, error) {
	if d.Sender == nil && !dryRun {
		return nil, errors.New("reports: no channel to send through; set reports.channel to an e-mail channel")
	}
	sent, err := d.Log.SentReports(ctx, p.Key)
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, s := range sent {
		done[strings.ToLower(s.TenantID)] = true
	}
	var (
		out   []Outcome
		first error
	)
	for _, r := range d.Recipients {
		if ctx.Err() != nil {
			return out, context.Cause(ctx)
		}
		o := Outcome{TenantID: r.TenantID, To: r.To}
		if done[strings.ToLower(r.TenantID)] {
			o.AlreadySent = true
			out = append(out, o)
			continue
		}
		o.Err = d.one(ctx, p, r, dryRun, &o)
		if o.Err != nil {
			d.logger().Error("report not sent", "tenant", r.TenantID, "period", p.Key, "err", o.Err)
			if first == nil {
				first = o.Err
			}
		} else if o.Sent {
			d.logger().Info("report sent", "tenant", r.TenantID, "period", p.Key, "to", len(r.To), "bytes", o.Bytes)
		}
		out = append(out, o)
	}
	return out, first
}

func (d *Deliverer) one(ctx context.Context, p Period, r Recipients, dryRun bool, o *Outcome) error {
	now := d.Now()
	c, err := Build(ctx, d.Source, d.Registers, r.TenantID, p, now)
	if err != nil {
		return fmt.Errorf("report of %s for %s: %w", r.TenantID, p.Key, err)
	}
	o.Name = c.Tenant.Name
	if c.Last == nil {
		o.NoData = true
		return nil
	}
	pdf, err := PDF(c, d.Branding)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(pdf)
	o.Bytes, o.SHA256 = len(pdf), hex.EncodeToString(sum[:])
	if dryRun {
		return nil
	}
	if err := d.Sender.Send(ctx, Message(c, d.Branding, r.To, pdf)); err != nil {
		return fmt.Errorf("send the report of %s for %s: %w", c.Tenant.Name, p.Key, err)
	}
	// Recorded only once the sender took it; a record already there (an
	// instance that sent it at the same time) is not an error.
	err = d.Log.RecordSent(ctx, Sent{TenantID: c.Tenant.TenantID, Period: p.Key, SentAt: now.UTC(), Recipients: r.To,
		Bytes: o.Bytes, SHA256: o.SHA256})
	if err != nil && !errors.Is(err, ErrAlreadySent) {
		return err
	}
	o.Sent = true
	return nil
}

func (d *Deliverer) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Message is the e-mail of a report: the summary as text, the PDF attached.
func Message(c *Content, b Branding, to []string, pdf []byte) mail.Message {
	l := b.locale()
	subject := c.Tenant.Name + ": " + l.L("title") + " " + c.Period.Key
	var t bytes.Buffer
	fmt.Fprintf(&t, "%s\n%s – %s\n\n", subject, l.Date(c.Period.From), l.Date(c.Period.To))
	if c.Last != nil {
		status := l.L("not_met")
		if c.Met {
			status = l.L("met")
		}
		fmt.Fprintf(&t, "%s: %s (%s %s, %s)\n%s: %s %s\n", l.L("score"), l.Percent(c.Last.Percent), l.L("target"),
			l.Target(c.Target), status, l.L("change"), l.Signed(c.Change, 1), l.L("pp"))
	}
	if b.Name != "" {
		fmt.Fprintf(&t, "\n%s %s\n", l.L("prepared_by"), b.Name)
	}
	return mail.Message{To: to, Subject: subject, Text: t.String(),
		Attachments: []mail.Attachment{{Name: FileName(c.Tenant.Name, c.Period) + ".pdf", ContentType: "application/pdf", Data: pdf}}}
}

// FileName is a report's file name without extension: the tenant's name
// (letters, digits, spaces and dashes kept) and the period.
func FileName(name string, p Period) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-':
			b.WriteRune(r)
		case unicode.IsSpace(r) || r == '&' || r == '\'':
			b.WriteRune(' ')
		}
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	if s == "" {
		s = "report"
	}
	return s + " " + p.Key
}
