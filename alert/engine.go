package alert

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
)

// Retry says how hard a message is pushed at a channel in one evaluation.
// What is still undelivered after Attempts waits for the next evaluation,
// until GiveUpAfter has passed since it was queued.
type Retry struct {
	Attempts    int           // tries per evaluation; default 3
	Backoff     time.Duration // wait before the second try, doubled before each next; default 2s
	MaxBackoff  time.Duration // longest wait, also for a Retry-After; default 1m
	Timeout     time.Duration // deadline of one try; default 30s
	GiveUpAfter time.Duration // a message queued longer ago than this is dropped; default 72h
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 3
	}
	if r.Backoff <= 0 {
		r.Backoff = 2 * time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = time.Minute
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	if r.GiveUpAfter <= 0 {
		r.GiveUpAfter = 72 * time.Hour
	}
	return r
}

// deliveryLease is how long an engine holds the messages it is sending: long
// enough for every attempt, short enough that a crashed engine's messages
// are sent by the next evaluation after it.
const deliveryLease = time.Hour

// Engine evaluates the rules and delivers the messages. Its zero values
// are usable defaults except Store, Source, Rules and Channels.
type Engine struct {
	Store    StateStore
	Source   query.Source
	Rules    []Rule
	Channels []Channel
	// Tenants, when not nil, are the IDs of the tenants to check (the
	// configured ones); alerts of other tenants resolve. Nil checks every
	// tenant the store knows.
	Tenants []string
	Now     func() time.Time
	Logger  *slog.Logger
	Retry   Retry
	// Sleep waits between attempts; default: a timer that stops with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Owner names this engine in delivery leases; default: random.
	Owner string
	// DigestOver: when one evaluation would send a channel more messages
	// than this, it sends the channel one digest instead, listing them all
	// (Event Digest, Messages). 0 means DefaultDigestOver; negative never
	// digests.
	DigestOver int
	// PublicURL is where people open fleetscore ("https://fleetscore.example.com"):
	// messages link to its pages (Message.Page). "" links to none.
	PublicURL string

	ownerOnce sync.Once
	owner     string
}

// DefaultDigestOver is Engine.DigestOver's default.
const DefaultDigestOver = 5

// Run is what the collection an evaluation follows did.
type Run struct {
	// Backfilled are the IDs of the tenants whose history the run wrote in
	// full: collected for the first time (no stored day before the run),
	// or after longer than Graph keeps. Each sets a baseline at its latest
	// day: the change rules (score_drop, control_regressed, new_action)
	// read no day of it before that, so history fires nothing, and a change
	// after it still does.
	Backfilled []string
}

