package alerttest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
)

// StateStoreSuite is the conformance suite of an alert.StateStore: open
// makes an empty store for one subtest. Every store runs it (the memory
// store and sqlite in package alert's tests; postgres in its own).
func StateStoreSuite(t *testing.T, open func(t *testing.T) alert.StateStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	key := alert.Key{Rule: "below-target", Tenant: "11111111-1111-1111-1111-111111111111"}
	firing := func(k alert.Key, at time.Time, channels ...string) alert.Change {
		a := alert.Open{Key: k, TenantName: "Contoso", Title: k.Rule + ": Contoso", Summary: "below",
			Facts: []alert.Fact{{Name: "Score", Value: "64.0%"}, {Name: "Target", Value: "75%"}}}
		return alert.Change{Event: alert.Firing, Alert: a, At: at, Channels: channels,
			Message: alert.Message{Event: alert.Firing, Rule: k.Rule, When: "below_target", TenantID: k.Tenant, Tenant: "Contoso",
				Title: a.Title, Summary: "below", Facts: a.Facts, OpenedAt: at, At: at, Link: "https://security.microsoft.com/"}}
	}
	resolved := func(o alert.Open, at time.Time, channels ...string) alert.Change {
		return alert.Change{Event: alert.Resolved, Alert: o, At: at, Channels: channels,
			Message: alert.Message{Event: alert.Resolved, Rule: o.Rule, Title: o.Title, Summary: "meets", OpenedAt: o.OpenedAt, At: at}}
	}
	mustApply := func(t *testing.T, s alert.StateStore, cs ...alert.Change) []alert.Change {
		t.Helper()
		got, err := s.ApplyChanges(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	mustOpen := func(t *testing.T, s alert.StateStore) []alert.Open {
		t.Helper()
		got, err := s.OpenAlerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("fires once and resolves once", func(t *testing.T) {
		s := open(t)
		got := mustApply(t, s, firing(key, t0, "teams", "mail"), firing(key, t0, "teams", "mail"))
		if len(got) != 1 || got[0].Alert.ID == 0 {
			t.Fatalf("two firings of one key applied %+v; want the first, with an ID", got)
		}
		if again := mustApply(t, s, firing(key, t0.Add(time.Hour), "teams")); len(again) != 0 {
			t.Fatalf("a firing of an open key applied again: %+v", again)
		}
		open := mustOpen(t, s)
		if len(open) != 1 {
			t.Fatalf("open alerts %+v, want one", open)
		}
		o := open[0]
		want := alert.Open{ID: got[0].Alert.ID, Key: key, TenantName: "Contoso", Title: "below-target: Contoso", Summary: "below",
			Facts: []alert.Fact{{Name: "Score", Value: "64.0%"}, {Name: "Target", Value: "75%"}}, OpenedAt: t0}
		if !reflect.DeepEqual(o, want) {
			t.Errorf("open alert\n%+v, want\n%+v", o, want)
		}
		if r := mustApply(t, s, resolved(o, t0.Add(24*time.Hour), "teams"), resolved(o, t0.Add(25*time.Hour), "teams")); len(r) != 1 {
			t.Fatalf("two resolutions applied %d times, want once", len(r))
		}
		if open := mustOpen(t, s); len(open) != 0 {
			t.Fatalf("open after resolving: %+v", open)
		}
		// The key fires again as a new alert.
		again := mustApply(t, s, firing(key, t0.Add(48*time.Hour), "teams"))
		if len(again) != 1 || again[0].Alert.ID == o.ID {
			t.Fatalf("firing after resolution: %+v; want a new alert", again)
		}
		ds, err := s.Deliveries(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var summary []string
		for _, d := range ds {
			summary = append(summary, d.Channel+" "+d.Message.Event)
			if d.Status != alert.StatusPending || d.Attempts != 0 || !d.FinishedAt.IsZero() {
				t.Errorf("new delivery %+v is not pending and untried", d)
			}
		}
		// Newest first: the second firing, the resolution, the first firing.
		want2 := []string{"teams firing", "teams resolved", "mail firing", "teams firing"}
		if !reflect.DeepEqual(summary, want2) {
			t.Errorf("deliveries %q, want %q", summary, want2)
		}
		if ds[3].AlertID != o.ID || ds[1].AlertID != o.ID || ds[0].AlertID != again[0].Alert.ID {
			t.Errorf("deliveries' alerts %d %d %d, want %d %d %d", ds[3].AlertID, ds[1].AlertID, ds[0].AlertID, o.ID, o.ID, again[0].Alert.ID)
		}
	})

	t.Run("a change without channels queues nothing", func(t *testing.T) {
		s := open(t)
		got := mustApply(t, s, firing(key, t0))
		if len(got) != 1 {
			t.Fatalf("applied %d", len(got))
		}
		if ds, err := s.Deliveries(ctx, 0); err != nil || len(ds) != 0 {
			t.Fatalf("deliveries %+v, %v; want none", ds, err)
		}
	})

	t.Run("keys differ by tenant and subject", func(t *testing.T) {
		s := open(t)
		k2, k3 := key, key
		k2.Tenant = "22222222-2222-2222-2222-222222222222"
		k3.Subject = "AdminMFAV2"
		fleet := alert.Key{Rule: "new-action", Subject: "AdminMFAV2"}
		if got := mustApply(t, s, firing(key, t0), firing(k2, t0), firing(k3, t0), firing(fleet, t0)); len(got) != 4 {
			t.Fatalf("applied %d of 4 distinct keys", len(got))
		}
		by, err := alert.OpenByTenant(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(by[key.Tenant]) != 2 || len(by[k2.Tenant]) != 1 || len(by[""]) != 1 {
			t.Errorf("open by tenant: %+v", by)
		}
	})

	t.Run("message round trip", func(t *testing.T) {
		s := open(t)
		c := firing(key, t0, "hook")
		c.Message.Control = "AdminMFAV2"
		mustApply(t, s, c)
		ds, err := s.ClaimDeliveries(ctx, "a", t0, time.Hour)
		if err != nil || len(ds) != 1 {
			t.Fatalf("claim: %+v, %v", ds, err)
		}
		if !reflect.DeepEqual(ds[0].Message, c.Message) {
			t.Errorf("message\n%+v, want\n%+v", ds[0].Message, c.Message)
		}
		if !ds[0].CreatedAt.Equal(t0) || ds[0].Channel != "hook" {
			t.Errorf("delivery %+v", ds[0])
		}
	})

	t.Run("leases", func(t *testing.T) {
		s := open(t)
		mustApply(t, s, firing(key, t0, "a", "b"))
		claim := func(owner string, at time.Time) int {
			t.Helper()
			ds, err := s.ClaimDeliveries(ctx, owner, at, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(ds); i++ {
				if ds[i].ID <= ds[i-1].ID {
					t.Errorf("claimed out of order: %d after %d", ds[i].ID, ds[i-1].ID)
				}
			}
			return len(ds)
		}
		if n := claim("one", t0); n != 2 {
			t.Fatalf("first claim got %d, want 2", n)
		}
		if n := claim("two", t0.Add(time.Minute)); n != 0 {
			t.Fatalf("another owner got %d leased deliveries", n)
		}
		if n := claim("one", t0.Add(time.Minute)); n != 2 {
			t.Fatalf("the owner claiming again got %d, want 2", n)
		}
		ds, _ := s.Deliveries(ctx, 0)
		if err := s.FinishDelivery(ctx, ds[0].ID, alert.StatusPending, t0); err != nil {
			t.Fatal(err)
		}
		if n := claim("two", t0.Add(2*time.Minute)); n != 1 {
			t.Fatalf("after one release another owner got %d, want 1", n)
		}
		if n := claim("three", t0.Add(3*time.Hour)); n != 2 {
			t.Fatalf("after the leases ended, got %d, want 2", n)
		}
	})

	t.Run("attempts and outcomes", func(t *testing.T) {
		s := open(t)
		mustApply(t, s, firing(key, t0, "a", "b"))
		ds, err := s.ClaimDeliveries(ctx, "one", t0, time.Hour)
		if err != nil || len(ds) != 2 {
			t.Fatalf("claim: %d, %v", len(ds), err)
		}
		a, b := ds[0].ID, ds[1].ID
		for i, e := range []string{"answered 500", "answered 502", ""} {
			if err := s.RecordAttempt(ctx, a, alert.Attempt{At: t0.Add(time.Duration(i) * time.Second), Took: time.Millisecond, Error: e}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.FinishDelivery(ctx, a, alert.StatusDelivered, t0.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAttempt(ctx, b, alert.Attempt{At: t0, Error: "dropped: gone"}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishDelivery(ctx, b, alert.StatusExpired, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		// A finished delivery keeps its outcome.
		if err := s.FinishDelivery(ctx, a, alert.StatusExpired, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if left, err := s.ClaimDeliveries(ctx, "two", t0.Add(48*time.Hour), time.Hour); err != nil || len(left) != 0 {
			t.Fatalf("finished deliveries claimed again: %+v, %v", left, err)
		}
		all, err := s.Deliveries(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]alert.Delivery{all[0].ID: all[0], all[1].ID: all[1]}
		da := got[a]
		if da.Status != alert.StatusDelivered || da.Attempts != 3 || da.LastError != "answered 502" || !da.FinishedAt.Equal(t0.Add(3*time.Second)) {
			t.Errorf("delivered: %+v", da)
		}
		if len(da.Log) != 3 || da.Log[0].Error != "answered 500" || da.Log[2].Error != "" || !da.Log[1].At.Equal(t0.Add(time.Second)) || da.Log[0].Took != time.Millisecond {
			t.Errorf("attempts: %+v", da.Log)
		}
		if db := got[b]; db.Status != alert.StatusExpired || db.Attempts != 1 || len(db.Log) != 1 {
			t.Errorf("expired: %+v", db)
		}
		if one, err := s.Deliveries(ctx, 1); err != nil || len(one) != 1 || one[0].ID != b {
			t.Errorf("Deliveries(1) = %+v, %v; want the newest", one, err)
		}
	})

	t.Run("unknown delivery", func(t *testing.T) {
		s := open(t)
		if err := s.RecordAttempt(ctx, 42, alert.Attempt{At: t0}); !errors.Is(err, fleetscore.ErrNotFound) {
			t.Errorf("RecordAttempt(42) = %v, want ErrNotFound", err)
		}
		if err := s.FinishDelivery(ctx, 42, alert.StatusDelivered, t0); !errors.Is(err, fleetscore.ErrNotFound) {
			t.Errorf("FinishDelivery(42) = %v, want ErrNotFound", err)
		}
		if err := s.FinishDelivery(ctx, 42, "sent", t0); err == nil {
			t.Error("FinishDelivery with an unknown status: no error")
		}
	})

	t.Run("concurrent evaluators apply a change once", func(t *testing.T) {
		s := open(t)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			applied int
		)
		for range 8 {
			wg.Go(func() {
				got, err := s.ApplyChanges(ctx, []alert.Change{firing(key, t0, "a")})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				applied += len(got)
				mu.Unlock()
			})
		}
		wg.Wait()
		ds, _ := s.Deliveries(ctx, 0)
		if applied != 1 || len(ds) != 1 {
			t.Errorf("8 evaluators applied %d times and queued %d messages, want 1 and 1", applied, len(ds))
		}
	})

	t.Run("reason, acknowledgement and the alerts list", func(t *testing.T) {
		s := open(t)
		c := firing(key, t0, "teams")
		c.Alert.Reason = "Require MFA regressed −10 pts"
		other := alert.Key{Rule: "drop", Tenant: key.Tenant}
		got := mustApply(t, s, c, firing(other, t0.Add(time.Minute), "teams"))
		if len(got) != 2 {
			t.Fatalf("applied %d, want 2", len(got))
		}
		id, otherID := got[0].Alert.ID, got[1].Alert.ID
		mustApply(t, s, resolved(got[1].Alert, t0.Add(time.Hour)))
		at := t0.Add(2 * time.Hour)
		if err := s.Acknowledge(ctx, id, alert.Ack{By: "ana", Note: "on it", At: at}); err != nil {
			t.Fatal(err)
		}
		if err := s.Acknowledge(ctx, otherID, alert.Ack{By: "ana", At: at}); !errors.Is(err, fleetscore.ErrNotFound) {
			t.Errorf("acknowledging a resolved alert: %v, want ErrNotFound", err)
		}
		if err := s.Acknowledge(ctx, 999, alert.Ack{By: "ana", At: at}); !errors.Is(err, fleetscore.ErrNotFound) {
			t.Errorf("acknowledging an unknown alert: %v, want ErrNotFound", err)
		}
		open := mustOpen(t, s)
		if len(open) != 1 || open[0].Reason != c.Alert.Reason || open[0].Ack == nil ||
			*open[0].Ack != (alert.Ack{By: "ana", Note: "on it", At: at}) {
			t.Fatalf("open after the acknowledgement: %+v", open)
		}
		all, err := s.Alerts(ctx, 0)
		if err != nil || len(all) != 2 || all[0].ID != otherID || all[0].ResolvedAt.IsZero() || all[1].ID != id || !all[1].ResolvedAt.IsZero() {
			t.Fatalf("Alerts: %v %+v; want the resolved one (newer) first, then the open one", err, all)
		}
		if one, _ := s.Alerts(ctx, 1); len(one) != 1 {
			t.Errorf("Alerts with limit 1: %d", len(one))
		}
		// The acknowledged alert's pending message is dropped.
		ds, err := s.ClaimDeliveries(ctx, "me", at, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.AlertID == id {
				t.Errorf("the acknowledged alert's message is still queued: %+v", d)
			}
		}
	})

	t.Run("baselines", func(t *testing.T) {
		s := open(t)
		b, err := s.Baselines(ctx)
		if err != nil || len(b) != 0 {
			t.Fatalf("an empty store's baselines: %v %v", b, err)
		}
		d1, d2 := fleetscore.MustDay("2026-03-01"), fleetscore.MustDay("2026-03-05")
		if err := s.SetBaselines(ctx, map[string]fleetscore.Day{"a": d1, "b": d1}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetBaselines(ctx, map[string]fleetscore.Day{"b": d2}); err != nil {
			t.Fatal(err)
		}
		b, err = s.Baselines(ctx)
		if err != nil || len(b) != 2 || b["a"] != d1 || b["b"] != d2 {
			t.Errorf("baselines %v %v, want a %s and b %s", b, err, d1, d2)
		}
	})
}
