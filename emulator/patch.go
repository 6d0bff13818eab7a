package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetscore/fleetscore"
)

// PATCH /security/secureScoreControlProfiles/{id}, as Microsoft documents
// it (securescorecontrolprofile-update): the body must carry
// vendorInformation with provider and vendor; state is one of Default,
// Ignored, ThirdParty, Reviewed; the app needs SecurityEvents.ReadWrite.All;
// the answer is 204, or 200 with the profile under Prefer:
// return=representation. A change adds a controlStateUpdates entry at once;
// the scores follow from the next day's snapshot on (Microsoft computes a
// day's snapshot once), ThirdParty scoring full points and Ignored none.
//
// Two choices where Microsoft says nothing: updatedBy is the app's client
// ID (app-only tokens have no user), and updatedDateTime is the data clock
// (Options.Now), so that a test that moves the clock sees the write on the
// day it moved to.

// writtenState is what a write said besides the state.
type writtenState struct {
	assignedTo, comment, by string
	at                      time.Time
}

// writeLog holds a tenant's written states by control ID, oldest first. It
// is copied on write, so the scorer, which asks for every control of every
// day, reads it with one atomic load and no lock.
type writeLog struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string][]stateEvent]
}

func (l *writeLog) add(id string, ev stateEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := map[string][]stateEvent{}
	if old := l.m.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[id] = append(slices.Clip(next[id]), ev)
	l.m.Store(&next)
}

// merge adds the control's states written by day d to out, keeping out in
// time order.
func (l *writeLog) merge(id string, d int64, out []stateEvent) []stateEvent {
	m := l.m.Load()
	if m == nil {
		return out
	}
	ws := (*m)[id]
	n := len(out)
	for _, w := range ws {
		if w.day <= d {
			out = append(out, w)
		}
	}
	if len(out) > n {
		slices.SortStableFunc(out, func(a, b stateEvent) int {
			if a.day != b.day {
				return int(a.day - b.day)
			}
			return a.secs - b.secs
		})
	}
	return out
}

// scoredState is the state that decides a control's score on day d: the
// latest, except that a written state counts only from the day after it
// was written.
func scoredState(states []stateEvent, d int64) string {
	for i := len(states) - 1; i >= 0; i-- {
		if st := states[i]; st.written == nil || st.day < d {
			return st.state
		}
	}
	return ""
}

// PatchRecord is one PATCH request a tenant received, for tests.
type PatchRecord struct {
	Control string    // the {id} of the URL, as sent
	Body    []byte    // the request body, as sent
	Prefer  string    // the Prefer header
	At      time.Time // the data clock when it arrived
	Status  int       // the answer; 0 when the connection was dropped
}

// Patches returns the PATCH requests of a tenant's control profiles that
// carried a valid token of the tenant, oldest first, whatever the answer.
func (e *Emulator) Patches(tenantID string) []PatchRecord {
	te := e.entry(tenantID)
	if te == nil {
		return nil
	}
	te.mu.Lock()
	defer te.mu.Unlock()
	out := make([]PatchRecord, len(te.patches))
	for i, p := range te.patches {
		p.Body = append([]byte(nil), p.Body...)
		out[i] = p
	}
	return out
}

// recordPatch reads a PATCH's body and records the request; it returns the
// record's index.
func (e *Emulator) recordPatch(g *gctx) int {
	g.body, _ = io.ReadAll(http.MaxBytesReader(g.w, g.r.Body, 1<<20))
	rec := PatchRecord{Control: g.r.PathValue("id"), Body: g.body, Prefer: g.r.Header.Get("Prefer"), At: e.now().UTC()}
	e.count(g.te, func(s *Stats) { s.Patches++ })
	g.te.mu.Lock()
	defer g.te.mu.Unlock()
	g.te.patches = append(g.te.patches, rec)
	return len(g.te.patches) - 1
}

func (e *Emulator) patchAnswered(te *tenantEntry, i, status int) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.patches[i].Status = status
}

// patchBody is what the emulator reads of a PATCH body. Pointers tell a
// missing member from an empty one.
type patchBody struct {
	State             *string `json:"state"`
	Comment           *string `json:"comment"`
	AssignedTo        *string `json:"assignedTo"`
	VendorInformation *struct {
		Provider string `json:"provider"`
		Vendor   string `json:"vendor"`
	} `json:"vendorInformation"`
}

// states Graph accepts, by lower-case name.
var patchStates = map[string]string{
	"default": fleetscore.StateDefault, "ignored": fleetscore.StateIgnored,
	"thirdparty": fleetscore.StateThirdParty, "reviewed": fleetscore.StateReviewed,
}

