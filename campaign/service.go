package campaign

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fleetscore/fleetscore"
)

// Store is what the service reads and keeps: the register, the collected
// data statuses are derived from, and the exceptions in force.
type Store interface {
	Register
	Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error)
	Scores(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error)
	Profiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error)
	// ExceptedSince returns, by tenant ID, the day from which an exception
	// in force sets a state on the control.
	ExceptedSince(ctx context.Context, control string) (map[string]fleetscore.Day, error)
}

// Service creates campaigns and works out their progress.
type Service struct {
	Store Store
	Now   func() time.Time // the data's clock; nil: time.Now
}

// Request is what Create creates.
type Request struct {
	Control string
	Tenants []string // nil: every tenant where the control is open today
	Owner   string
	Due     fleetscore.Day
	Notes   map[string]string // by tenant ID; optional
}

func (s *Service) today() fleetscore.Day {
	if s.Now != nil {
		return fleetscore.DayOf(s.Now())
	}
	return fleetscore.DayOf(time.Now())
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

func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// CheckText validates an owner or a note: UTF-8 of at most max bytes.
func CheckText(field, v string, max int) error {
	if len(v) > max {
		return invalid("%s has %d bytes; at most %d", field, len(v), max)
	}
	if !utf8.ValidString(v) {
		return invalid("%s is not UTF-8 text", field)
	}
	return nil
}

// Create validates a request and adds the campaign, created by by.
func (s *Service) Create(ctx context.Context, by string, r Request) (Campaign, error) {
	r.Control = strings.TrimSpace(r.Control)
	switch {
	case r.Control == "":
		return Campaign{}, invalid("control is required: the control profile's id, such as mdo_safelinksforemail")
	case len(r.Control) > MaxControl || !utf8.ValidString(r.Control) || strings.ContainsAny(r.Control, "/?#%\\ \t\r\n"):
		return Campaign{}, invalid("control %q is not a control profile id (letters, digits, _ and -)", bound(r.Control, 60))
	}
	r.Owner = strings.TrimSpace(r.Owner)
	if err := CheckText("owner", r.Owner, MaxOwner); err != nil {
		return Campaign{}, err
	}
	if r.Owner == "" {
		return Campaign{}, invalid("owner is required: who sees the campaign through (a name or a team)")
	}
	today := s.today()
	switch {
	case r.Due.IsZero():
		return Campaign{}, invalid("due is required: the date (YYYY-MM-DD) every tenant should be done by")
	case r.Due.Before(today):
		return Campaign{}, invalid("due %s is in the past; give today (%s) or a later date", r.Due, today)
	}
	known, err := s.Store.Tenants(ctx)
	if err != nil {
		return Campaign{}, err
	}
	ctl, err := s.control(ctx, known, r.Control)
	if err != nil {
		return Campaign{}, err
	}
	r.Control = ctl.id
	var ids []string
	if r.Tenants == nil {
		ids = ctl.open
		if len(ids) == 0 {
			return Campaign{}, invalid("control %s is open at no tenant; name the tenants to include", r.Control)
		}
	} else {
		if len(r.Tenants) == 0 {
			return Campaign{}, invalid("tenants is empty: name at least one tenant, or leave it out for every tenant where the control is open")
		}
		for _, t := range r.Tenants {
			id := strings.ToLower(strings.TrimSpace(t))
			if !slices.ContainsFunc(known, func(k fleetscore.TenantStatus) bool { return k.ID == id }) {
				return Campaign{}, invalid("tenant %q is not a configured tenant", bound(t, 60))
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > MaxTenants {
		return Campaign{}, invalid("%d tenants; at most %d in one campaign", len(ids), MaxTenants)
	}
	c := Campaign{Control: r.Control, Owner: r.Owner, Due: r.Due, CreatedAt: s.now(), CreatedBy: by}
	for _, id := range ids {
		note := strings.TrimSpace(r.Notes[id])
		if err := CheckText("note", note, MaxNote); err != nil {
			return Campaign{}, err
		}
		c.Tenants = append(c.Tenants, Member{TenantID: id, Note: note})
	}
	return s.Store.PutCampaign(ctx, c)
}

// controlInfo is what the fleet's latest data says of a control.
type controlInfo struct {
	id    string   // as the profiles spell it
	title string   // "" when no profile has one
	open  []string // tenants where it is below full points on their latest day
}

// control finds a control in the tenants' profiles; unknown at every
// tenant is invalid.
func (s *Service) control(ctx context.Context, known []fleetscore.TenantStatus, control string) (controlInfo, error) {
	var ci controlInfo
	ex, err := s.Store.ExceptedSince(ctx, control)
	if err != nil {
		return ci, err
	}
	for _, t := range known {
		ps, err := s.Store.Profiles(ctx, t.ID)
		if err != nil {
			return ci, fmt.Errorf("profiles of %s: %w", t.ID, err)
		}
		i := slices.IndexFunc(ps, func(p fleetscore.ControlProfile) bool { return strings.EqualFold(p.ID, control) })
		if i < 0 {
			continue
		}
		p := ps[i]
		if ci.id == "" {
			ci.id, ci.title = p.ID, p.Title
		}
		if t.Latest == nil || p.Deprecated {
			continue
		}
		if _, excepted := ex[t.ID]; excepted {
			continue
		}
		latest, err := s.Store.Scores(ctx, t.ID, t.Latest.Day, t.Latest.Day)
		if err != nil {
			return ci, fmt.Errorf("scores of %s: %w", t.ID, err)
		}
		for _, sc := range latest {
			for _, c := range sc.Controls {
				if c.Name == p.ID && c.Score < p.MaxScore-fullTolerance {
					ci.open = append(ci.open, t.ID)
				}
			}
		}
	}
	if ci.id == "" {
		return ci, invalid("control %q is not a control of any tenant: use a control profile's id as the actions page shows it", bound(control, 60))
	}
	return ci, nil
}

// OpenTenants returns the tenants where the control is open today (the
// default tenants of a new campaign) and the control's title.
func (s *Service) OpenTenants(ctx context.Context, control string) (open []string, title string, err error) {
	known, err := s.Store.Tenants(ctx)
	if err != nil {
		return nil, "", err
	}
	ci, err := s.control(ctx, known, control)
	if err != nil {
		return nil, "", err
	}
	return ci.open, ci.title, nil
}

// Progress is the campaign id as of today, with only the tenants sees
// keeps (nil keeps every tenant). A campaign with none of them is
// fleetscore.ErrNotFound, as an unknown one.
func (s *Service) Progress(ctx context.Context, id int64, sees func(tenantID string) bool) (Progress, error) {
	c, err := s.Store.Campaign(ctx, id)
	if err != nil {
		return Progress{}, err
	}
	c, ok := visible(c, sees)
	if !ok {
		return Progress{}, fmt.Errorf("campaign %d: %w", id, fleetscore.ErrNotFound)
	}
	names, err := s.names(ctx)
	if err != nil {
		return Progress{}, err
	}
	return s.derive(ctx, c, names)
}

// names are the tenants' names by ID.
func (s *Service) names(ctx context.Context) (map[string]string, error) {
	known, err := s.Store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(known))
	for _, t := range known {
		names[t.ID] = t.Name
	}
	return names, nil
}

// List is every campaign as of today, oldest first, narrowed as Progress.
func (s *Service) List(ctx context.Context, sees func(tenantID string) bool) ([]Progress, error) {
	cs, err := s.Store.Campaigns(ctx)
	if err != nil {
		return nil, err
	}
	names, err := s.names(ctx)
	if err != nil {
		return nil, err
	}
	out := []Progress{}
	for _, c := range cs {
		c, ok := visible(c, sees)
		if !ok {
			continue
		}
		p, err := s.derive(ctx, c, names)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// SetNote replaces a tenant's note in a campaign.
func (s *Service) SetNote(ctx context.Context, id int64, tenantID, note string) error {
	note = strings.TrimSpace(note)
	if err := CheckText("note", note, MaxNote); err != nil {
		return err
	}
	return s.Store.SetCampaignNote(ctx, id, strings.ToLower(tenantID), note)
}

func visible(c Campaign, sees func(string) bool) (Campaign, bool) {
	if sees == nil {
		return c, true
	}
	var keep []Member
	for _, m := range c.Tenants {
		if sees(m.TenantID) {
			keep = append(keep, m)
		}
	}
	c.Tenants = keep
	return c, len(keep) > 0
}

// historyFrom is how many days before its start a campaign's history is
// read, for the start's points of a tenant not collected on that day.
const historyFrom = 14

// derive reads the campaign's data and derives its progress.
func (s *Service) derive(ctx context.Context, c Campaign, names map[string]string) (Progress, error) {
	today := s.today()
	ex, err := s.Store.ExceptedSince(ctx, c.Control)
	if err != nil {
		return Progress{}, err
	}
	title := ""
	hist := map[string]History{}
	for _, m := range c.Tenants {
		h := History{ExceptedFrom: ex[m.TenantID]}
		ps, err := s.Store.Profiles(ctx, m.TenantID)
		if err != nil {
			return Progress{}, fmt.Errorf("profiles of %s: %w", m.TenantID, err)
		}
		for _, p := range ps {
			if p.ID == c.Control {
				h.MaxScore = p.MaxScore
				if title == "" {
					title = p.Title
				}
			}
		}
		scores, err := s.Store.Scores(ctx, m.TenantID, c.Start().AddDays(-historyFrom), today)
		if err != nil {
			return Progress{}, fmt.Errorf("scores of %s: %w", m.TenantID, err)
		}
		h.Days = ControlDays(scores, c.Control)
		hist[m.TenantID] = h
	}
	p := Derive(c, hist, names, today)
	p.Title = title
	return p, nil
}

// ControlDays picks one control's points out of a tenant's snapshots.
func ControlDays(scores []fleetscore.Score, control string) []DayScore {
	out := make([]DayScore, 0, len(scores))
	for _, sc := range scores {
		d := DayScore{Day: sc.Day}
		for _, c := range sc.Controls {
			if c.Name == control {
				d.Score, d.Has = c.Score, true
				break
			}
		}
		out = append(out, d)
	}
	return out
}
