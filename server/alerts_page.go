package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
)

// AlertBook is what the alerts page needs of the alert state: cmd/fleetscore
// adapts the alert package's StateStore to it (the server does not import
// the alert package).
type AlertBook interface {
	// Alerts returns the open and the resolved alerts, newest first, at
	// most limit.
	Alerts(ctx context.Context, limit int) ([]AlertEntry, error)
	// Acknowledge acknowledges the open alert id: it stays open but sends
	// nothing more until it resolves. An alert that is not open is an
	// error wrapping fleetscore.ErrNotFound.
	Acknowledge(ctx context.Context, id int64, by, note string) error
}

// AlertEntry is one alert as the alerts page shows it.
type AlertEntry struct {
	ID       int64
	Rule     string
	TenantID string // "" for a fleet-wide alert
	Tenant   string // the tenant's name
	Title    string
	Summary  string
	Reason   string
	Since    time.Time
	Resolved time.Time // zero while open
	AckBy    string    // "" unless acknowledged
	AckNote  string
	AckAt    time.Time
}

// Open reports whether the alert has not resolved.
func (a AlertEntry) Open() bool { return a.Resolved.IsZero() }

// Acked reports whether someone acknowledged the alert.
func (a AlertEntry) Acked() bool { return !a.AckAt.IsZero() }

// alertsShown bounds the page: every open alert and the latest resolved.
const alertsShown = 200

// alertsView is the alerts page.
type alertsView struct {
	page
	Open, Recent []AlertEntry
	Tenant       string // the tenant filter (an ID), "" for all
	TenantName   string
	CanAck       bool // the principal may acknowledge (analyst or admin)
	Configured   bool // alerts are configured
	Acked        int64
}

// alertsPage is GET /alerts: the open alerts, then the recent resolved ones,
// each with its tenant, rule, since and reason. ?tenant= shows one tenant's.
// A client sees its own tenants' alerts only.
func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request) {
	v := alertsView{page: s.page(r, "alerts", "Alerts"), Configured: s.book != nil}
	p, ok := principalOf(r.Context())
	v.CanAck = ok && p.Role.AtLeast(auth.RoleAnalyst)
	v.Tenant = strings.ToLower(r.URL.Query().Get("tenant"))
	v.Acked, _ = strconv.ParseInt(r.URL.Query().Get("acked"), 10, 64)
	if s.book != nil {
		all, err := s.book.Alerts(r.Context(), alertsShown)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		for _, a := range all {
			if ok && p.Restricted() && (a.TenantID == "" || !p.SeesTenant(a.TenantID)) {
				continue
			}
			if v.Tenant != "" && !strings.EqualFold(a.TenantID, v.Tenant) {
				continue
			}
			if v.Tenant != "" {
				v.TenantName = a.Tenant
			}
			if a.Open() {
				v.Open = append(v.Open, a)
			} else {
				v.Recent = append(v.Recent, a)
			}
		}
	}
	s.render(w, r, http.StatusOK, "alerts", v)
}

// ackNoteMax bounds an acknowledgement's note.
const ackNoteMax = 500

// acknowledgeAlert is POST /alerts/{id}/ack: an analyst or admin
// acknowledges an open alert with a note (the form carries the session's
// CSRF token, checked by guard). It is audited.
func (s *Server) acknowledgeAlert(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 || s.book == nil {
		s.pageError(w, r, nil)
		return
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	if n := []rune(note); len(n) > ackNoteMax {
		note = string(n[:ackNoteMax])
	}
	who := "admin"
	if p, ok := principalOf(r.Context()); ok && p.Name != "" {
		who = p.Name
	}
	if err := s.book.Acknowledge(r.Context(), id, who, note); err != nil {
		if errors.Is(err, fleetscore.ErrNotFound) {
			http.Error(w, "that alert is not open any more: reload the alerts page", http.StatusNotFound)
			return
		}
		s.pageError(w, r, err)
		return
	}
	if s.auth != nil {
		s.auth.Audit(r.Context(), who, "alert-ack", "alert "+strconv.FormatInt(id, 10)+": "+note, clientIP(r))
	}
	back := "/alerts?acked=" + strconv.FormatInt(id, 10)
	if t := r.PostFormValue("tenant"); t != "" {
		back += "&tenant=" + url.QueryEscape(t)
	}
	http.Redirect(w, r, back+"#alert-"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}
