package exceptions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/graph"
)

// Service applies, approves, follows and removes exceptions.
type Service struct {
	Store  Store
	Writer Writer           // nil: every tenant's exceptions are local
	Now    func() time.Time // nil: time.Now
	// Approval (exceptions.approval: true): an Ignored exception waits for
	// a second admin's Approve before anything is written.
	Approval bool
}

// Request is what Apply applies: one control, one state, at many tenants.
type Request struct {
	Control  string
	Tenants  []string
	State    string
	Reason   string
	ReviewBy fleetscore.Day // zero: a year from today (Ignored needs one)
	Owner    string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// mayApply: admins and analysts apply exceptions; a client only reads.
func mayApply(who auth.Principal) error {
	if !who.Role.AtLeast(auth.RoleAnalyst) {
		return fmt.Errorf("%w: a %s may only read exceptions; an analyst or admin applies them", ErrForbidden, who.Role)
	}
	return nil
}

// check validates a request and fills its defaults: the state's spelling,
// the review date, lower-case tenant IDs, each once.
func (s *Service) check(ctx context.Context, r *Request) error {
	today := fleetscore.DayOf(s.now())
	r.Control = strings.TrimSpace(r.Control)
	switch {
	case r.Control == "":
		return invalid("control is required: the control profile's id, such as mdo_safelinksforemail")
	case len(r.Control) > MaxControl || !utf8.ValidString(r.Control) || strings.ContainsAny(r.Control, "/?#%\\ \t\r\n"):
		return invalid("control %q is not a control profile id (letters, digits, _ and -)", bound(r.Control, 60))
	}
	state := ""
	for _, st := range States {
		if strings.EqualFold(st, strings.TrimSpace(r.State)) {
			state = st
		}
	}
	if state == "" {
		return invalid("state %q is not one of %s", bound(r.State, 60), strings.Join(States, ", "))
	}
	r.State = state
	r.Reason = strings.TrimSpace(r.Reason)
	switch {
	case r.Reason == "":
		return invalid("reason is required: say why, for the auditor (e.g. \"covered by Mimecast\")")
	case len(r.Reason) > MaxReason:
		return invalid("reason has %d bytes; at most %d", len(r.Reason), MaxReason)
	case !utf8.ValidString(r.Reason):
		return invalid("reason is not UTF-8 text")
	}
	r.Owner = strings.TrimSpace(r.Owner)
	if len(r.Owner) > MaxOwner || !utf8.ValidString(r.Owner) {
		return invalid("owner must be UTF-8 text of at most %d bytes", MaxOwner)
	}
	switch {
	case r.ReviewBy.IsZero() && r.State == fleetscore.StateIgnored:
		return invalid("review_by is required for Ignored: the date (YYYY-MM-DD) the accepted risk is reviewed again")
	case r.ReviewBy.IsZero():
		r.ReviewBy = fleetscore.DayOf(today.Time().AddDate(1, 0, 0))
	case r.ReviewBy.Before(today):
		return invalid("review_by %s is in the past; give today (%s) or a later date", r.ReviewBy, today)
	}
	if len(r.Tenants) == 0 {
		return invalid("tenants is required: the IDs of the tenants to apply it to")
	}
	if len(r.Tenants) > MaxTenants {
		return invalid("%d tenants; at most %d in one request", len(r.Tenants), MaxTenants)
	}
	known, err := s.Store.Tenants(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, t := range r.Tenants {
		id := strings.ToLower(strings.TrimSpace(t))
		if !slices.ContainsFunc(known, func(k fleetscore.TenantStatus) bool { return k.ID == id }) {
			return invalid("tenant %q is not a configured tenant", bound(t, 60))
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	r.Tenants = ids
	return nil
}

// profile is the tenant's stored profile of the control.
func (s *Service) profile(ctx context.Context, tenantID, control string) (fleetscore.ControlProfile, error) {
	ps, err := s.Store.Profiles(ctx, tenantID)
	if err != nil {
		return fleetscore.ControlProfile{}, fmt.Errorf("profiles of %s: %w", tenantID, err)
	}
	for _, p := range ps {
		if strings.EqualFold(p.ID, control) {
			return p, nil
		}
	}
	if len(ps) == 0 {
		return fleetscore.ControlProfile{}, invalid("no control profiles are collected for tenant %s yet: run fleetscore collect first", tenantID)
	}
	return fleetscore.ControlProfile{}, invalid("tenant %s has no control %q", tenantID, control)
}

// Apply applies one request at each of its tenants, after validating all
// of it (nothing is written when any part is invalid), and answers one
// exception per tenant, in the request's order. An earlier exception of
// the same control at a tenant is replaced (same ID). Per tenant: a scid_
// control is refused (nothing sent); without write-back it is local; a
// state Microsoft already shows, or one fleetscore already wrote, is not
// sent again; otherwise it is written and read back: written, or failed
// with Graph's error and advice. With Approval, an Ignored one waits for
// a second admin.
func (s *Service) Apply(ctx context.Context, who auth.Principal, r Request) ([]Exception, error) {
	if err := mayApply(who); err != nil {
		return nil, err
	}
	if err := s.check(ctx, &r); err != nil {
		return nil, err
	}
	profiles := make([]fleetscore.ControlProfile, len(r.Tenants))
	for i, t := range r.Tenants {
		p, err := s.profile(ctx, t, r.Control)
		if err != nil {
			return nil, err
		}
		profiles[i] = p
	}
	out := make([]Exception, 0, len(r.Tenants))
	for i, t := range r.Tenants {
		e, err := s.applyOne(ctx, who, r, t, profiles[i])
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *Service) applyOne(ctx context.Context, who auth.Principal, r Request, tenantID string, p fleetscore.ControlProfile) (Exception, error) {
	now := s.now()
	prev, err := s.Store.Exceptions(ctx, Filter{TenantID: tenantID, Control: p.ID})
	if err != nil {
		return Exception{}, err
	}
	e := Exception{TenantID: tenantID, Control: p.ID, State: r.State, Reason: r.Reason, Owner: r.Owner,
		ReviewBy: r.ReviewBy, CreatedBy: who.Name, CreatedAt: now, UpdatedAt: now}
	var old *Exception
	if len(prev) > 0 {
		old = &prev[len(prev)-1]
		e.ID = old.ID
	}
	switch {
	case !writable(p.ID):
		e.Status = StatusRefused
		e.Error = "Microsoft's API cannot update Defender for Endpoint controls (scid_*); nothing was sent"
		e.Advice = "set the state in the Microsoft Defender portal (Secure Score, the recommendation's status)"
	case s.Approval && r.State == fleetscore.StateIgnored:
		e.Status = StatusPendingApproval
		e.Advice = "another admin must approve it before it is written to Microsoft"
	default:
		s.write(ctx, &e, p, old)
	}
	if e.ID != 0 {
		err = s.Store.UpdateException(ctx, e)
	} else {
		e, err = s.Store.PutException(ctx, e)
	}
	if err != nil {
		return Exception{}, fmt.Errorf("record exception of %s at %s: %w", p.ID, tenantID, err)
	}
	return e, nil
}

// write sets e's state at Microsoft unless it already holds there, and
// records the outcome in e.
func (s *Service) write(ctx context.Context, e *Exception, p fleetscore.ControlProfile, old *Exception) {
	now := s.now()
	switch {
	case s.Writer == nil || !s.Writer.WriteBack(e.TenantID):
		e.Status = StatusLocal
	case old != nil && old.State == e.State && (old.Status == StatusWritten || old.Status == StatusInEffect):
		// fleetscore wrote this state already: nothing is sent again.
		e.Status, e.WrittenAt = old.Status, old.WrittenAt
	case p.State() == e.State:
		// Microsoft shows it already (set in the portal, or by an
		// earlier write since collected): nothing is sent.
		e.Status, e.WrittenAt = StatusInEffect, now
	default:
		back, err := s.Writer.SetControlState(ctx, e.TenantID, e.Control, e.State, e.Reason)
		e.GraphAnswer = graphAnswer(back, err)
		switch {
		case err != nil:
			e.Status = StatusFailed
			e.Error, e.Advice = errorAndAdvice(err)
		case back.State() != e.State:
			e.Status = StatusFailed
			e.Error = fmt.Sprintf("Graph accepted the write, but the profile read back shows %s, not %s", back.State(), e.State)
			e.Advice = "apply it again later; if it persists, set the state in the Microsoft Defender portal"
		default:
			e.Status, e.WrittenAt = StatusWritten, now
		}
	}
}

// graphAnswer is Graph's answer to a write, for the audit log: its status
// and code when it refused, else what the profile read back shows.
func graphAnswer(back fleetscore.ControlProfile, err error) string {
	var ge *graph.Error
	switch {
	case errors.As(err, &ge) && ge.Status != 0:
		return bound(fmt.Sprintf("PATCH answered %d %s: %s", ge.Status, ge.Code, ge.Msg), 1000)
	case err != nil:
		return bound("PATCH got no answer: "+err.Error(), 1000)
	}
	a := "PATCH accepted; read back: " + back.State()
	if n := len(back.StateUpdates); n > 0 {
		u := back.StateUpdates[n-1]
		if u.UpdatedBy != "" {
			a += " by " + u.UpdatedBy
		}
		if !u.UpdatedAt.IsZero() {
			a += " at " + u.UpdatedAt.UTC().Format(time.RFC3339)
		}
	}
	return bound(a, 1000)
}

// errorAndAdvice is what a failed write shows: Graph's message and advice,
// bounded.
func errorAndAdvice(err error) (string, string) {
	var ge *graph.Error
	if errors.As(err, &ge) {
		msg := ge.Msg
		if msg == "" {
			msg = ge.Error()
		}
		return bound(msg, 1000), bound(ge.Advice, 1000)
	}
	return bound(err.Error(), 1000), ""
}

// bound cuts s to at most n bytes, on a rune boundary.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Approve is a second admin's approval of a pending exception: it is
// written then. The requester cannot approve their own.
func (s *Service) Approve(ctx context.Context, who auth.Principal, id int64) (Exception, error) {
	if who.Role != auth.RoleAdmin {
		return Exception{}, fmt.Errorf("%w: only an admin approves an exception", ErrForbidden)
	}
	e, err := s.Store.Exception(ctx, id)
	if err != nil {
		return Exception{}, err
	}
	if e.Status != StatusPendingApproval {
		return Exception{}, fmt.Errorf("%w: exception %d is %s, not waiting for approval", ErrConflict, id, e.Status)
	}
	if strings.EqualFold(e.CreatedBy, who.Name) {
		return Exception{}, fmt.Errorf("%w: %s requested exception %d; another admin must approve it", ErrForbidden, who.Name, id)
	}
	p, err := s.profile(ctx, e.TenantID, e.Control)
	if err != nil {
		return Exception{}, err
	}
	e.ApprovedBy, e.Advice, e.UpdatedAt = who.Name, "", s.now()
	s.write(ctx, &e, p, nil)
	if err := s.Store.UpdateException(ctx, e); err != nil {
		return Exception{}, fmt.Errorf("record approval of exception %d: %w", id, err)
	}
	return e, nil
}

// Delete removes an exception. Where fleetscore wrote its state (written,
// in effect, drifted), Default is written back first; when that write
// fails, the exception stays, with the error, and Delete returns it.
func (s *Service) Delete(ctx context.Context, who auth.Principal, id int64) (Exception, error) {
	if err := mayApply(who); err != nil {
		return Exception{}, err
	}
	e, err := s.Store.Exception(ctx, id)
	if err != nil {
		return Exception{}, err
	}
	switch e.Status {
	case StatusWritten, StatusInEffect, StatusDrifted:
		if e.State != fleetscore.StateDefault && s.Writer != nil && s.Writer.WriteBack(e.TenantID) && writable(e.Control) {
			comment := bound("exception removed in fleetscore by "+who.Name+"; it was: "+e.Reason, MaxReason)
			back, err := s.Writer.SetControlState(ctx, e.TenantID, e.Control, fleetscore.StateDefault, comment)
			e.GraphAnswer = graphAnswer(back, err)
			if err == nil && back.State() != fleetscore.StateDefault {
				err = fmt.Errorf("graph accepted the write, but the profile read back shows %s, not Default", back.State())
			}
			if err != nil {
				e.Error, e.Advice = errorAndAdvice(err)
				e.Error = "writing Default back failed: " + e.Error
				e.UpdatedAt = s.now()
				if uerr := s.Store.UpdateException(ctx, e); uerr != nil {
					return e, errors.Join(err, uerr)
				}
				return e, fmt.Errorf("remove exception %d: %s", id, e.Error)
			}
		}
	}
	if err := s.Store.DeleteException(ctx, id); err != nil {
		return e, err
	}
	return e, nil
}

// Follow derives every exception's status from the collected data, after a
// collection: written becomes in_effect once a snapshot dated after the
// write is stored and the profile shows the state; written or in_effect
// becomes drifted when the profile stops showing it (and drifted goes back
// to in_effect when it shows it again); any exception whose review date
// has passed is expired. It returns those whose status changed, for the
// alerts.
func (s *Service) Follow(ctx context.Context, now time.Time) ([]Exception, error) {
	all, err := s.Store.Exceptions(ctx, Filter{})
	if err != nil {
		return nil, err
	}
	today := fleetscore.DayOf(now)
	type tenantData struct {
		latest   fleetscore.Day
		ok       bool
		profiles map[string]fleetscore.ControlProfile
	}
	data := map[string]*tenantData{}
	load := func(id string) (*tenantData, error) {
		if d, ok := data[id]; ok {
			return d, nil
		}
		d := &tenantData{profiles: map[string]fleetscore.ControlProfile{}}
		var err error
		if d.latest, d.ok, err = s.Store.LatestDay(ctx, id); err != nil {
			return nil, err
		}
		ps, err := s.Store.Profiles(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			d.profiles[p.ID] = p
		}
		data[id] = d
		return d, nil
	}
	var changed []Exception
	for _, e := range all {
		next := e.Status
		switch e.Status {
		case StatusWritten, StatusInEffect, StatusDrifted:
			d, err := load(e.TenantID)
			if err != nil {
				return changed, fmt.Errorf("follow exception %d: %w", e.ID, err)
			}
			p, ok := d.profiles[e.Control]
			collectedSince := d.ok && d.latest.After(fleetscore.DayOf(e.WrittenAt))
			holds := ok && p.State() == e.State
			switch {
			case holds && collectedSince:
				next = StatusInEffect
			case !holds && ok && (e.Status != StatusWritten || collectedSince || changedSince(p, e.WrittenAt)):
				next = StatusDrifted
			}
		}
		switch next {
		case StatusWritten, StatusInEffect, StatusDrifted, StatusLocal, StatusPendingApproval:
			if !e.ReviewBy.IsZero() && e.ReviewBy.Before(today) {
				next = StatusExpired
			}
		}
		if next == e.Status {
			continue
		}
		e.Status, e.UpdatedAt = next, now.UTC()
		if err := s.Store.UpdateException(ctx, e); err != nil {
			return changed, fmt.Errorf("follow exception %d: %w", e.ID, err)
		}
		changed = append(changed, e)
	}
	return changed, nil
}

// changedSince reports whether the profile's latest state update is dated
// after t: someone set the state after fleetscore wrote it.
func changedSince(p fleetscore.ControlProfile, t time.Time) bool {
	n := len(p.StateUpdates)
	return n > 0 && p.StateUpdates[n-1].UpdatedAt.After(t)
}

// Template is a named list of (control, state, reason), applied to chosen
// tenants at once: "Mimecast" credits the mail controls to a third party.
type Template struct {
	Name  string
	Items []TemplateItem
}

// TemplateItem is one control of a template.
type TemplateItem struct {
	Control, State, Reason string
}

// ApplyTemplate applies every item of the template to the tenants, with the
// review date and owner given. Every item is validated before anything is
// written; the answer is the items' exceptions in order, tenant by tenant.
func (s *Service) ApplyTemplate(ctx context.Context, who auth.Principal, t Template, tenants []string, reviewBy fleetscore.Day, owner string) ([]Exception, error) {
	if err := mayApply(who); err != nil {
		return nil, err
	}
	if len(t.Items) == 0 {
		return nil, invalid("template %q has no items", t.Name)
	}
	reqs := make([]Request, len(t.Items))
	for i, it := range t.Items {
		r := Request{Control: it.Control, Tenants: tenants, State: it.State, Reason: it.Reason, ReviewBy: reviewBy, Owner: owner}
		if err := s.check(ctx, &r); err != nil {
			return nil, fmt.Errorf("template %q, item %d (%s): %w", t.Name, i+1, it.Control, err)
		}
		for _, id := range r.Tenants {
			if _, err := s.profile(ctx, id, r.Control); err != nil {
				return nil, fmt.Errorf("template %q, item %d: %w", t.Name, i+1, err)
			}
		}
		reqs[i] = r
	}
	var out []Exception
	for _, r := range reqs {
		es, err := s.Apply(ctx, who, r)
		out = append(out, es...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// List returns the exceptions the filter matches, oldest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Exception, error) {
	return s.Store.Exceptions(ctx, f)
}
