package emulator

import (
	"bytes"
	"reflect"
	"sort"
	"testing"

	"github.com/fleetscore/fleetscore"
)

func TestExpectedIsWhatGraphServes(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 42, Tenants: 6, Now: c.Now, ProfilePageSize: 100})
	for _, ti := range e.Tenants() {
		wantScores, wantProfiles := e.Expected(ti.ID)
		gotScores, gotProfiles := served(t, e, ti.ID)
		if !reflect.DeepEqual(gotScores, wantScores) {
			t.Errorf("tenant %s: served scores differ from Expected\nserved:   %s\nexpected: %s", ti.ID, dump(gotScores[:1]), dump(wantScores[:1]))
		}
		if !reflect.DeepEqual(gotProfiles, wantProfiles) {
			for i := range min(len(gotProfiles), len(wantProfiles)) {
				if !reflect.DeepEqual(gotProfiles[i], wantProfiles[i]) {
					t.Errorf("tenant %s profile %d:\nserved:   %s\nexpected: %s", ti.ID, i, dump(gotProfiles[i]), dump(wantProfiles[i]))
					break
				}
			}
			t.Errorf("tenant %s: %d profiles served, %d expected", ti.ID, len(gotProfiles), len(wantProfiles))
		}
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	body := func(seed int64) ([]byte, []byte, string) {
		c := newClock("2026-03-15")
		e := startEmulator(t, Options{Seed: seed, Tenants: 2, Now: c.Now})
		ten := e.Tenants()[1]
		tok := token(t, e, ten.ID)
		scores := get(t, e, tok, "/v1.0/security/secureScores")
		profiles := get(t, e, tok, "/v1.0/security/secureScoreControlProfiles?$top=400")
		// The host (port) differs between emulators; compare without it.
		strip := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(e.URL()), []byte("https://emulator")) }
		return strip(scores.Body), strip(profiles.Body), ten.ID
	}
	s1, p1, id1 := body(7)
	s2, p2, id2 := body(7)
	if id1 != id2 {
		t.Fatalf("tenant IDs differ for the same seed: %s, %s", id1, id2)
	}
	if !bytes.Equal(s1, s2) || !bytes.Equal(p1, p2) {
		t.Fatal("same seed served different bytes")
	}
	s3, _, id3 := body(8)
	if id3 == id1 || bytes.Equal(s1, s3) {
		t.Fatal("a different seed served the same tenant data")
	}
}

func TestAdvancingOneDayAddsOneDayAndKeepsHistory(t *testing.T) {
	c := newClock("2026-03-15")
	e := New(Options{Seed: 3, Tenants: 20, Now: c.Now, NoQuirks: true})
	before := map[string][]fleetscore.Score{}
	for _, ti := range e.Tenants() {
		before[ti.ID], _ = e.Expected(ti.ID)
	}
	c.AddDays(1)
	for _, ti := range e.Tenants() {
		after, _ := e.Expected(ti.ID)
		old := before[ti.ID]
		if len(after) != 90 || len(old) != 90 {
			t.Fatalf("want 90 days before and after, got %d and %d", len(old), len(after))
		}
		if got, want := after[89].Day, fleetscore.MustDay("2026-03-16"); got != want {
			t.Errorf("newest day %s, want %s", got, want)
		}
		if got, want := after[0].Day, old[1].Day; got != want {
			t.Errorf("oldest day %s, want %s (the old oldest falls out)", got, want)
		}
		if !reflect.DeepEqual(after[:89], old[1:]) {
			t.Fatalf("tenant %s: days already served changed when the clock advanced", ti.ID)
		}
	}
}

func TestScoresAreSumsOfControlsAndMatchProfiles(t *testing.T) {
	c := newClock("2026-03-15")
	e := New(Options{Seed: 11, Tenants: 30, Now: c.Now})
	for _, ti := range e.Tenants() {
		scores, profiles := e.Expected(ti.ID)
		maxOf := map[string]float64{}
		for _, p := range profiles {
			maxOf[p.ID] = p.MaxScore
		}
		for _, s := range scores {
			var cur int64
			for _, cs := range s.Controls {
				cur += int64(cs.Score*100 + 0.5)
				if m, ok := maxOf[cs.Name]; ok && (cs.Score < 0 || cs.Score > m) {
					t.Fatalf("%s %s: control %s scores %v of max %v", ti.ID, s.Day, cs.Name, cs.Score, m)
				}
			}
			if float64(cur)/100 != s.CurrentScore {
				t.Fatalf("%s %s: currentScore %v is not the sum of control scores %v", ti.ID, s.Day, s.CurrentScore, float64(cur)/100)
			}
		}
		// maxScore of today = sum of the profile max of today's controls.
		today := scores[len(scores)-1]
		var max float64
		missing := 0
		for _, cs := range today.Controls {
			if m, ok := maxOf[cs.Name]; ok {
				max += m
			} else {
				missing++
			}
		}
		if missing > 1 {
			t.Errorf("%s: %d of today's controls have no profile; at most one (the orphan quirk) may", ti.ID, missing)
		}
		if missing == 0 && max != today.MaxScore {
			t.Errorf("%s: maxScore %v, sum of profile maxScore %v", ti.ID, today.MaxScore, max)
		}
	}
}