// Report is what one evaluation did.
type Report struct {
	Fired    []Message // alerts that started, in the order their messages were queued
	Resolved []Message // alerts that ended
	// Delivered, Pending and Expired count this evaluation's deliveries:
	// taken by their channel, left for the next evaluation, dropped.
	Delivered, Pending, Expired int
	// Failures are "channel: error", one for each channel that did not
	// take a message; its messages stay queued.
	Failures []string
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (e *Engine) ownerName() string {
	e.ownerOnce.Do(func() {
		e.owner = e.Owner
		if e.owner == "" {
			var b [8]byte
			_, _ = rand.Read(b[:])
			e.owner = "engine-" + hex.EncodeToString(b[:])
		}
	})
	return e.owner
}

// OpenAlerts returns the open alerts by tenant ID; see OpenByTenant.
func (e *Engine) OpenAlerts(ctx context.Context) (map[string][]Open, error) {
	return OpenByTenant(ctx, e.Store)
}

// Evaluate checks every rule against the store, records the alerts that
// start and end and queues their messages, then sends every queued message.
// The error is about evaluating and recording (a rule whose data could not
// be read leaves its alerts as they were); a channel that does not take a
// message is logged and reported in Report.Failures, and its messages wait
// for the next evaluation.
func (e *Engine) Evaluate(ctx context.Context) (Report, error) {
	return e.EvaluateRun(ctx, Run{})
}

// EvaluateRun is Evaluate after a collection: the tenants it backfilled
// first set their baselines (see Run).
func (e *Engine) EvaluateRun(ctx context.Context, run Run) (Report, error) {
	var rep Report
	now := e.now()
	open, err := e.Store.OpenAlerts(ctx)
	if err != nil {
		return rep, fmt.Errorf("read open alerts: %w", err)
	}
	v, err := newView(ctx, e.Source, e.Tenants)
	if err != nil {
		return rep, err
	}
	v.now = now
	if err := e.baselines(ctx, v, run); err != nil {
		return rep, err
	}
	changes, errs := e.changes(ctx, v, open, now)
	applied, err := e.Store.ApplyChanges(ctx, changes)
	if err != nil {
		errs = append(errs, fmt.Errorf("record alerts: %w", err))
	}
	for _, c := range applied {
		c.Message.AlertID = c.Alert.ID
		log := e.log().With("rule", c.Alert.Rule, "tenant", c.Alert.TenantName, "control", c.Alert.Subject, "alert", c.Alert.ID)
		switch {
		case len(c.Channels) == 0:
			log.Info("alert closed: its rule is no longer configured")
		case c.Event == Firing:
			log.Info("alert fired", "summary", c.Message.Summary)
			rep.Fired = append(rep.Fired, c.Message)
		default:
			log.Info("alert resolved", "summary", c.Message.Summary)
			rep.Resolved = append(rep.Resolved, c.Message)
		}
	}
	if err := e.deliver(ctx, now, &rep); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// baselines records the baselines of the run's backfilled tenants and
// loads every tenant's.
func (e *Engine) baselines(ctx context.Context, v *view, run Run) error {
	set := map[string]fleetscore.Day{}
	for _, id := range run.Backfilled {
		for _, st := range v.tenants {
			if strings.EqualFold(st.ID, id) && st.Latest != nil {
				set[st.ID] = st.Latest.Day
			}
		}
	}
	if err := e.Store.SetBaselines(ctx, set); err != nil {
		return err
	}
	b, err := e.Store.Baselines(ctx)
	if err != nil {
		return fmt.Errorf("read alert baselines: %w", err)
	}
	v.baseline = b
	if len(set) > 0 {
		e.log().Info("alert baselines set: the history of the backfilled tenants fires no change alert", "tenants", len(set))
	}
	return nil
}

// changes compares what the rules find with the open alerts: the order of
// the result is the order messages are queued in, rule by rule as
// configured, firing before resolved, each by tenant name, then control.
func (e *Engine) changes(ctx context.Context, v *view, open []Open, now time.Time) ([]Change, []error) {
	var (
		out  []Change
		errs []error
	)
	byRule := map[string][]Open{}
	for _, o := range open {
		byRule[o.Rule] = append(byRule[o.Rule], o)
	}
	configured := map[string]bool{}
	for _, r := range e.Rules {
		configured[r.Name] = true
		keys := map[Key]bool{}
		for _, o := range byRule[r.Name] {
			keys[o.Key] = true
		}
		fs, err := v.evaluate(ctx, r, keys)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", r.Name, err))
			continue
		}
		found := map[Key]finding{}
		for _, f := range fs {
			found[f.key] = f
			if f.firing && !keys[f.key] {
				a := Open{Key: f.key, TenantName: f.tenant, Title: f.title, Summary: f.summary, Reason: f.reason, Facts: f.facts, OpenedAt: now}
				out = append(out, Change{Event: Firing, Alert: a, At: now, Channels: r.Channels, Message: message(r, Firing, a, f, now)})
			}
		}
		closing := slices.Clone(byRule[r.Name])
		slices.SortStableFunc(closing, func(a, b Open) int {
			return cmp.Or(cmp.Compare(a.TenantName, b.TenantName), cmp.Compare(a.Title, b.Title), cmp.Compare(a.ID, b.ID))
		})
		for _, o := range closing {
			f, ok := found[o.Key]
			if ok && f.firing {
				continue
			}
			if !ok {
				f = gone(v, o)
			}
			out = append(out, Change{Event: Resolved, Alert: o, At: now, Channels: r.Channels, Message: message(r, Resolved, o, f, now)})
		}
	}
	for _, o := range open {
		if !configured[o.Rule] {
			out = append(out, Change{Event: Resolved, Alert: o, At: now,
				Message: Message{Event: Resolved, Rule: o.Rule, Title: o.Title, Summary: "The rule is no longer configured.", OpenedAt: o.OpenedAt, At: now}})
		}
	}
	return out, errs
}

// gone is the resolution of an alert the rule found nothing about: its
// tenant or control is no longer there to check.
func gone(v *view, o Open) finding {
	f := finding{key: o.Key, tenant: o.TenantName}
	_, checked := v.byID[o.Tenant]
	switch {
	case o.Tenant != "" && !checked:
		f.summary = fmt.Sprintf("%s is no longer checked: it is not among the configured tenants.", o.TenantName)
	case o.Subject != "":
		f.summary = fmt.Sprintf("%s is no longer part of the Secure Score it was found in.", o.Subject)
	default:
		f.summary = "The condition no longer holds: there is no data left to check it with."
	}
	if o.Tenant != "" {
		f.facts = []Fact{{"Tenant", o.TenantName}, {"Tenant ID", o.Tenant}}
	}
	return f
}

// message renders what a change sends. The title is the firing one, so
// that a resolved message reads as the end of the same alert.
func message(r Rule, event string, a Open, f finding, at time.Time) Message {
	tenant := a.TenantName
	if tenant == "" {
		tenant = f.tenant
	}
	title := a.Title
	if title == "" {
		title = f.title
	}
	return Message{AlertID: a.ID, Event: event, Rule: r.Name, When: r.When, TenantID: a.Tenant, Tenant: tenant,
		Control: a.Subject, Title: title, Summary: f.summary, Reason: f.reason, Facts: f.facts, Link: f.link, OpenedAt: a.OpenedAt, At: at}
}

// deliver sends every queued message, each channel on its own, in the order
// the messages were queued.
func (e *Engine) deliver(ctx context.Context, now time.Time, rep *Report) error {
	ds, err := e.Store.ClaimDeliveries(ctx, e.ownerName(), now, deliveryLease)
	if err != nil {
		return fmt.Errorf("read queued alert messages: %w", err)
	}
	channels := map[string]Channel{}
	for _, c := range e.Channels {
		channels[c.Name()] = c
	}
	var names []string
	byChannel := map[string][]Delivery{}
	for _, d := range ds {
		if byChannel[d.Channel] == nil {
			names = append(names, d.Channel)
		}
		byChannel[d.Channel] = append(byChannel[d.Channel], d)
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for _, name := range names {
		wg.Go(func() {
			r := e.deliverTo(ctx, channels[name], name, byChannel[name], now)
			mu.Lock()
			defer mu.Unlock()
			rep.Delivered += r.Delivered
			rep.Pending += r.Pending
			rep.Expired += r.Expired
			rep.Failures = append(rep.Failures, r.Failures...)
		})
	}
	wg.Wait()
	slices.Sort(rep.Failures)
	return nil
}

// deliverTo sends one channel's messages in order. At the first message the
// channel does not take, it stops: the rest wait with it, so they arrive in
// order, and a dead channel costs one message's attempts per evaluation.
func (e *Engine) deliverTo(ctx context.Context, ch Channel, name string, list []Delivery, now time.Time) Report {
	var r Report
	log := e.log().With("channel", name)
	retry := e.Retry.withDefaults()
	var sendable []Delivery
	for _, d := range list {
		switch {
		case ch == nil:
			e.finish(ctx, log, d, StatusExpired, fmt.Sprintf("channel %s is not configured any more", name))
			r.Expired++
		case now.Sub(d.CreatedAt) > retry.GiveUpAfter:
			e.finish(ctx, log, d, StatusExpired, fmt.Sprintf("not delivered within %s of being queued", retry.GiveUpAfter))
			r.Expired++
		default:
			sendable = append(sendable, d)
		}
	}
	if over := e.digestOver(); over >= 0 && len(sendable) > over {
		d := digest(sendable, now)
		err := e.send(ctx, ch, d, retry)
		status := StatusDelivered
		if err != nil {
			status = StatusPending
			r.Pending += len(sendable)
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %v", name, err))
			log.Warn("alert channel did not take a digest; its messages stay queued for the next evaluation", "err", err, "queued", len(sendable))
		} else {
			r.Delivered += len(sendable)
			log.Info("alert digest sent", "messages", len(sendable))
		}
		for _, x := range sendable {
			e.finish(ctx, log, x, status, "")
		}
		return r
	}
	for i, d := range sendable {
		err := e.send(ctx, ch, d, retry)
		if err == nil {
			e.finish(ctx, log, d, StatusDelivered, "")
			r.Delivered++
			continue
		}
		for _, rest := range sendable[i:] {
			e.finish(ctx, log, rest, StatusPending, "")
		}
		r.Pending += len(sendable) - i
		r.Failures = append(r.Failures, fmt.Sprintf("%s: %v", name, err))
		log.Warn("alert channel did not take a message; it and the ones after it stay queued for the next evaluation",
			"err", err, "queued", len(sendable)-i)
		break
	}
	return r
}

func (e *Engine) digestOver() int {
	if e.DigestOver == 0 {
		return DefaultDigestOver
	}
	return e.DigestOver
}

// digest is one delivery standing for list: its ID (the same on every
// attempt, for a receiver's dedupe) and attempts are the first's; each
// line of it is one message's title and its reason, or summary.
func digest(list []Delivery, now time.Time) Delivery {
	fired, resolved := 0, 0
	m := Message{Event: Digest, Rule: "digest", When: "digest", At: now, OpenedAt: list[0].Message.OpenedAt}
	for _, d := range list {
		x := d.Message
		x.ID, x.AlertID = d.ID, d.AlertID
		m.Messages = append(m.Messages, x)
		if x.Event == Resolved {
			resolved++
		} else {
			fired++
		}
		line := x.Reason
		if line == "" {
			line = x.Summary
		}
		m.Facts = append(m.Facts, Fact{x.EventLabel() + " " + x.Title, line})
	}
	m.Title = fmt.Sprintf("fleetscore: %d alert messages", len(list))
	m.Summary = fmt.Sprintf("This run has %d alert messages for this channel, more than its digest_over: %d fired, %d resolved. "+
		"They are listed here in one message; the alerts page has each one.", len(list), fired, resolved)
	return Delivery{ID: list[0].ID, Channel: list[0].Channel, Message: m, CreatedAt: list[0].CreatedAt}
}

// send tries one delivery up to Attempts times, recording every attempt.
func (e *Engine) send(ctx context.Context, ch Channel, d Delivery, retry Retry) error {
	m := d.Message
	m.ID, m.AlertID = d.ID, d.AlertID
	m.Page = e.page(m)
	var last error
	for n := 1; n <= retry.Attempts; n++ {
		if n > 1 {
			wait := min(retry.Backoff<<(n-2), retry.MaxBackoff)
			var se *StatusError
			if errors.As(last, &se) && se.RetryAfter > wait {
				wait = min(se.RetryAfter, retry.MaxBackoff)
			}
			if err := e.sleep(ctx, wait); err != nil {
				return errors.Join(last, err)
			}
		}
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, retry.Timeout)
		err := ch.Send(actx, m)
		cancel()
		a := Attempt{At: e.now(), Took: time.Since(start)}
		if err != nil {
			a.Error = err.Error()
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if rerr := e.Store.RecordAttempt(rctx, d.ID, a); rerr != nil {
			e.log().Error("record alert delivery attempt", "delivery", d.ID, "err", rerr)
		}
		rcancel()
		if err == nil {
			return nil
		}
		last = err
		e.log().Debug("alert delivery attempt failed", "channel", ch.Name(), "delivery", d.ID, "attempt", n, "err", err)
		if permanent(err) || ctx.Err() != nil {
			break
		}
	}
	return last
}

func (e *Engine) finish(ctx context.Context, log *slog.Logger, d Delivery, status, why string) {
	if why != "" {
		log.Warn("alert message dropped", "delivery", d.ID, "title", d.Message.Title, "why", why)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := e.Store.RecordAttempt(rctx, d.ID, Attempt{At: e.now(), Error: "dropped: " + why}); err != nil {
			log.Error("record alert delivery", "delivery", d.ID, "err", err)
		}
		cancel()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.Store.FinishDelivery(rctx, d.ID, status, e.now()); err != nil {
		log.Error("record alert delivery", "delivery", d.ID, "status", status, "err", err)
	}
}

// page is fleetscore's page of a message: its tenant's, or the alerts page.
func (e *Engine) page(m Message) string {
	if e.PublicURL == "" {
		return ""
	}
	base := strings.TrimRight(e.PublicURL, "/")
	if m.TenantID == "" || m.Event == Digest || m.Event == Test {
		return base + "/alerts"
	}
	return base + "/tenants/" + url.PathEscape(m.TenantID)
}

// TestResult is the outcome of a test message to one channel.
type TestResult struct {
	Channel string
	Type    string
	Took    time.Duration
	Err     error // nil when the channel took it
}

// Test sends a test message to every channel at once, one attempt each
// (so a wrong URL or password shows at once), and records nothing.
func (e *Engine) Test(ctx context.Context) []TestResult {
	now := e.now()
	out := make([]TestResult, len(e.Channels))
	timeout := e.Retry.withDefaults().Timeout
	var wg sync.WaitGroup
	for i, ch := range e.Channels {
		wg.Go(func() {
			m := Message{Event: Test, Rule: "test", Title: "fleetscore test message",
				Summary: fmt.Sprintf("This is a test message from fleetscore to the %s channel %s. Alerts sent here look like this one.", ch.Type(), ch.Name()),
				Facts:   []Fact{{"Channel", ch.Name()}, {"Type", ch.Type()}, {"Sent", when(now)}},
				At:      now, OpenedAt: now}
			m.Page = e.page(m)
			start := time.Now()
			tctx, cancel := context.WithTimeout(ctx, timeout)
			err := ch.Send(tctx, m)
			cancel()
			out[i] = TestResult{Channel: ch.Name(), Type: ch.Type(), Took: time.Since(start), Err: err}
		})
	}
	wg.Wait()
	return out
}
