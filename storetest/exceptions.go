package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/exceptions"
)

// exceptionStore is what a store keeps of the register (migration 0008).
type exceptionStore interface {
	exceptions.Register
	ExceptedControls(ctx context.Context) (map[string]map[string]string, error)
}

func testExceptions(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	r, ok := s.(exceptionStore)
	if !ok {
		t.Fatal("the store keeps no exceptions (exceptions.Register, ExceptedControls)")
	}
	at := time.Date(2026, 3, 1, 9, 30, 0, 123000000, time.UTC)
	mk := func(tenant, control, state, status string) exceptions.Exception {
		return exceptions.Exception{TenantID: tenant, Control: control, State: state, Reason: "covered by Mimecast; ticket #42 \"é\"",
			Owner: "sec-team", ReviewBy: fleetscore.MustDay("2027-03-01"), CreatedBy: "alice", CreatedAt: at, Status: status,
			UpdatedAt: at}
	}
	a, err := r.PutException(ctx, mk(tenantA.ID, "mdo_safelinks", fleetscore.StateThirdParty, exceptions.StatusWritten))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 {
		t.Fatal("PutException gave no ID")
	}
	a2 := mk(tenantB.ID, "mdo_safelinks", fleetscore.StateIgnored, exceptions.StatusFailed)
	a2.Error, a2.Advice = "Graph answered 403", "grant SecurityEvents.ReadWrite.All"
	b, err := r.PutException(ctx, a2)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.PutException(ctx, mk(tenantA.ID, "scid_2000", fleetscore.StateReviewed, exceptions.StatusRefused))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || b.ID == c.ID {
		t.Fatalf("IDs %d %d %d are not distinct", a.ID, b.ID, c.ID)
	}
	// One row per (tenant, control).
	if _, err := r.PutException(ctx, mk(tenantA.ID, "mdo_safelinks", fleetscore.StateIgnored, exceptions.StatusLocal)); err == nil {
		t.Error("a second exception of the same control at the same tenant was added")
	}

	got, err := r.Exception(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Errorf("Exception(%d) = %+v, want %+v", b.ID, got, b)
	}
	if _, err := r.Exception(ctx, 999999); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("unknown exception: %v, want ErrNotFound", err)
	}

	for _, tc := range []struct {
		f    exceptions.Filter
		want []int64
	}{
		{exceptions.Filter{}, []int64{a.ID, b.ID, c.ID}},
		{exceptions.Filter{TenantID: tenantA.ID}, []int64{a.ID, c.ID}},
		{exceptions.Filter{Control: "mdo_safelinks"}, []int64{a.ID, b.ID}},
		{exceptions.Filter{Status: exceptions.StatusRefused}, []int64{c.ID}},
		{exceptions.Filter{TenantID: tenantB.ID, Control: "mdo_safelinks", Status: exceptions.StatusFailed}, []int64{b.ID}},
		{exceptions.Filter{TenantID: tenantC.ID}, nil},
	} {
		es, err := r.Exceptions(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, e := range es {
			ids = append(ids, e.ID)
			if !tc.f.Match(e) {
				t.Errorf("Exceptions(%+v) returned %+v", tc.f, e)
			}
		}
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("Exceptions(%+v) = %v, want %v", tc.f, ids, tc.want)
		}
	}

	// An update replaces every field but the ID; the written time survives.
	a.Status, a.WrittenAt, a.State, a.ApprovedBy = exceptions.StatusInEffect, at.Add(time.Hour), fleetscore.StateIgnored, "bob"
	a.UpdatedAt = at.Add(2 * time.Hour)
	if err := r.UpdateException(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Exception(ctx, a.ID); !reflect.DeepEqual(got, a) {
		t.Errorf("after update: %+v, want %+v", got, a)
	}
	if err := r.UpdateException(ctx, exceptions.Exception{ID: 999999, CreatedAt: at}); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("updating an unknown exception: %v, want ErrNotFound", err)
	}

	// Live exceptions only: a (in effect); b failed, c refused.
	ex, err := r.ExceptedControls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]map[string]string{tenantA.ID: {"mdo_safelinks": fleetscore.StateIgnored}}; !reflect.DeepEqual(ex, want) {
		t.Errorf("ExceptedControls = %v, want %v", ex, want)
	}

	if err := r.DeleteException(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteException(ctx, a.ID); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	if es, _ := r.Exceptions(ctx, exceptions.Filter{}); len(es) != 2 {
		t.Errorf("after delete: %d exceptions, want 2", len(es))
	}
	// The deleted one's place may be taken again.
	if _, err := r.PutException(ctx, mk(tenantA.ID, "mdo_safelinks", fleetscore.StateThirdParty, exceptions.StatusLocal)); err != nil {
		t.Errorf("re-adding after delete: %v", err)
	}
}
