package server

// Campaigns in the API: POST /api/v1/campaigns starts one, GET lists them
// and shows one (JSON, or CSV with a row per tenant). A client token sees
// the campaigns that touch its tenants, with only its tenants in them, and
// cannot start one (the route needs an analyst).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
)

// CampaignBook is what the server needs of campaigns: campaign.Service
// implements it, wired by cmd/fleetscore.
type CampaignBook interface {
	Create(ctx context.Context, by string, r campaign.Request) (campaign.Campaign, error)
	Progress(ctx context.Context, id int64, sees func(tenantID string) bool) (campaign.Progress, error)
	List(ctx context.Context, sees func(tenantID string) bool) ([]campaign.Progress, error)
	SetNote(ctx context.Context, id int64, tenantID, note string) error
	OpenTenants(ctx context.Context, control string) (open []string, title string, err error)
}

var _ CampaignBook = (*campaign.Service)(nil)

// campaignsOff is the answer of a server without campaigns.
func (s *Server) campaignsOff(w http.ResponseWriter, r *http.Request) bool {
	if s.campaigns != nil {
		return false
	}
	s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "this server keeps no campaigns"})
	return true
}

// sees is the request's principal's tenant filter.
func sees(r *http.Request) func(string) bool {
	p := who(r)
	return p.SeesTenant
}

// campaignBody is the body of POST /api/v1/campaigns.
type campaignBody struct {
	Control string   `json:"control"`
	Tenants []string `json:"tenants"`
	Owner   string   `json:"owner"`
	Due     string   `json:"due"`
}

// campaignRequest checks what the API and the form share: the due date
// and the tenants' IDs.
func campaignRequest(control string, tenants []string, owner, due string) (campaign.Request, error) {
	req := campaign.Request{Control: control, Tenants: tenants, Owner: owner}
	due = strings.TrimSpace(due)
	if due == "" {
		return req, badRequest("due is required: the date (YYYY-MM-DD) every tenant should be done by")
	}
	d, err := fleetscore.ParseDay(due)
	if err != nil {
		return req, badRequest("due: %v", err)
	}
	req.Due = d
	for _, t := range tenants {
		if !isGUID(strings.ToLower(strings.TrimSpace(t))) {
			return req, badRequest("tenant %q is not a GUID", bound(t, 60))
		}
	}
	return req, nil
}

// apiCreateCampaign is POST /api/v1/campaigns.
func (s *Server) apiCreateCampaign(w http.ResponseWriter, r *http.Request) {
	if s.campaignsOff(w, r) {
		return
	}
	if err := checkParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		s.writeError(w, r, badRequest("the body cannot be read (at most %d KB)", maxCampaignBytes>>10))
		return
	}
	var b campaignBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		s.writeError(w, r, badRequest(`the body must be a JSON object {"control", "tenants": [ids] (optional), "owner", "due": "YYYY-MM-DD"}: %v`, err))
		return
	}
	req, err := campaignRequest(b.Control, b.Tenants, b.Owner, b.Due)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.startCampaign(r, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(p)
}

// startCampaign creates a campaign, audits it and answers its progress.
func (s *Server) startCampaign(r *http.Request, req campaign.Request) (campaign.Progress, error) {
	p := who(r)
	c, err := s.campaigns.Create(r.Context(), p.Name, req)
	if err != nil {
		return campaign.Progress{}, err
	}
	s.auditCampaign(r, "campaign.create", fmt.Sprintf("campaign %d: %s at %d tenants, owner %q, due %s", c.ID, c.Control, len(c.Tenants), c.Owner, c.Due))
	return s.campaigns.Progress(r.Context(), c.ID, nil)
}

// auditCampaign records a change of a campaign in the audit log.
func (s *Server) auditCampaign(r *http.Request, action, detail string) {
	if s.auth == nil {
		return
	}
	s.auth.Audit(r.Context(), who(r).Name, action, detail, clientIP(r))
}

// campaignError maps the campaign package's error kinds; nil for others.
func campaignError(err error) *apiError {
	if errors.Is(err, campaign.ErrInvalid) {
		return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: err.Error()}
	}
	return nil
}

// apiCampaigns is GET /api/v1/campaigns: every campaign the principal
// sees, oldest first, JSON or CSV (a row per campaign).
func (s *Server) apiCampaigns(w http.ResponseWriter, r *http.Request) {
	if s.campaignsOff(w, r) {
		return
	}
	if err := checkParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.campaigns.List(r.Context(), sees(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, list, func() table {
		t := table{name: "campaigns", header: []string{"id", "control", "title", "owner", "due", "start", "done", "total", "overdue",
			"points_gained", "created_by", "created_at"}}
		for _, p := range list {
			t.rows = append(t.rows, []string{strconv.FormatInt(p.ID, 10), p.Control, p.Title, p.Owner, p.Due.String(), p.Start().String(),
				strconv.Itoa(p.Done), strconv.Itoa(p.Total), strconv.FormatBool(p.Overdue), num(round(p.PointsGained, 2)),
				p.CreatedBy, stamp(p.CreatedAt)})
		}
		return t
	})
}

func campaignID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("campaign id %q is not a positive whole number", bound(r.PathValue("id"), 40))
	}
	return id, nil
}

// apiCampaign is GET /api/v1/campaigns/{id}: the campaign as of today,
// JSON, or CSV with one row per tenant.
func (s *Server) apiCampaign(w http.ResponseWriter, r *http.Request) {
	if s.campaignsOff(w, r) {
		return
	}
	if err := checkParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := campaignID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.campaigns.Progress(r.Context(), id, sees(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, p, func() table { return campaignTable(p) })
}

// campaignTable is a campaign's CSV: one row per tenant.
func campaignTable(p campaign.Progress) table {
	t := table{name: "campaign-" + strconv.FormatInt(p.ID, 10), header: []string{"campaign", "control", "tenant_id", "name", "status", "since",
		"score", "start_score", "max_score", "note"}}
	for _, m := range p.Members {
		t.rows = append(t.rows, []string{strconv.FormatInt(p.ID, 10), p.Control, m.TenantID, m.Name, m.Status, m.Since.String(),
			num(m.Score), num(m.StartScore), num(m.MaxScore), m.Note})
	}
	return t
}
