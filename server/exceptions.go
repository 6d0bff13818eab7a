package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
)

// ExceptionBook is what the API needs of the register of exceptions:
// exceptions.Service implements it, wired by cmd/fleetscore.
type ExceptionBook interface {
	Apply(ctx context.Context, who auth.Principal, r exceptions.Request) ([]exceptions.Exception, error)
	Approve(ctx context.Context, who auth.Principal, id int64) (exceptions.Exception, error)
	Delete(ctx context.Context, who auth.Principal, id int64) (exceptions.Exception, error)
	List(ctx context.Context, f exceptions.Filter) ([]exceptions.Exception, error)
	// ApplyTemplate applies many controls at once, validating all of them
	// before anything is written (the actions page's form).
	ApplyTemplate(ctx context.Context, who auth.Principal, t exceptions.Template, tenants []string, reviewBy fleetscore.Day, owner string) ([]exceptions.Exception, error)
}

var _ ExceptionBook = (*exceptions.Service)(nil)

// exceptionError maps the register's error kinds to the API's statuses;
// nil when err is of none of them.
func exceptionError(err error) *apiError {
	switch {
	case errors.Is(err, exceptions.ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: err.Error()}
	case errors.Is(err, exceptions.ErrForbidden):
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: err.Error()}
	case errors.Is(err, exceptions.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	}
	return nil
}

// exceptionsOff is the answer of a server without the register.
func (s *Server) exceptionsOff(w http.ResponseWriter, r *http.Request) bool {
	if s.exceptions != nil {
		return false
	}
	s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "this server keeps no exceptions"})
	return true
}

// who is the request's principal; the local admin in open mode.
func who(r *http.Request) auth.Principal {
	if p, ok := principalOf(r.Context()); ok {
		return p
	}
	return localAdmin
}

// applyBody is the body of POST /api/v1/exceptions.
type applyBody struct {
	Control  string   `json:"control"`
	Tenants  []string `json:"tenants"`
	State    string   `json:"state"`
	Reason   string   `json:"reason"`
	ReviewBy string   `json:"review_by"`
	Owner    string   `json:"owner"`
}

// apiApplyException is POST /api/v1/exceptions: one control and state at
// many tenants, one exception object per tenant in the answer. Each is
// audited with its status (Graph's answer).
func (s *Server) apiApplyException(w http.ResponseWriter, r *http.Request) {
	if s.exceptionsOff(w, r) {
		return
	}
	if err := checkParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var b applyBody
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		s.writeError(w, r, badRequest("the body cannot be read (at most %d KB)", maxFormBytes>>10))
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		s.writeError(w, r, badRequest(`the body must be a JSON object {"control", "tenants": [ids], "state", "reason", "review_by": "YYYY-MM-DD"}: %v`, err))
		return
	}
	req := exceptions.Request{Control: b.Control, Tenants: b.Tenants, State: b.State, Reason: b.Reason, Owner: b.Owner}
	if b.ReviewBy != "" {
		d, err := fleetscore.ParseDay(b.ReviewBy)
		if err != nil {
			s.writeError(w, r, badRequest("review_by: %v", err))
			return
		}
		req.ReviewBy = d
	}
	for _, t := range req.Tenants {
		if !isGUID(strings.ToLower(strings.TrimSpace(t))) {
			s.writeError(w, r, badRequest("tenant %q is not a GUID", t))
			return
		}
	}
	p := who(r)
	es, err := s.exceptions.Apply(r.Context(), p, req)
	for _, e := range es {
		s.auditException(r, p, "exception.apply", e)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(es)
}

