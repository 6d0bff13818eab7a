package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fleetscore/fleetscore"
)

// history is what a tenant's stored scores should be: the model the store is
// checked against. Saving a batch into it is plain "the batch's days replace
// the stored ones".
type history map[int64]fleetscore.Score

func (h history) save(tenantID string, scores []fleetscore.Score) {
	for _, s := range scores {
		s.TenantID = tenantID
		s.Controls = slices.Clone(s.Controls)
		slices.SortStableFunc(s.Controls, func(a, b fleetscore.ControlScore) int { return cmp.Compare(a.Name, b.Name) })
		h[s.Day.Unix()] = s
	}
}

// between returns the days from..to (zero days: open ends), oldest first.
func (h history) between(from, to fleetscore.Day) []fleetscore.Score {
	var out []fleetscore.Score
	for _, d := range slices.Sorted(maps.Keys(h)) {
		if (!from.IsZero() && d < from.Unix()) || (!to.IsZero() && d > to.Unix()) {
			continue
		}
		out = append(out, h[d])
	}
	return out
}

func (h history) newest() fleetscore.Day {
	if len(h) == 0 {
		return fleetscore.Day{}
	}
	return fleetscore.DayFromUnix(slices.Max(slices.Collect(maps.Keys(h))))
}

// checkHistory checks that the store holds exactly h for the tenant: every
// day, whole and in ranges, and the latest day.
func checkHistory(t *testing.T, s fleetscore.Store, tenantID string, h history) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Scores(ctx, tenantID, fleetscore.Day{}, fleetscore.Day{})
	if err != nil {
		t.Fatalf("Scores(%s): %v", tenantID, err)
	}
	checkScores(t, "Scores(all days)", h.between(fleetscore.Day{}, fleetscore.Day{}), got, h.newest())

	day, ok, err := s.LatestDay(ctx, tenantID)
	switch {
	case err != nil:
		t.Errorf("LatestDay(%s): %v", tenantID, err)
	case len(h) == 0 && ok:
		t.Errorf("LatestDay(%s) = %s, want none", tenantID, day)
	case len(h) > 0 && (!ok || day.Unix() != h.newest().Unix()):
		t.Errorf("LatestDay(%s) = %s, %v, want %s", tenantID, day, ok, h.newest())
	}
}

// checkScores compares what Scores returned with what it should have. The
// enabled services are only required on the newest stored day: a store may
// keep them for that day only.
func checkScores(t *testing.T, what string, want, got []fleetscore.Score, newest fleetscore.Day) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d days, want %d:\n got %s\nwant %s", what, len(got), len(want), days(got), days(want))
		return
	}
	bad := 0
	for i := range want {
		if problems := diffScore(want[i], got[i], newest); len(problems) > 0 {
			t.Errorf("%s: day %s: %s", what, want[i].Day, strings.Join(problems, "; "))
			if bad++; bad == 5 {
				t.Errorf("%s: ... (stopped at 5 days)", what)
				return
			}
		}
	}
}

func days(scores []fleetscore.Score) string {
	var b strings.Builder
	for i, s := range scores {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Day.String())
	}
	return "[" + b.String() + "]"
}

func diffScore(w, g fleetscore.Score, newest fleetscore.Day) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if g.Day.String() != w.Day.String() {
		add("day %s", g.Day)
	}
	if g.TenantID != w.TenantID {
		add("tenant %q, want %q", g.TenantID, w.TenantID)
	}
	if g.CurrentScore != w.CurrentScore || g.MaxScore != w.MaxScore {
		add("score %v/%v, want %v/%v", g.CurrentScore, g.MaxScore, w.CurrentScore, w.MaxScore)
	}
	if want := fleetscore.Percent(w.CurrentScore, w.MaxScore); g.Percent() != want {
		add("percent %v, want %v", g.Percent(), want)
	}
	if g.ActiveUserCount != w.ActiveUserCount || g.LicensedUserCount != w.LicensedUserCount {
		add("users %d/%d, want %d/%d", g.ActiveUserCount, g.LicensedUserCount, w.ActiveUserCount, w.LicensedUserCount)
	}
	if !maps.Equal(g.Averages, w.Averages) {
		add("averages %v, want %v", g.Averages, w.Averages)
	}
	services := slices.Equal(g.EnabledServices, w.EnabledServices)
	if w.Day.Unix() == newest.Unix() && !services {
		add("enabled services %q, want %q", g.EnabledServices, w.EnabledServices)
	} else if !services && g.EnabledServices != nil {
		add("enabled services %q, want %q or none", g.EnabledServices, w.EnabledServices)
	}
	if !slices.IsSortedFunc(g.Controls, func(a, b fleetscore.ControlScore) int { return cmp.Compare(a.Name, b.Name) }) {
		add("controls not sorted by name")
	}
	if d := diffControls(w.Controls, g.Controls); d != "" {
		add("controls: %s", d)
	}
	return p
}

