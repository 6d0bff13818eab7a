package exceptions_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/sqlite"
)

// The tests run the service on a real SQLite store. The Writer is a
// script: these are unit tests of the state machine; the write through
// Graph to the emulator is tested end to end where the two meet.

var (
	tA = fleetscore.Tenant{ID: "aaaaaaaa-0000-4000-8000-000000000001", Name: "Alpha"}
	tB = fleetscore.Tenant{ID: "aaaaaaaa-0000-4000-8000-000000000002", Name: "Bravo"}
	tC = fleetscore.Tenant{ID: "aaaaaaaa-0000-4000-8000-000000000003", Name: "Charlie"}
	tD = fleetscore.Tenant{ID: "aaaaaaaa-0000-4000-8000-000000000004", Name: "Delta"}

	admin   = auth.Principal{Name: "alice", Role: auth.RoleAdmin}
	admin2  = auth.Principal{Name: "bob", Role: auth.RoleAdmin}
	analyst = auth.Principal{Name: "carol", Role: auth.RoleAnalyst}
	client  = auth.Principal{Name: "dave", Role: auth.RoleClient, Tenants: []string{tA.ID}}

	t0    = time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)
	today = fleetscore.DayOf(t0)
)

const safeLinks, scid = "mdo_safelinksforemail", "scid_2000"

// call is one write the service asked for.
type call struct{ tenant, control, state, comment string }

// script is a Writer: write-back per tenant, and per tenant what a write
// answers (nil: the profile read back shows the state written).
type script struct {
	writeBack map[string]bool
	answer    map[string]func(state string) (fleetscore.ControlProfile, error)
	calls     []call
}

func (w *script) SetControlState(_ context.Context, tenantID, control, state, comment string) (fleetscore.ControlProfile, error) {
	w.calls = append(w.calls, call{tenantID, control, state, comment})
	if f := w.answer[tenantID]; f != nil {
		return f(state)
	}
	return profile(control, state, t0), nil
}

func (w *script) WriteBack(tenantID string) bool { return w.writeBack[tenantID] }

func profile(control, state string, at time.Time) fleetscore.ControlProfile {
	p := fleetscore.ControlProfile{ID: control, Title: "Title of " + control, Category: fleetscore.CategoryApps, MaxScore: 9}
	if state != "" {
		p.StateUpdates = []fleetscore.ControlStateUpdate{{State: state, UpdatedBy: "someone", UpdatedAt: at}}
	}
	return p
}

type fixture struct {
	store *sqlite.Store
	w     *script
	svc   *exceptions.Service
	clock time.Time
}

// newFixture stores four tenants, each with a snapshot of today and the
// profiles of safeLinks (Default), scid and mdo_antiphish.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "fleetscore.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tenants := []fleetscore.Tenant{tA, tB, tC, tD}
	if err := s.SyncTenants(ctx, tenants); err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants {
		saveDay(t, s, tn, today, "")
	}
	f := &fixture{store: s, clock: t0,
		w: &script{writeBack: map[string]bool{tA.ID: true, tC.ID: true, tD.ID: true}, answer: map[string]func(string) (fleetscore.ControlProfile, error){}}}
	f.svc = &exceptions.Service{Store: s, Writer: f.w, Now: func() time.Time { return f.clock }}
	return f
}

