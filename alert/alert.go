// Package alert turns the Secure Score history into alerts and delivers them
// to channels: Microsoft Teams, Slack, a signed JSON webhook and e-mail.
//
// It owns the rules (below target, score drop, control regressed, collection
// failing, new action), the fire-once/resolve-once state machine, and the
// delivery of every message with retries. An Engine evaluates the rules after
// each collection: it computes which (rule, tenant[, control]) conditions
// hold, compares them with the alerts open in the StateStore, and queues a
// "firing" message for each alert that starts and a "resolved" message for
// each that ends, in the same transaction that records the change. Queued
// messages are then sent; a message a channel does not take after all
// attempts stays queued and is tried again at the next evaluation, so a
// receiver that is down for a while still gets each message, once.
//
// Channels are shaped like gatus's alert providers: one file per channel
// (slack.go is the reference), each a small type with Name, Type and Send.
// docs/alerts.md is the recipe for adding one. The package depends on the
// domain and the query layer only; cmd/fleetscore builds the channels from
// the config and hands secrets over as functions, so no printed form of a
// channel shows them.
package alert

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Events of a message.
const (
	Firing   = "firing"   // the alert's condition started to hold
	Resolved = "resolved" // it stopped holding
	Test     = "test"     // `fleetscore alerts test`
	Digest   = "digest"   // one message standing for a run's many (Engine.DigestOver)
)

// Delivery statuses.
const (
	StatusPending   = "pending"   // not delivered yet; tried again at the next evaluation
	StatusDelivered = "delivered" // the channel took it
	StatusExpired   = "expired"   // given up: too old, or its channel is gone
)

// Key identifies one alert: a rule, and what the rule found, a tenant and,
// for control alerts, a control. At most one alert per key is open at a time.
type Key struct {
	Rule    string // the rule's name
	Tenant  string // the Entra tenant ID; "" for an alert about the fleet (new_action)
	Subject string // the control (controlName) of control_regressed and new_action; else ""
}

func (k Key) String() string {
	s := k.Rule
	if k.Tenant != "" {
		s += " " + k.Tenant
	}
	if k.Subject != "" {
		s += " " + k.Subject
	}
	return s
}

func compareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Subject, b.Subject))
}

// Open is an alert whose condition holds (or held, once resolved).
type Open struct {
	ID int64
	Key
	TenantName string    // the tenant's name when it fired; "" for fleet alerts
	Title      string    // the firing message's title
	Summary    string    // the firing message's summary: what was found
	Reason     string    // the firing message's reason: the ledger's top items; "" when none
	Facts      []Fact    // the firing message's facts
	OpenedAt   time.Time // when it fired
	ResolvedAt time.Time // zero while open (set by StateStore.Alerts)
	Ack        *Ack      // nil unless acknowledged
}

// Ack is an acknowledgement of an open alert: someone is on it. An
// acknowledged alert stays open but is quiet: its messages not delivered yet
// are dropped, and it sends nothing more until it resolves (its resolution
// is still sent, so whoever acknowledged it learns it is over).
type Ack struct {
	By   string    // who: the signed-in user
	Note string    // why, or what is being done
	At   time.Time // when
}

// Fact is one name and value shown with a message, in order.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Message is what a channel delivers. Channels render it in their own
// format; the webhook channel sends it as JSON, as it is here.
type Message struct {
	// ID is the delivery's ID: the same on every attempt of this message to
	// this channel, so a receiver can drop a duplicate.
	ID int64 `json:"id"`
	// AlertID is the alert's ID: its firing and resolved messages share it.
	AlertID  int64  `json:"alert_id"`
	Event    string `json:"event"` // firing, resolved or test
	Rule     string `json:"rule"`  // the rule's name
	When     string `json:"when"`  // the rule's condition: below_target, score_drop ...
	TenantID string `json:"tenant_id,omitempty"`
	Tenant   string `json:"tenant,omitempty"`  // the tenant's name
	Control  string `json:"control,omitempty"` // the control's ID (controlName)
	Title    string `json:"title"`             // "big-drop: Contoso", the same when it fires and resolves
	Summary  string `json:"summary"`           // one or two sentences with the figures
	// Reason is why the score moved, for score_drop and control_regressed:
	// the top items of the tenant's change ledger over the rule's window,
	// e.g. "Require MFA for administrative roles regressed −10 pts; Microsoft
	// added Enable Copilot access reviews (0 of 8)". "" when there is none.
	Reason string `json:"reason"`
	Facts  []Fact `json:"facts"`
	// Messages are the messages a digest stands for (Event Digest only), in
	// the order they were queued.
	Messages []Message `json:"messages,omitempty"`
	Link     string    `json:"link,omitempty"` // where to act, e.g. the control's page in Microsoft Defender
	// Page is fleetscore's page of the message, when Engine.PublicURL is
	// set: the tenant's page, or the alerts page for a digest or an alert
	// about the fleet. Set as it is sent.
	Page     string    `json:"page,omitempty"`
	OpenedAt time.Time `json:"opened_at"` // when the alert fired
	At       time.Time `json:"at"`        // when this event happened
}