// diffControls describes how got differs from want, at most a few controls.
func diffControls(want, got []fleetscore.ControlScore) string {
	w := map[string]fleetscore.ControlScore{}
	for _, c := range want {
		w[c.Name] = c
	}
	g := map[string]fleetscore.ControlScore{}
	for _, c := range got {
		if _, dup := g[c.Name]; dup {
			return fmt.Sprintf("%s listed twice", c.Name)
		}
		g[c.Name] = c
	}
	var p []string
	for _, name := range slices.Sorted(maps.Keys(w)) {
		switch gc, ok := g[name]; {
		case !ok:
			p = append(p, fmt.Sprintf("%s missing", name))
		case gc != w[name]:
			p = append(p, fmt.Sprintf("%s is %+v, want %+v", name, gc, w[name]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[name]; !ok {
			p = append(p, fmt.Sprintf("%s unexpected (%v)", name, g[name].Score))
		}
	}
	if len(p) > 4 {
		p = append(p[:4], fmt.Sprintf("and %d more", len(p)-4))
	}
	return strings.Join(p, ", ")
}

// checkProfiles compares Profiles with want, in any order.
func checkProfiles(t *testing.T, s fleetscore.Store, tenantID string, want []fleetscore.ControlProfile) {
	t.Helper()
	got, err := s.Profiles(context.Background(), tenantID)
	if err != nil {
		t.Fatalf("Profiles(%s): %v", tenantID, err)
	}
	byID := func(a, b fleetscore.ControlProfile) int { return cmp.Compare(a.ID, b.ID) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if len(got) != len(want) {
		t.Errorf("Profiles(%s): %d profiles %v, want %d %v", tenantID, len(got), profileIDs(got), len(want), profileIDs(want))
		return
	}
	for i := range want {
		if d := diffProfile(want[i], got[i]); d != "" {
			t.Errorf("Profiles(%s): %s: %s", tenantID, want[i].ID, d)
		}
	}
	checkTenantProfiles(t, s, tenantID, want)
}

// tenantProfileReader is query.TenantProfileReader: every store reads one
// tenant's profiles without the long texts its views never show.
type tenantProfileReader interface {
	TenantProfiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error)
}

// checkTenantProfiles checks TenantProfiles against want (sorted by ID):
// Profiles' answer, each profile without its ActionType, Service, Threats
// and Remediation.
func checkTenantProfiles(t *testing.T, s fleetscore.Store, tenantID string, want []fleetscore.ControlProfile) {
	t.Helper()
	r, ok := s.(tenantProfileReader)
	if !ok {
		t.Fatalf("%T has no TenantProfiles", s)
	}
	got, err := r.TenantProfiles(context.Background(), tenantID)
	if err != nil {
		t.Fatalf("TenantProfiles(%s): %v", tenantID, err)
	}
	got = slices.Clone(got)
	slices.SortFunc(got, func(a, b fleetscore.ControlProfile) int { return cmp.Compare(a.ID, b.ID) })
	if len(got) != len(want) {
		t.Errorf("TenantProfiles(%s): %d profiles %v, want %d %v", tenantID, len(got), profileIDs(got), len(want), profileIDs(want))
		return
	}
	for i := range want {
		w := want[i]
		w.ActionType, w.Service, w.Threats, w.Remediation = "", "", nil, ""
		if d := diffProfile(w, got[i]); d != "" {
			t.Errorf("TenantProfiles(%s): %s: %s", tenantID, w.ID, d)
		}
	}
}

func profileIDs(ps []fleetscore.ControlProfile) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func diffProfile(w, g fleetscore.ControlProfile) string {
	var p []string
	wu, gu := w.StateUpdates, g.StateUpdates
	w.StateUpdates, g.StateUpdates = nil, nil
	wt, gt := w.Threats, g.Threats
	w.Threats, g.Threats = nil, nil
	if !reflect.DeepEqual(w, g) {
		p = append(p, fmt.Sprintf("got %+v, want %+v", g, w))
	}
	if !slices.Equal(wt, gt) {
		p = append(p, fmt.Sprintf("threats %q, want %q", gt, wt))
	}
	if !slices.EqualFunc(wu, gu, func(a, b fleetscore.ControlStateUpdate) bool {
		return a.State == b.State && a.AssignedTo == b.AssignedTo && a.Comment == b.Comment &&
			a.UpdatedBy == b.UpdatedBy && a.UpdatedAt.Equal(b.UpdatedAt)
	}) {
		p = append(p, fmt.Sprintf("state updates %+v, want %+v", gu, wu))
	}
	return strings.Join(p, "; ")
}

func save(t *testing.T, s fleetscore.Store, b fleetscore.Batch) {
	t.Helper()
	if err := s.SaveBatch(context.Background(), b); err != nil {
		t.Fatalf("SaveBatch(%s, %d days): %v", b.Tenant.ID, len(b.Scores), err)
	}
}

func scores(t *testing.T, s fleetscore.Store, tenantID string, from, to fleetscore.Day) []fleetscore.Score {
	t.Helper()
	got, err := s.Scores(context.Background(), tenantID, from, to)
	if err != nil {
		t.Fatalf("Scores(%s, %s, %s): %v", tenantID, from, to, err)
	}
	return got
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("%s: error %v, want one wrapping fleetscore.ErrNotFound", what, err)
	}
}

// countdown is a context that is cancelled by its n-th look at Done or Err:
// a way to cancel an operation at each of its steps in turn, whatever the
// store does in between.
type countdown struct {
	context.Context // Deadline and Value of context.Background
	left            atomic.Int64
	done            chan struct{}
	once            sync.Once
}

func newCountdown(n int64) *countdown {
	c := &countdown{Context: context.Background(), done: make(chan struct{})}
	c.left.Store(n)
	return c
}

func (c *countdown) tick() {
	if c.left.Add(-1) <= 0 {
		c.once.Do(func() { close(c.done) })
	}
}

func (c *countdown) Done() <-chan struct{} {
	c.tick()
	return c.done
}

func (c *countdown) Err() error {
	c.tick()
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}