// saveDay stores a tenant's snapshot of day and its profiles, safeLinks in
// the given state ("" for none).
func saveDay(t *testing.T, s *sqlite.Store, tn fleetscore.Tenant, day fleetscore.Day, state string) {
	t.Helper()
	sl := profile(safeLinks, state, day.Time().Add(time.Hour))
	b := fleetscore.Batch{Tenant: tn,
		Scores: []fleetscore.Score{{TenantID: tn.ID, Day: day, CurrentScore: 10, MaxScore: 27, Controls: []fleetscore.ControlScore{
			{Name: safeLinks, Category: fleetscore.CategoryApps}, {Name: scid, Category: fleetscore.CategoryDevice},
			{Name: "mdo_antiphish", Category: fleetscore.CategoryApps}}}},
		Profiles: []fleetscore.ControlProfile{sl, profile(scid, "", time.Time{}), profile("mdo_antiphish", "", time.Time{})}}
	if err := s.SaveBatch(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) all(t *testing.T) []exceptions.Exception {
	t.Helper()
	es, err := f.store.Exceptions(context.Background(), exceptions.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestApplyPerTenantStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.w.answer[tC.ID] = func(string) (fleetscore.ControlProfile, error) {
		return fleetscore.ControlProfile{}, fmt.Errorf("set state: %w", &graph.Error{Kind: graph.KindGraph, Status: 403,
			Msg: "Graph refused the write (403 Forbidden)", Advice: "grant the app SecurityEvents.ReadWrite.All and consent again"})
	}
	f.w.answer[tD.ID] = func(string) (fleetscore.ControlProfile, error) { return profile(safeLinks, "Default", t0), nil }
	got, err := f.svc.Apply(ctx, analyst, exceptions.Request{Control: safeLinks, Tenants: []string{tA.ID, strings.ToUpper(tB.ID), tC.ID, tD.ID},
		State: "thirdparty", Reason: "  covered by Mimecast  "})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{tA.ID: exceptions.StatusWritten, tB.ID: exceptions.StatusLocal, tC.ID: exceptions.StatusFailed, tD.ID: exceptions.StatusFailed}
	if len(got) != 4 {
		t.Fatalf("%d exceptions, want one per tenant: %+v", len(got), got)
	}
	for _, e := range got {
		if e.Status != want[e.TenantID] {
			t.Errorf("%s: status %s, want %s (error %q)", e.TenantID, e.Status, want[e.TenantID], e.Error)
		}
		if e.State != fleetscore.StateThirdParty || e.Reason != "covered by Mimecast" || e.CreatedBy != "carol" || e.ID == 0 {
			t.Errorf("%s: %+v", e.TenantID, e)
		}
		if want := fleetscore.MustDay("2027-05-10"); e.ReviewBy != want {
			t.Errorf("%s: review_by %s, want a year on, %s", e.TenantID, e.ReviewBy, want)
		}
	}
	if a := got[0]; !a.WrittenAt.Equal(t0) {
		t.Errorf("written at %v, want %v", a.WrittenAt, t0)
	}
	if c := got[2]; c.Error != "Graph refused the write (403 Forbidden)" || !strings.Contains(c.Advice, "SecurityEvents.ReadWrite.All") {
		t.Errorf("failed write: error %q, advice %q", c.Error, c.Advice)
	}
	if d := got[3]; !strings.Contains(d.Error, "read back shows Default") {
		t.Errorf("read-back mismatch: error %q", d.Error)
	}
	// B has write-back off: nothing sent there.
	if len(f.w.calls) != 3 {
		t.Fatalf("calls = %+v, want A, C and D", f.w.calls)
	}
	if c := f.w.calls[0]; c != (call{tA.ID, safeLinks, fleetscore.StateThirdParty, "covered by Mimecast"}) {
		t.Errorf("write = %+v", c)
	}
	if n := len(f.all(t)); n != 4 {
		t.Errorf("register holds %d, want 4", n)
	}
}

func TestScidIsRefusedAndNothingSent(t *testing.T) {
	f := newFixture(t)
	got, err := f.svc.Apply(context.Background(), admin, exceptions.Request{Control: scid, Tenants: []string{tA.ID},
		State: fleetscore.StateReviewed, Reason: "MDE is handled by the client"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Status != exceptions.StatusRefused || !strings.Contains(got[0].Error, "Defender for Endpoint") {
		t.Errorf("got %+v, want refused", got[0])
	}
	if len(f.w.calls) != 0 {
		t.Errorf("calls = %+v, want none", f.w.calls)
	}
}

func TestApplyingAgainSendsNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	req := exceptions.Request{Control: safeLinks, Tenants: []string{tA.ID}, State: fleetscore.StateThirdParty, Reason: "Mimecast"}
	first, err := f.svc.Apply(ctx, admin, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Reason = "Mimecast, re-applied"
	again, err := f.svc.Apply(ctx, admin, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.w.calls) != 1 {
		t.Errorf("calls = %+v, want the first only", f.w.calls)
	}
	if again[0].ID != first[0].ID || again[0].Status != exceptions.StatusWritten || again[0].Reason != "Mimecast, re-applied" {
		t.Errorf("again = %+v, want the same row, still written, with the new reason", again[0])
	}
	if n := len(f.all(t)); n != 1 {
		t.Errorf("register holds %d, want 1", n)
	}

	// A state Microsoft already shows (set in the portal) is not sent: it
	// is in effect.
	saveDay(t, f.store, tB, today, fleetscore.StateThirdParty)
	f.w.writeBack[tB.ID] = true
	got, err := f.svc.Apply(ctx, admin, exceptions.Request{Control: safeLinks, Tenants: []string{tB.ID}, State: fleetscore.StateThirdParty, Reason: "Mimecast"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Status != exceptions.StatusInEffect || len(f.w.calls) != 1 {
		t.Errorf("already in Microsoft: %+v, calls %+v", got[0], f.w.calls)
	}
}

func TestInvalidRequestsWriteNothing(t *testing.T) {
	ok := exceptions.Request{Control: safeLinks, Tenants: []string{tA.ID}, State: fleetscore.StateThirdParty, Reason: "Mimecast"}
	for _, tc := range []struct {
		name string
		who  auth.Principal
		edit func(r *exceptions.Request)
		kind error
		want string
	}{
		{"client", client, func(*exceptions.Request) {}, exceptions.ErrForbidden, "may only read"},
		{"no control", admin, func(r *exceptions.Request) { r.Control = " " }, exceptions.ErrInvalid, "control is required"},
		{"bad control", admin, func(r *exceptions.Request) { r.Control = "../x" }, exceptions.ErrInvalid, "not a control profile id"},
		{"unknown control", admin, func(r *exceptions.Request) { r.Control = "mdo_nosuch" }, exceptions.ErrInvalid, `has no control "mdo_nosuch"`},
		{"bad state", admin, func(r *exceptions.Request) { r.State = "Resolved" }, exceptions.ErrInvalid, "not one of ThirdParty, Ignored, Reviewed, Default"},
		{"no reason", admin, func(r *exceptions.Request) { r.Reason = "  " }, exceptions.ErrInvalid, "reason is required"},
		{"long reason", admin, func(r *exceptions.Request) { r.Reason = strings.Repeat("x", 1025) }, exceptions.ErrInvalid, "at most 1024"},
		{"ignored without review", admin, func(r *exceptions.Request) { r.State = "Ignored" }, exceptions.ErrInvalid, "review_by is required for Ignored"},
		{"review in the past", admin, func(r *exceptions.Request) { r.ReviewBy = today.AddDays(-1) }, exceptions.ErrInvalid, "in the past"},
		{"no tenants", admin, func(r *exceptions.Request) { r.Tenants = nil }, exceptions.ErrInvalid, "tenants is required"},
		{"unknown tenant", admin, func(r *exceptions.Request) { r.Tenants = []string{tA.ID, "ffffffff-0000-4000-8000-000000000009"} },
			exceptions.ErrInvalid, "not a configured tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			r := ok
			r.Tenants = append([]string(nil), ok.Tenants...)
			tc.edit(&r)
			_, err := f.svc.Apply(context.Background(), tc.who, r)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %v naming %q", err, tc.kind, tc.want)
			}
			if len(f.w.calls) != 0 || len(f.all(t)) != 0 {
				t.Errorf("calls %+v, register %+v: want nothing", f.w.calls, f.all(t))
			}
		})
	}
	// Today is a valid review date, and the last one allowed.
	f := newFixture(t)
	r := ok
	r.State, r.ReviewBy = fleetscore.StateIgnored, today
	if _, err := f.svc.Apply(context.Background(), admin, r); err != nil {
		t.Errorf("review today: %v", err)
	}
}

func TestIgnoredWaitsForASecondAdmin(t *testing.T) {
	f := newFixture(t)
	f.svc.Approval = true
	ctx := context.Background()
	got, err := f.svc.Apply(ctx, admin, exceptions.Request{Control: safeLinks, Tenants: []string{tA.ID}, State: fleetscore.StateIgnored,
		Reason: "accepted risk", ReviewBy: today.AddDays(90)})
	if err != nil {
		t.Fatal(err)
	}
	e := got[0]
	if e.Status != exceptions.StatusPendingApproval || len(f.w.calls) != 0 {
		t.Fatalf("got %+v, calls %+v; want pending, nothing sent", e, f.w.calls)
	}
	// ThirdParty needs no approval.
	if got, _ := f.svc.Apply(ctx, admin, exceptions.Request{Control: "mdo_antiphish", Tenants: []string{tA.ID}, State: fleetscore.StateThirdParty,
		Reason: "Mimecast"}); got[0].Status != exceptions.StatusWritten {
		t.Errorf("third party with approval on: %+v", got[0])
	}
	f.w.calls = nil
	for _, tc := range []struct {
		who  auth.Principal
		kind error
	}{{admin, exceptions.ErrForbidden}, {analyst, exceptions.ErrForbidden}, {client, exceptions.ErrForbidden}} {
		if _, err := f.svc.Approve(ctx, tc.who, e.ID); !errors.Is(err, tc.kind) {
			t.Errorf("approve by %s: %v, want %v", tc.who.Name, err, tc.kind)
		}
	}
	if len(f.w.calls) != 0 {
		t.Fatalf("refused approvals wrote: %+v", f.w.calls)
	}
	ok, err := f.svc.Approve(ctx, admin2, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok.Status != exceptions.StatusWritten || ok.ApprovedBy != "bob" || len(f.w.calls) != 1 || f.w.calls[0].state != fleetscore.StateIgnored {
		t.Errorf("approved: %+v, calls %+v", ok, f.w.calls)
	}
	if stored, _ := f.store.Exception(ctx, e.ID); stored.Status != exceptions.StatusWritten || stored.ApprovedBy != "bob" {
		t.Errorf("stored: %+v", stored)
	}
	if _, err := f.svc.Approve(ctx, admin2, e.ID); !errors.Is(err, exceptions.ErrConflict) {
		t.Errorf("approving twice: %v, want ErrConflict", err)
	}
	if _, err := f.svc.Approve(ctx, admin2, 4242); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("approving an unknown one: %v, want ErrNotFound", err)
	}
}

func TestFollowDerivesStatusFromCollectedData(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.Apply(ctx, admin, exceptions.Request{Control: safeLinks, Tenants: []string{tA.ID, tB.ID}, State: fleetscore.StateThirdParty,
		Reason: "Mimecast", ReviewBy: today.AddDays(30)}); err != nil {
		t.Fatal(err)
	}
	status := func(id string) string {
		es, _ := f.store.Exceptions(ctx, exceptions.Filter{TenantID: id})
		return es[0].Status
	}
	// Before any later collection nothing changes: today's stored profile
	// (collected before the write) still shows Default.
	if ch, err := f.svc.Follow(ctx, t0); err != nil || len(ch) != 0 {
		t.Fatalf("Follow at once: %+v, %v", ch, err)
	}
	// The next day's snapshot shows the state: in effect.
	saveDay(t, f.store, tA, today.AddDays(1), fleetscore.StateThirdParty)
	ch, err := f.svc.Follow(ctx, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 || ch[0].TenantID != tA.ID || ch[0].Status != exceptions.StatusInEffect {
		t.Fatalf("changed = %+v, want A in effect", ch)
	}
	// Following again changes nothing.
	if ch, _ := f.svc.Follow(ctx, t0.Add(24*time.Hour)); len(ch) != 0 {
		t.Errorf("Follow again: %+v", ch)
	}
	// Someone sets it back in the portal: drifted, once.
	saveDay(t, f.store, tA, today.AddDays(2), fleetscore.StateDefault)
	if ch, _ := f.svc.Follow(ctx, t0.Add(48*time.Hour)); len(ch) != 1 || ch[0].Status != exceptions.StatusDrifted {
		t.Fatalf("after the portal change: %+v, want drifted", ch)
	}
	if ch, _ := f.svc.Follow(ctx, t0.Add(48*time.Hour)); len(ch) != 0 {
		t.Errorf("drifted twice: %+v", ch)
	}
	// And set again: in effect again.
	saveDay(t, f.store, tA, today.AddDays(3), fleetscore.StateThirdParty)
	if ch, _ := f.svc.Follow(ctx, t0.Add(72*time.Hour)); len(ch) != 1 || ch[0].Status != exceptions.StatusInEffect {
		t.Errorf("set again: %+v, want in effect", ch)
	}
	if status(tB.ID) != exceptions.StatusLocal {
		t.Errorf("local B: %s", status(tB.ID))
	}
	// The review date is the last day: the day after, both expire.
	if ch, _ := f.svc.Follow(ctx, today.AddDays(30).Time().Add(23*time.Hour)); len(ch) != 0 {
		t.Errorf("on the review date: %+v", ch)
	}
	ch, _ = f.svc.Follow(ctx, today.AddDays(31).Time())
	if len(ch) != 2 || status(tA.ID) != exceptions.StatusExpired || status(tB.ID) != exceptions.StatusExpired {
		t.Errorf("after the review date: %+v", ch)
	}
}

func TestWrittenStateChangedInThePortalSameDayDrifts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.Apply(ctx, admin, exceptions.Request{Control: safeLinks, Tenants: []string{tA.ID}, State: fleetscore.StateThirdParty,
		Reason: "Mimecast"}); err != nil {
		t.Fatal(err)
	}
	// A collection the same day finds a newer state update than the write.
	s := f.store
	b := fleetscore.Batch{Tenant: tA, Profiles: []fleetscore.ControlProfile{profile(safeLinks, fleetscore.StateIgnored, t0.Add(time.Hour)),
		profile(scid, "", time.Time{}), profile("mdo_antiphish", "", time.Time{})}}
	if err := s.SaveBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if ch, _ := f.svc.Follow(ctx, t0.Add(2*time.Hour)); len(ch) != 1 || ch[0].Status != exceptions.StatusDrifted {
		t.Errorf("changed = %+v, want drifted", ch)
	}
}

func TestDeleteWritesDefaultBackWhereItWasWritten(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.w.answer[tC.ID] = func(state string) (fleetscore.ControlProfile, error) {
		if state == fleetscore.StateDefault {
			return fleetscore.ControlProfile{}, &graph.Error{Msg: "Graph answered 503", Advice: "try again later"}
		}
		return profile(safeLinks, state, t0), nil
	}
	got, err := f.svc.Apply(ctx, admin, exceptions.Request{Control: safeLinks, Tenants: []string{tA.ID, tB.ID, tC.ID}, State: fleetscore.StateThirdParty,
		Reason: "Mimecast"})
	if err != nil {
		t.Fatal(err)
	}
	f.w.calls = nil
	if _, err := f.svc.Delete(ctx, client, got[0].ID); !errors.Is(err, exceptions.ErrForbidden) {
		t.Errorf("client delete: %v", err)
	}
	if _, err := f.svc.Delete(ctx, analyst, got[0].ID); err != nil {
		t.Fatal(err)
	}
	if len(f.w.calls) != 1 || f.w.calls[0].state != fleetscore.StateDefault || f.w.calls[0].tenant != tA.ID ||
		!strings.Contains(f.w.calls[0].comment, "removed in fleetscore by carol") {
		t.Errorf("calls = %+v, want Default written at A", f.w.calls)
	}
	// Local: removed without a write.
	if _, err := f.svc.Delete(ctx, admin, got[1].ID); err != nil {
		t.Fatal(err)
	}
	if len(f.w.calls) != 1 {
		t.Errorf("local delete wrote: %+v", f.w.calls)
	}
	// The write of Default fails: the exception stays, with the error.
	if _, err := f.svc.Delete(ctx, admin, got[2].ID); err == nil || !strings.Contains(err.Error(), "Graph answered 503") {
		t.Errorf("failed delete: %v", err)
	}
	left := f.all(t)
	if len(left) != 1 || left[0].ID != got[2].ID || !strings.Contains(left[0].Error, "writing Default back failed") || left[0].Advice != "try again later" {
		t.Errorf("left = %+v", left)
	}
	if _, err := f.svc.Delete(ctx, admin, got[0].ID); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}

func TestTemplateAppliesEveryItemOrNone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mimecast := exceptions.Template{Name: "Mimecast", Items: []exceptions.TemplateItem{
		{Control: safeLinks, State: fleetscore.StateThirdParty, Reason: "Mimecast URL Protect"},
		{Control: "mdo_antiphish", State: fleetscore.StateThirdParty, Reason: "Mimecast impersonation protection"},
	}}
	got, err := f.svc.ApplyTemplate(ctx, admin, mimecast, []string{tA.ID, tB.ID}, today.AddDays(180), "mail team")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Control != safeLinks || got[2].Control != "mdo_antiphish" || got[1].TenantID != tB.ID || got[3].Owner != "mail team" {
		t.Errorf("got %+v", got)
	}
	if len(f.w.calls) != 2 { // A writes; B is local
		t.Errorf("calls = %+v", f.w.calls)
	}
	bad := mimecast
	bad.Items = append(append([]exceptions.TemplateItem(nil), mimecast.Items...), exceptions.TemplateItem{Control: "mdo_nosuch", State: "ThirdParty", Reason: "x"})
	f2 := newFixture(t)
	if _, err := f2.svc.ApplyTemplate(ctx, admin, bad, []string{tA.ID}, fleetscore.Day{}, ""); !errors.Is(err, exceptions.ErrInvalid) ||
		!strings.Contains(err.Error(), "item 3") {
		t.Errorf("bad template: %v", err)
	}
	if len(f2.w.calls) != 0 || len(f2.all(t)) != 0 {
		t.Errorf("a bad template wrote: %+v", f2.w.calls)
	}
}

func TestExceptionJSON(t *testing.T) {
	e := exceptions.Exception{ID: 7, TenantID: tA.ID, Control: safeLinks, State: "ThirdParty", Reason: "r", ReviewBy: fleetscore.MustDay("2027-01-02"),
		CreatedBy: "alice", CreatedAt: t0, Status: exceptions.StatusWritten, WrittenAt: t0}
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":7`, `"tenant_id":"` + tA.ID + `"`, `"control":"` + safeLinks + `"`, `"state":"ThirdParty"`, `"reason":"r"`,
		`"review_by":"2027-01-02"`, `"status":"written"`, `"error":""`, `"advice":""`, `"created_by":"alice"`, `"created_at":"2026-05-10T09:00:00Z"`,
		`"written_at":"2026-05-10T09:00:00Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back exceptions.Exception
	if err := back.UnmarshalJSON(b); err != nil || back.ReviewBy != e.ReviewBy || !back.WrittenAt.Equal(t0) || back.ID != 7 {
		t.Errorf("read back %+v, %v", back, err)
	}
}