// auditException records a change of the register in the audit log.
func (s *Server) auditException(r *http.Request, p auth.Principal, action string, e exceptions.Exception) {
	if s.auth == nil {
		return
	}
	detail := fmt.Sprintf("exception %d: %s at %s, state %s, status %s, review by %s, reason %q", e.ID, e.Control, e.TenantID,
		e.State, e.Status, e.ReviewBy, e.Reason)
	if e.Error != "" {
		detail += fmt.Sprintf(", error %q", e.Error)
	}
	if e.GraphAnswer != "" {
		detail += fmt.Sprintf(", Graph: %q", e.GraphAnswer)
	}
	s.auth.Audit(r.Context(), p.Name, action, detail, clientIP(r))
}

// apiExceptions is GET /api/v1/exceptions[?tenant=&control=&status=]: the
// register, JSON or CSV. A client sees its own tenants' exceptions.
func (s *Server) apiExceptions(w http.ResponseWriter, r *http.Request) {
	if s.exceptionsOff(w, r) {
		return
	}
	if err := checkParams(r, "tenant", "control", "status", "review_within"); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	within := -1 // every review date
	if v := q.Get("review_within"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3660 {
			s.writeError(w, r, badRequest("review_within %q is not a number of days from 0 to 3660", bound(v, 40)))
			return
		}
		within = n
	}
	f := exceptions.Filter{TenantID: strings.ToLower(q.Get("tenant")), Control: q.Get("control"), Status: q.Get("status")}
	if f.TenantID != "" && !isGUID(f.TenantID) {
		s.writeError(w, r, badRequest("tenant %q is not a GUID", q.Get("tenant")))
		return
	}
	if f.Status != "" && !slices.Contains(exceptions.Statuses, f.Status) {
		s.writeError(w, r, badRequest("status %q is not one of %s", f.Status, strings.Join(exceptions.Statuses, ", ")))
		return
	}
	all, err := s.exceptions.List(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := who(r)
	es := make([]exceptions.Exception, 0, len(all))
	today := fleetscore.DayOf(s.now())
	for _, e := range all {
		if !p.SeesTenant(e.TenantID) {
			continue
		}
		if within >= 0 && (e.ReviewBy.IsZero() || e.ReviewBy.Sub(today) > within) {
			continue
		}
		es = append(es, e)
	}
	s.writeList(w, r, es, func() table {
		t := table{name: "exceptions", header: []string{"id", "tenant_id", "control", "state", "reason", "owner", "review_by", "status",
			"error", "advice", "created_by", "created_at", "written_at", "approved_by"}}
		for _, e := range es {
			t.rows = append(t.rows, []string{strconv.FormatInt(e.ID, 10), e.TenantID, e.Control, e.State, e.Reason, e.Owner,
				e.ReviewBy.String(), e.Status, e.Error, e.Advice, e.CreatedBy, stamp(e.CreatedAt), stamp(e.WrittenAt), e.ApprovedBy})
		}
		return t
	})
}

func exceptionID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("exception id %q is not a positive whole number", r.PathValue("id"))
	}
	return id, nil
}

// apiDeleteException is DELETE /api/v1/exceptions/{id}: Default is written
// back where the state was written, then the exception is removed.
func (s *Server) apiDeleteException(w http.ResponseWriter, r *http.Request) {
	if s.exceptionsOff(w, r) {
		return
	}
	id, err := exceptionID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := who(r)
	e, err := s.exceptions.Delete(r.Context(), p, id)
	if err != nil {
		if e.ID != 0 {
			s.auditException(r, p, "exception.delete.failed", e)
		}
		s.writeError(w, r, err)
		return
	}
	s.auditException(r, p, "exception.delete", e)
	w.WriteHeader(http.StatusNoContent)
}

// apiApproveException is POST /api/v1/exceptions/{id}/approve: a second
// admin approves a pending Ignored exception, which is written then.
func (s *Server) apiApproveException(w http.ResponseWriter, r *http.Request) {
	if s.exceptionsOff(w, r) {
		return
	}
	id, err := exceptionID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := who(r)
	e, err := s.exceptions.Approve(r.Context(), p, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.auditException(r, p, "exception.approve", e)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(e)
}