func (e *Emulator) servePatch(g *gctx) bool {
	var b patchBody
	if err := json.Unmarshal(g.body, &b); err != nil {
		return e.badRequest(g, "Invalid request body: the body must be a JSON object.")
	}
	if v := b.VendorInformation; v == nil || v.Provider == "" || v.Vendor == "" {
		return e.badRequest(g, "The request body must contain vendorInformation with its provider and vendor fields.")
	}
	id := g.r.PathValue("id")
	t := g.def.model
	all := t.profilesAt(e.Today().Unix(), e.days)
	i := profileIndex(all, id)
	if i < 0 {
		return e.profileNotFound(g, id)
	}
	if strings.HasPrefix(strings.ToLower(id), "scid_") {
		// Defender for Endpoint controls are managed in Defender
		// Vulnerability Management; Graph passes the provider's refusal on
		// as it does for other failed updates: a 400 without a code.
		e.graphError(g, http.StatusBadRequest, "", "Http request failed with statusCode=BadRequest")
		return false
	}
	state := ""
	if b.State != nil {
		state = patchStates[strings.ToLower(*b.State)]
	}
	if state == "" {
		got := "missing"
		if b.State != nil {
			got = fmt.Sprintf("'%s'", *b.State)
		}
		return e.badRequest(g, fmt.Sprintf("Invalid value %s for state: it must be one of Default, Ignored, ThirdParty, Reviewed.", got))
	}
	w := writtenState{by: g.claims.AppID}
	if b.Comment != nil {
		w.comment = *b.Comment
	}
	if b.AssignedTo != nil {
		w.assignedTo = *b.AssignedTo
	}
	e.writeState(t, all[i].tc.c.id, state, w)
	if !strings.Contains(strings.ToLower(g.r.Header.Get("Prefer")), "return=representation") {
		g.status = http.StatusNoContent
		g.w.WriteHeader(http.StatusNoContent)
		return true
	}
	all = t.profilesAt(e.Today().Unix(), e.days)
	return e.writeProfile(g, t, all, i)
}

// writeState adds a written state to a control, at the data clock's now.
func (e *Emulator) writeState(t *tenantModel, control, state string, w writtenState) {
	w.at = e.now().UTC().Truncate(time.Second) // served with whole seconds
	d := fleetscore.DayOf(w.at)
	t.writes.add(control, stateEvent{day: d.Unix(), secs: int(w.at.Sub(d.Time()) / time.Second), state: state, written: &w})
}

// SetControlState changes a control's state as someone in the Microsoft
// portal would, behind fleetscore's back: it is served and scored exactly
// as a PATCH is, with by as updatedBy. The state is Default, Ignored,
// ThirdParty or Reviewed.
func (e *Emulator) SetControlState(tenantID, control, state, comment, by string) error {
	_, def := e.lookup(tenantID)
	if def == nil {
		return fmt.Errorf("emulator: no tenant %s", tenantID)
	}
	st := patchStates[strings.ToLower(state)]
	if st == "" {
		return fmt.Errorf("emulator: state %q is not Default, Ignored, ThirdParty or Reviewed", state)
	}
	e.mu.RLock()
	t := def.model
	e.mu.RUnlock()
	all := t.profilesAt(e.Today().Unix(), e.days)
	i := profileIndex(all, control)
	if i < 0 {
		return errors.New("emulator: tenant " + tenantID + " has no control " + control)
	}
	e.writeState(t, all[i].tc.c.id, st, writtenState{comment: comment, by: by})
	return nil
}

// SetWriteConsent grants or withdraws SecurityEvents.ReadWrite.All for an
// app in a tenant (granting it consents the app); tokens issued after
// carry the role or not. An unknown tenant is ignored.
func (e *Emulator) SetWriteConsent(tenantID, clientID string, granted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	entry := e.tenants[strings.ToLower(tenantID)]
	if entry == nil {
		return
	}
	def := *entry.def
	def.consented, def.writers = cloneSet(def.consented), cloneSet(def.writers)
	id := strings.ToLower(clientID)
	if granted {
		def.consented[id] = true
		def.writers[id] = true
	} else {
		delete(def.writers, id)
	}
	entry.def = &def
}

func cloneSet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writer reports whether an app's consent in a tenant includes the write role.
func (e *Emulator) writer(def *tenantDef, clientID string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return def.writers[strings.ToLower(clientID)]
}

// hasExactRole is hasRole without the read-implied-by-write rule.
func (c *accessClaims) hasExactRole(role string) bool {
	return slices.Contains(c.Roles, role)
}
