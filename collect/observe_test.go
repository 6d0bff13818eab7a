package collect_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/emulator"
)

// answerCounts is a graph.AnswerCounter.
type answerCounts struct {
	mu sync.Mutex
	n  map[int]int
}

func (a *answerCounts) Answer(status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[int]int{}
	}
	a.n[status]++
}

func (a *answerCounts) counts() map[int]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[int]int, len(a.n))
	for k, v := range a.n {
		out[k] = v
	}
	return out
}

// observed is a collect.Observer.
type observed struct {
	mu   sync.Mutex
	took map[string][]time.Duration // by status
}

func (o *observed) Collected(status string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.took == nil {
		o.took = map[string][]time.Duration{}
	}
	o.took[status] = append(o.took[status], took)
}

// TestObserverAndAnswers: the Observer hears of each tenant collection with
// the status and duration the collection log records, and the counting
// client sees every answer the emulator gave, token requests included:
// each 429 and 503 a retry got past, and the revoked tenant's 403.
func TestObserverAndAnswers(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 7})
	var infos []emulator.TenantInfo
	for range 4 {
		infos = append(infos, f.emu.AddTenant(emulator.Tenant{ConsentedApps: []string{certAppID, secretAppID}}))
	}
	f.emu.SetFaults(infos[1].ID, emulator.Faults{Throttle: 2, RetryAfter: "1"})
	f.emu.SetFaults(infos[2].ID, emulator.Faults{RevokeConsent: true})
	f.emu.SetFaults(infos[3].ID, emulator.Faults{Unavailable: 2, UnavailableStatus: 503})

	c := f.collector()
	var obs observed
	c.Observer = &obs
	// A clock that moves a second at each reading, so that durations are
	// not zero; the log's and the Observer's must agree.
	var mu sync.Mutex
	clock := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Second); return clock }
	var jobs []collect.Job
	for i, ti := range infos {
		jobs = append(jobs, f.job(ti, i%2 == 1))
	}
	sum := c.Run(context.Background(), jobs)
	if sum.OK != 3 || sum.Failed != 1 {
		t.Fatalf("ok %d failed %d; want 3 and 1", sum.OK, sum.Failed)
	}
	logged := map[string][]time.Duration{}
	for _, r := range sum.Results {
		logged[r.Collection.Status] = append(logged[r.Collection.Status], r.Collection.Duration())
	}
	for _, status := range []string{fleetscore.StatusOK, fleetscore.StatusError} {
		if !sameDurations(obs.took[status], logged[status]) {
			t.Errorf("observed %s collections %v; the log has %v", status, obs.took[status], logged[status])
		}
		for _, d := range obs.took[status] {
			if d <= 0 {
				t.Errorf("observed a %s collection of %v", status, d)
			}
		}
	}
	if len(obs.took) != 2 {
		t.Errorf("observed statuses %v; want only ok and error", obs.took)
	}

	got, st := f.answers.counts(), f.emu.Stats("")
	if got[429] != 2 || st.Throttled != 2 {
		t.Errorf("429 answers counted %d, emulator sent %d; want 2", got[429], st.Throttled)
	}
	if got[503] != 2 || st.Unavailable != 2 {
		t.Errorf("503 answers counted %d, emulator sent %d; want 2", got[503], st.Unavailable)
	}
	// The revoked tenant's requests run side by side and its first 403 ends
	// the others: a 403 the emulator wrote after the client gave up is
	// counted as no answer (code 0), never as another code.
	if got[403] == 0 || got[403] > st.Forbidden || got[403]+got[0] < st.Forbidden {
		t.Errorf("403 answers counted %d (and %d without an answer), emulator sent %d", got[403], got[0], st.Forbidden)
	}
	// Every other answer is a 200: the Graph pages, the tokens and MSAL's
	// reads of the authority's metadata (which the emulator does not count).
	// A request that got no answer at all (code 0: on a loaded machine a
	// pooled connection can be closed under it, and the request is tried
	// again) is the transport's, not the emulator's: it is allowed, and
	// left out of the comparison with the emulator's counts.
	total := 0
	for code, n := range got {
		if code == 0 {
			continue
		}
		total += n
		if code != 200 && code != 403 && code != 429 && code != 503 {
			t.Errorf("%d answers of status %d counted", n, code)
		}
	}
	if want := st.Requests + st.TokenRequests; total < want || got[200] == 0 {
		t.Errorf("answers counted %v (%d in all); the emulator answered %d Graph and %d token requests", got, total, st.Requests, st.TokenRequests)
	}
}

func sameDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[time.Duration]int{}
	for _, d := range a {
		count[d]++
	}
	for _, d := range b {
		count[d]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}