// The benchmark and the dashboard need a fleet that looks like a real one:
// these are the properties the data model promises.
func TestFleetLooksReal(t *testing.T) {
	c := newClock("2026-03-15")
	const n = 200
	e := New(Options{Seed: 2026, Tenants: n, Now: c.Now})
	var (
		inBand, below75, above75 int
		changed, compared        int
		stepsUp                  int
		improving                int
		presence                 = map[string]int{}
		open                     = map[string]int{}
		ignored, thirdParty      int
		deprecated               int
	)
	for _, ti := range e.Tenants() {
		if ti.Controls < 150 || ti.Controls > 300 {
			t.Errorf("tenant %s has %d controls, want 150..300", ti.ID, ti.Controls)
		}
		scores, profiles := e.Expected(ti.ID)
		last := scores[len(scores)-1]
		pct := last.Percent()
		if pct >= 30 && pct <= 95 {
			inBand++
		}
		if pct < 75 {
			below75++
		} else {
			above75++
		}
		if last.Percent() > scores[0].Percent() {
			improving++
		}
		for i := 1; i < len(scores); i++ {
			prev := map[string]float64{}
			for _, cs := range scores[i-1].Controls {
				prev[cs.Name] = cs.Score
			}
			for _, cs := range scores[i].Controls {
				if p, ok := prev[cs.Name]; ok {
					compared++
					if p != cs.Score {
						changed++
					}
				}
			}
			if scores[i].MaxScore > scores[i-1].MaxScore {
				stepsUp++
			}
		}
		for _, cs := range last.Controls {
			presence[cs.Name]++
		}
		for _, p := range profiles {
			switch p.State() {
			case fleetscore.StateIgnored:
				ignored++
			case fleetscore.StateThirdParty:
				thirdParty++
			}
			if p.Deprecated {
				deprecated++
			}
		}
		for _, cs := range last.Controls {
			if cs.Score == 0 {
				open[cs.Name]++
			}
		}
	}
	rate := float64(changed) / float64(compared) * 100
	t.Logf("percent in 30..95: %d/%d; below 75: %d, above: %d; improving over the window: %d", inBand, n, below75, above75, improving)
	t.Logf("controls changing per day: %.2f%%; maxScore steps up: %d; ignored %d, third party %d, deprecated profiles %d",
		rate, stepsUp, ignored, thirdParty, deprecated)
	if inBand < n*85/100 {
		t.Errorf("only %d of %d tenants between 30 and 95 %%", inBand, n)
	}
	if below75 < n/4 || above75 < n/4 {
		t.Errorf("a 75 %% target should split the fleet: %d below, %d above", below75, above75)
	}
	if improving < n/2 {
		t.Errorf("scores should drift mostly upward: %d of %d tenants improved over the window", improving, n)
	}
	if rate < 1 || rate > 3 {
		t.Errorf("%.2f%% of controls change per day, want 1..3", rate)
	}
	if stepsUp < n/2 {
		t.Errorf("controls should be added within the window at many tenants: %d maxScore steps up", stepsUp)
	}
	if ignored == 0 || thirdParty == 0 || deprecated == 0 {
		t.Errorf("want some ignored (%d), third-party (%d) and deprecated (%d) controls", ignored, thirdParty, deprecated)
	}
	if presence["AdminMFAV2"] < n*8/10 {
		t.Errorf("AdminMFAV2 at %d of %d tenants; core controls should be nearly everywhere", presence["AdminMFAV2"], n)
	}
	type kv struct {
		k string
		v int
	}
	var top []kv
	for k, v := range open {
		top = append(top, kv{k, v})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].v > top[j].v })
	t.Logf("open at the most tenants: %v", top[:5])
	if top[0].v < n/2 {
		t.Errorf("the most common open action is open at only %d tenants", top[0].v)
	}
}

func TestQuirksAreSpreadOverTheFleet(t *testing.T) {
	e := New(Options{Seed: 5, Tenants: 100, Now: newClock("2026-03-15").Now})
	count := map[string]int{}
	for _, ti := range e.Tenants() {
		te, def := e.lookup(ti.ID)
		_ = te
		q := def.model.q
		for name, on := range map[string]bool{"stringNumbers": q.stringNumbers, "lowerSeat": q.lowerSeat, "noIndustry": q.noIndustry,
			"sentinels": q.sentinels, "holes": q.holes, "extraFields": q.extraFields, "orphan": q.orphan, "deprecated": q.deprecated} {
			if on {
				count[name]++
			}
		}
	}
	for _, name := range []string{"stringNumbers", "lowerSeat", "noIndustry", "sentinels", "holes", "extraFields", "orphan", "deprecated"} {
		if count[name] < 10 || count[name] > 60 {
			t.Errorf("quirk %s at %d of 100 tenants, want a good share but not all", name, count[name])
		}
	}
	plain := New(Options{Seed: 5, Tenants: 10, NoQuirks: true})
	for _, ti := range plain.Tenants() {
		_, def := plain.lookup(ti.ID)
		if def.model.q != (quirks{}) {
			t.Errorf("NoQuirks tenant %s has quirks %+v", ti.ID, def.model.q)
		}
	}
}
