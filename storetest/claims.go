package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

// claimer is what collectors sharing a store need of it: collect.Claimer,
// which every store implements.
type claimer interface {
	Claim(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) (bool, error)
	Done(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ok bool) error
	Pending(ctx context.Context, day fleetscore.Day, tenantIDs []string) ([]string, error)
}

// claims is the store as a claimer; a store that is not one fails the test.
func claims(t *testing.T, s fleetscore.Store) claimer {
	t.Helper()
	c, ok := s.(claimer)
	if !ok {
		t.Fatalf("%T has no Claim and Done: every store must let collectors share it (collect.Claimer)", s)
	}
	return c
}

func claim(t *testing.T, c claimer, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) bool {
	t.Helper()
	got, err := c.Claim(context.Background(), tenantID, day, owner, ttl)
	if err != nil {
		t.Fatalf("Claim(%s, %s, %s): %v", tenantID, day, owner, err)
	}
	return got
}

func wantClaim(t *testing.T, c claimer, tenantID string, day fleetscore.Day, owner string, ttl time.Duration, want bool, why string) {
	t.Helper()
	if got := claim(t, c, tenantID, day, owner, ttl); got != want {
		t.Errorf("Claim(%s, %s, %s) = %v, want %v: %s", tenantID, day, owner, got, want, why)
	}
}

func done(t *testing.T, c claimer, tenantID string, day fleetscore.Day, owner string, ok bool) {
	t.Helper()
	if err := c.Done(context.Background(), tenantID, day, owner, ok); err != nil {
		t.Fatalf("Done(%s, %s, %s, %v): %v", tenantID, day, owner, ok, err)
	}
}

func testClaimGoesToOneOwner(t *testing.T, s fleetscore.Store) {
	c := claims(t, s)
	const ttl = time.Minute
	wantClaim(t, c, tenantA.ID, day0, "a", ttl, true, "nobody claimed the day")
	wantClaim(t, c, tenantA.ID, day0, "b", ttl, false, "a holds a live claim")
	wantClaim(t, c, tenantA.ID, day0, "a", ttl, true, "the owner renews its own claim")
	wantClaim(t, c, tenantA.ID, day0.AddDays(1), "b", ttl, true, "another day is another claim")
	wantClaim(t, c, tenantB.ID, day0, "b", ttl, true, "another tenant is another claim")
	// A tenant never configured can be claimed: claims come before the log.
	wantClaim(t, c, tenantC.ID, day0, "a", ttl, true, "claims do not need the tenant stored")
	if _, err := c.Claim(context.Background(), tenantA.ID, day0, "", ttl); err == nil {
		t.Error("Claim without an owner succeeded")
	}
}

func testDoneClaimIsNotTakenAgain(t *testing.T, s fleetscore.Store) {
	c := claims(t, s)
	const ttl = time.Minute
	wantClaim(t, c, tenantA.ID, day0, "a", ttl, true, "nobody claimed the day")
	done(t, c, tenantA.ID, day0, "a", true)
	wantClaim(t, c, tenantA.ID, day0, "b", ttl, false, "the day is done")
	wantClaim(t, c, tenantA.ID, day0, "a", ttl, false, "the day is done, even for its owner")
	err := c.Done(context.Background(), tenantA.ID, day0, "a", true)
	wantNotFound(t, "Done of a claim already done", err)
	wantClaim(t, c, tenantA.ID, day0.AddDays(1), "b", ttl, true, "the next day is open")
}

func testFailedClaimIsReleased(t *testing.T, s fleetscore.Store) {
	c := claims(t, s)
	const ttl = time.Hour
	wantClaim(t, c, tenantA.ID, day0, "a", ttl, true, "nobody claimed the day")
	done(t, c, tenantA.ID, day0, "a", false)
	wantClaim(t, c, tenantA.ID, day0, "b", ttl, true, "a failed and released the day: anyone may try it at once")
	err := c.Done(context.Background(), tenantA.ID, day0, "a", true)
	wantNotFound(t, "Done by an owner whose claim another took", err)
	done(t, c, tenantA.ID, day0, "b", true)
	wantClaim(t, c, tenantA.ID, day0, "a", ttl, false, "b collected the day")
}