// EventLabel is the event in capitals, as the channels show it.
func (m Message) EventLabel() string {
	switch m.Event {
	case Firing:
		return "FIRING"
	case Resolved:
		return "RESOLVED"
	case Test:
		return "TEST"
	case Digest:
		return "DIGEST"
	}
	return m.Event
}

// Delivery is one message queued for one channel.
type Delivery struct {
	ID         int64
	AlertID    int64
	Channel    string
	Message    Message // as rendered when the alert fired or resolved; ID and AlertID are set when sent
	CreatedAt  time.Time
	Status     string // StatusPending, StatusDelivered or StatusExpired
	Attempts   int
	LastError  string // the last failed attempt's error; never holds a secret
	FinishedAt time.Time
	Log        []Attempt // every attempt, oldest first (Deliveries only)
}

// Attempt is one try at sending a delivery.
type Attempt struct {
	At    time.Time
	Took  time.Duration
	Error string // "" when the channel took the message
}

// Change is an alert that fires or resolves, with the message to queue for
// each of its rule's channels.
type Change struct {
	Event    string // Firing or Resolved
	Alert    Open   // Firing: everything but ID; Resolved: the open alert (its ID decides)
	At       time.Time
	Channels []string // none: the change is recorded without a message
	Message  Message
}

// StateStore keeps the alerts and their deliveries. sqlite.Store implements
// it (table alerts, alert_deliveries, alert_attempts); NewMemoryStore is one
// for tests. alerttest.StateStoreSuite is its conformance suite.
type StateStore interface {
	// OpenAlerts returns every alert not resolved, oldest first.
	OpenAlerts(ctx context.Context) ([]Open, error)
	// ApplyChanges records changes in one transaction: a firing change
	// opens its alert unless one with the same key is open already, a
	// resolved change resolves its alert unless it is resolved already,
	// and each change applied queues its message for each of its channels.
	// It returns the changes it applied, firing ones with their new ID, so
	// that two evaluators running at once never queue the same change twice.
	ApplyChanges(ctx context.Context, changes []Change) ([]Change, error)
	// ClaimDeliveries leases every pending delivery not leased by another
	// owner (or whose lease ended), oldest first, to owner until now+lease.
	ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration) ([]Delivery, error)
	// RecordAttempt logs one attempt at a delivery.
	RecordAttempt(ctx context.Context, deliveryID int64, a Attempt) error
	// FinishDelivery ends a delivery as StatusDelivered or StatusExpired, or,
	// with StatusPending, releases its lease so it is tried again later.
	FinishDelivery(ctx context.Context, deliveryID int64, status string, at time.Time) error
	// Deliveries returns the newest deliveries first, at most limit, with
	// their attempts.
	Deliveries(ctx context.Context, limit int) ([]Delivery, error)

	// Alerts returns every open alert and the resolved ones, newest first
	// (by when they fired), at most limit (all when limit <= 0), with their
	// acknowledgements: the alerts page.
	Alerts(ctx context.Context, limit int) ([]Open, error)
	// Acknowledge records a on the open alert id and drops its messages
	// still pending (StatusExpired). An alert not open (unknown, or
	// resolved) is an error wrapping fleetscore.ErrNotFound; acknowledging
	// again replaces the note.
	Acknowledge(ctx context.Context, id int64, a Ack) error

	// Baselines returns each tenant's baseline day (see Run.Backfilled):
	// the change rules read no day of the tenant before it.
	Baselines(ctx context.Context) (map[string]fleetscore.Day, error)
	// SetBaselines records the tenants' baseline days, replacing theirs.
	SetBaselines(ctx context.Context, days map[string]fleetscore.Day) error
}

// Channel delivers messages to one place. Send must be safe to call again
// for the same message after an error (the engine retries), and its errors
// must never show a secret (a webhook URL, a password).
type Channel interface {
	Name() string // the channel's name in the config
	Type() string // teams, slack, webhook or email
	Send(ctx context.Context, m Message) error
}

// OpenByTenant returns the open alerts by tenant ID, each tenant's oldest
// first; fleet-wide alerts (new_action) are under "". It is what the
// dashboard shows next to each tenant.
func OpenByTenant(ctx context.Context, s StateStore) (map[string][]Open, error) {
	all, err := s.OpenAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	out := make(map[string][]Open)
	for _, o := range all {
		out[o.Tenant] = append(out[o.Tenant], o)
	}
	for _, os := range out {
		slices.SortStableFunc(os, func(a, b Open) int {
			return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.ID, b.ID))
		})
	}
	return out, nil
}
