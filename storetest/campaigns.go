package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/exceptions"
)

// campaignStore is what a store keeps of campaigns (migration 0009).
type campaignStore interface {
	campaign.Register
	exceptions.Register
	ExceptedSince(ctx context.Context, control string) (map[string]fleetscore.Day, error)
}

func testCampaigns(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	r, ok := s.(campaignStore)
	if !ok {
		t.Fatal("the store keeps no campaigns (campaign.Register, ExceptedSince)")
	}
	if cs, err := r.Campaigns(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("a new store's campaigns: %v, %v", cs, err)
	}
	at := time.Date(2026, 3, 1, 9, 30, 0, 123000000, time.UTC)
	a, err := r.PutCampaign(ctx, campaign.Campaign{Control: "mdo_safelinks", Owner: "SOC team \"é\"", Due: fleetscore.MustDay("2026-04-01"),
		CreatedAt: at, CreatedBy: "alice",
		Tenants: []campaign.Member{{TenantID: tenantC.ID, Note: "call Bob first"}, {TenantID: tenantA.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.PutCampaign(ctx, campaign.Campaign{Control: "AdminMFAV2", Owner: "ana", Due: fleetscore.MustDay("2026-05-01"),
		CreatedAt: at.Add(time.Hour), CreatedBy: "bob", Tenants: []campaign.Member{{TenantID: tenantB.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.ID == b.ID {
		t.Fatalf("IDs %d and %d", a.ID, b.ID)
	}
	got, err := r.Campaign(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("Campaign(%d) = %+v, want %+v (tenants in their order)", a.ID, got, a)
	}
	if _, err := r.Campaign(ctx, 999999); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("unknown campaign: %v, want ErrNotFound", err)
	}
	all, err := r.Campaigns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(all, []campaign.Campaign{a, b}) {
		t.Errorf("Campaigns = %+v, want %+v", all, []campaign.Campaign{a, b})
	}

	if err := r.SetCampaignNote(ctx, a.ID, tenantA.ID, "done by hand, ticket 7"); err != nil {
		t.Fatal(err)
	}
	a.Tenants[1].Note = "done by hand, ticket 7"
	if got, _ := r.Campaign(ctx, a.ID); !reflect.DeepEqual(got, a) {
		t.Errorf("after the note: %+v, want %+v", got, a)
	}
	if err := r.SetCampaignNote(ctx, a.ID, tenantB.ID, "x"); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("note of a tenant not in the campaign: %v, want ErrNotFound", err)
	}
	if err := r.SetCampaignNote(ctx, 999999, tenantA.ID, "x"); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("note in an unknown campaign: %v, want ErrNotFound", err)
	}

	// Exceptions in force, with the day they were applied: not the failed one.
	mk := func(tenant, status string, when time.Time) exceptions.Exception {
		return exceptions.Exception{TenantID: tenant, Control: "mdo_safelinks", State: fleetscore.StateThirdParty, Reason: "r",
			ReviewBy: fleetscore.MustDay("2027-01-01"), CreatedBy: "a", CreatedAt: when, UpdatedAt: when, Status: status}
	}
	for _, e := range []exceptions.Exception{mk(tenantA.ID, exceptions.StatusInEffect, at.Add(24*time.Hour)), mk(tenantB.ID, exceptions.StatusFailed, at)} {
		if _, err := r.PutException(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := r.ExceptedSince(ctx, "mdo_safelinks")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]fleetscore.Day{tenantA.ID: fleetscore.MustDay("2026-03-02")}; !reflect.DeepEqual(ex, want) {
		t.Errorf("ExceptedSince = %v, want %v", ex, want)
	}
	if ex, _ := r.ExceptedSince(ctx, "AdminMFAV2"); len(ex) != 0 {
		t.Errorf("ExceptedSince of a control without exceptions: %v", ex)
	}
}
