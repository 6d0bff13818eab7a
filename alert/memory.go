package alert

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
)

// MemoryStore is a StateStore in memory, for tests: everything is lost
// with it, so a program using it would fire every alert again at each start.
type MemoryStore struct {
	mu         sync.Mutex
	alerts     []memAlert
	deliveries []*memDelivery
	baselines  map[string]fleetscore.Day
}

type memAlert struct {
	Open
	resolvedAt time.Time
}

type memDelivery struct {
	Delivery
	leaseOwner string
	leaseUntil time.Time
}

var _ StateStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// OpenAlerts returns the alerts not resolved, oldest first.
func (s *MemoryStore) OpenAlerts(context.Context) ([]Open, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Open
	for _, a := range s.alerts {
		if a.resolvedAt.IsZero() {
			out = append(out, cloneOpen(a.Open))
		}
	}
	return out, nil
}

func cloneOpen(o Open) Open {
	o.Facts = slices.Clone(o.Facts)
	if o.Ack != nil {
		a := *o.Ack
		o.Ack = &a
	}
	return o
}

// ApplyChanges applies the changes that still apply; see StateStore.
func (s *MemoryStore) ApplyChanges(_ context.Context, changes []Change) ([]Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var applied []Change
	for _, c := range changes {
		switch c.Event {
		case Firing:
			if slices.ContainsFunc(s.alerts, func(a memAlert) bool { return a.Key == c.Alert.Key && a.resolvedAt.IsZero() }) {
				continue
			}
			c.Alert.ID = int64(len(s.alerts) + 1)
			c.Alert.OpenedAt = c.At
			s.alerts = append(s.alerts, memAlert{Open: cloneOpen(c.Alert)})
		case Resolved:
			i := slices.IndexFunc(s.alerts, func(a memAlert) bool { return a.ID == c.Alert.ID })
			if i < 0 || !s.alerts[i].resolvedAt.IsZero() {
				continue
			}
			s.alerts[i].resolvedAt = c.At
		default:
			return nil, fmt.Errorf("apply alert change: event %q is not %s or %s", c.Event, Firing, Resolved)
		}
		for _, ch := range c.Channels {
			m := c.Message
			m.Facts = slices.Clone(m.Facts)
			s.deliveries = append(s.deliveries, &memDelivery{Delivery: Delivery{
				ID: int64(len(s.deliveries) + 1), AlertID: c.Alert.ID, Channel: ch, Message: m,
				CreatedAt: c.At, Status: StatusPending}})
		}
		applied = append(applied, c)
	}
	return applied, nil
}

// ClaimDeliveries leases the pending deliveries; see StateStore.
func (s *MemoryStore) ClaimDeliveries(_ context.Context, owner string, now time.Time, lease time.Duration) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for _, d := range s.deliveries {
		if d.Status != StatusPending || (d.leaseOwner != owner && d.leaseUntil.After(now)) {
			continue
		}
		d.leaseOwner, d.leaseUntil = owner, now.Add(lease)
		c := d.Delivery
		c.Log = nil
		out = append(out, c)
	}
	return out, nil
}

func (s *MemoryStore) delivery(id int64) (*memDelivery, error) {
	if id < 1 || int(id) > len(s.deliveries) {
		return nil, fmt.Errorf("delivery %d: %w", id, fleetscore.ErrNotFound)
	}
	return s.deliveries[id-1], nil
}

// RecordAttempt logs an attempt.
func (s *MemoryStore) RecordAttempt(_ context.Context, id int64, a Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.delivery(id)
	if err != nil {
		return err
	}
	d.Log = append(d.Log, a)
	d.Attempts++
	if a.Error != "" {
		d.LastError = a.Error
	}
	return nil
}

// FinishDelivery ends or releases a delivery.
func (s *MemoryStore) FinishDelivery(_ context.Context, id int64, status string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.delivery(id)
	if err != nil {
		return err
	}
	switch status {
	case StatusPending:
		d.leaseOwner, d.leaseUntil = "", time.Time{}
	case StatusDelivered, StatusExpired:
		if d.Status == StatusPending {
			d.Status, d.FinishedAt = status, at
		}
	default:
		return fmt.Errorf("finish delivery %d: status %q is not %s, %s or %s", id, status, StatusPending, StatusDelivered, StatusExpired)
	}
	return nil
}

// Deliveries returns the newest deliveries first.
func (s *MemoryStore) Deliveries(_ context.Context, limit int) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for i := len(s.deliveries) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		d := s.deliveries[i].Delivery
		d.Log = slices.Clone(d.Log)
		out = append(out, d)
	}
	return out, nil
}

// Alerts returns the open and resolved alerts, newest first.
func (s *MemoryStore) Alerts(_ context.Context, limit int) ([]Open, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Open
	for i := len(s.alerts) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		o := cloneOpen(s.alerts[i].Open)
		o.ResolvedAt = s.alerts[i].resolvedAt
		out = append(out, o)
	}
	return out, nil
}

// Acknowledge acknowledges an open alert; see StateStore.
func (s *MemoryStore) Acknowledge(_ context.Context, id int64, a Ack) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.alerts, func(m memAlert) bool { return m.ID == id })
	if i < 0 || !s.alerts[i].resolvedAt.IsZero() {
		return fmt.Errorf("acknowledge alert %d: no such open alert: %w", id, fleetscore.ErrNotFound)
	}
	s.alerts[i].Ack = &a
	for _, d := range s.deliveries {
		if d.AlertID == id && d.Status == StatusPending {
			d.Status, d.FinishedAt, d.LastError = StatusExpired, a.At, "dropped: the alert was acknowledged"
		}
	}
	return nil
}

// Baselines returns the tenants' baseline days.
func (s *MemoryStore) Baselines(context.Context) (map[string]fleetscore.Day, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.baselines), nil
}

// SetBaselines records baseline days.
func (s *MemoryStore) SetBaselines(_ context.Context, days map[string]fleetscore.Day) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.baselines == nil {
		s.baselines = map[string]fleetscore.Day{}
	}
	maps.Copy(s.baselines, days)
	return nil
}