func testExpiredClaimIsTakenOver(t *testing.T, s fleetscore.Store, clk *Clock) {
	c := claims(t, s)
	const ttl = time.Minute
	// a renews its claim while it works: b never gets it.
	wantClaim(t, c, tenantA.ID, day0, "a", ttl, true, "nobody claimed the day")
	for i := range 5 {
		clk.Advance(ttl / 4)
		wantClaim(t, c, tenantA.ID, day0, "b", ttl, false, fmt.Sprintf("a renewed its claim %s ago", ttl/4))
		wantClaim(t, c, tenantA.ID, day0, "a", ttl, true, fmt.Sprintf("a renews its claim (%d)", i))
	}
	// a dies: its claim expires and b takes the day over.
	clk.Advance(ttl + ttl/2)
	wantClaim(t, c, tenantA.ID, day0, "b", ttl, true, "a's claim expired")
	wantClaim(t, c, tenantA.ID, day0, "a", ttl, false, "b took the day over: a lost it")
	err := c.Done(context.Background(), tenantA.ID, day0, "a", true)
	wantNotFound(t, "Done by an owner whose claim expired and was taken", err)
	done(t, c, tenantA.ID, day0, "b", true)
}

func testConcurrentClaims(t *testing.T, s fleetscore.Store) {
	c := claims(t, s)
	const (
		owners = 12
		days   = 8
	)
	var (
		mu   sync.Mutex
		won  = map[fleetscore.Day][]string{}
		wg   sync.WaitGroup
		errs []error
	)
	for o := range owners {
		owner := fmt.Sprintf("instance-%02d", o)
		wg.Go(func() {
			for d := range days {
				day := day0.AddDays(d)
				ok, err := c.Claim(context.Background(), tenantA.ID, day, owner, time.Minute)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if ok {
					won[day] = append(won[day], owner)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent claims: %v", err)
	}
	for d := range days {
		day := day0.AddDays(d)
		if len(won[day]) != 1 {
			t.Errorf("%d owners claiming %s at once: %v got it, want exactly one", owners, day, won[day])
		}
	}
}

func testPendingClaims(t *testing.T, s fleetscore.Store, clk *Clock) {
	c := claims(t, s)
	const (
		live = "44444444-4444-4444-8444-444444444444"
		dead = "55555555-5555-4555-8555-555555555555"
		none = "66666666-6666-4666-8666-666666666666"
	)
	wantClaim(t, c, live, day0, "a", time.Minute, true, "nobody claimed the day")
	wantClaim(t, c, dead, day0, "gone", time.Millisecond, true, "nobody claimed the day")
	wantClaim(t, c, tenantA.ID, day0, "a", time.Minute, true, "nobody claimed the day")
	done(t, c, tenantA.ID, day0, "a", true)
	wantClaim(t, c, tenantB.ID, day0, "b", time.Minute, true, "nobody claimed the day")
	done(t, c, tenantB.ID, day0, "b", false)
	wantClaim(t, c, tenantC.ID, day0.AddDays(1), "b", time.Minute, true, "nobody claimed the day")
	clk.Advance(10 * time.Millisecond)

	got, err := c.Pending(context.Background(), day0, []string{live, dead, none, tenantA.ID, tenantB.ID, tenantC.ID})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	// Pending: a's live lease, the dead owner's expired one, the released
	// one. Not: the tenant never claimed, the done one, another day's.
	want := []string{live, dead, tenantB.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Pending = %v, want %v", got, want)
	}
	if got, err := c.Pending(context.Background(), day0, nil); err != nil || len(got) != 0 {
		t.Errorf("Pending of no tenants = %v, %v; want none", got, err)
	}
}
