package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/report"
)

// The client reports: GET /tenants/{id}/report (print-friendly HTML) and
// GET /tenants/{id}/report.pdf, for a period (?period=2026-11, 2026-Q4, or
// ?from=&to=); last month without one. A client reads its own tenants'
// reports only: the source is restricted, so another tenant is a 404.

// reportPeriodMonths is how many months the tenant page's picker offers.
const reportPeriodMonths = 12

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.reportContent(w, r)
	if !ok {
		return
	}
	// The report is a document of its own, with its style inline (so that
	// a saved copy prints alike): the policy lets that one element in.
	nonce := newNonce()
	if rendersHoles(r.Context()) {
		nonce = s.pages.marks.mark(holeNonce) // each request's own, spliced in
	}
	var b bytes.Buffer
	if err := report.HTMLNonce(&b, c, s.branding, nonce); err != nil {
		s.pageError(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'nonce-"+nonce+"'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(b.Bytes())
}

func (s *Server) reportPDF(w http.ResponseWriter, r *http.Request) {
	c, ok := s.reportContent(w, r)
	if !ok {
		return
	}
	pdf, err := report.PDF(c, s.branding)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	name := report.FileName(c.Tenant.Name, c.Period) + ".pdf"
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	w.Header().Set("Content-Length", strconv.Itoa(len(pdf)))
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(pdf)
}

// reportContent reads the request's tenant and period and builds the
// report; on a problem it has answered (404, 400).
func (s *Server) reportContent(w http.ResponseWriter, r *http.Request) (*report.Content, bool) {
	id, err := tenantID(r)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("%w", fleetscore.ErrNotFound))
		return nil, false
	}
	p, err := reportPeriod(r, s.dataNow())
	if err != nil {
		v := errorView{page: s.page(r, "", "Bad period"), Status: http.StatusBadRequest, Message: err.Error()}
		s.render(w, r, http.StatusBadRequest, "error", v)
		return nil, false
	}
	var regs report.Registers
	if s.exceptions != nil {
		regs.Exceptions = func(ctx context.Context, tenantID string) ([]exceptions.Exception, error) {
			return s.exceptions.List(ctx, exceptions.Filter{TenantID: tenantID})
		}
	}
	if s.campaigns != nil {
		regs.Campaigns = func(ctx context.Context, tenantID string) ([]campaign.Progress, error) {
			return s.campaigns.List(ctx, func(id string) bool { return strings.EqualFold(id, tenantID) })
		}
	}
	c, err := report.Build(r.Context(), s.srcFor(r.Context()), regs, id, p, s.now())
	if err != nil {
		s.pageError(w, r, err)
		return nil, false
	}
	return c, true
}

// reportPeriod is ?period=, or ?from= and ?to=, or last month.
func reportPeriod(r *http.Request, now time.Time) (report.Period, error) {
	q := r.URL.Query()
	if v := q.Get("period"); v != "" {
		return report.ParsePeriod(v)
	}
	if from, to := q.Get("from"), q.Get("to"); from != "" || to != "" {
		return report.ParsePeriod(strings.TrimSpace(from) + ".." + strings.TrimSpace(to))
	}
	return report.LastMonth(now), nil
}

// reportPicker is the tenant page's period picker: the last months and
// quarters, last month chosen.
type reportPicker struct {
	Months, Quarters []report.Period
	Chosen           string
}

func newReportPicker(now time.Time) reportPicker {
	m, q := report.Recent(now, reportPeriodMonths)
	return reportPicker{Months: m, Quarters: q, Chosen: report.LastMonth(now).Key}
}
