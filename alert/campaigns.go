package alert

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore/campaign"
)

// campaignsOf is every campaign as of the evaluation's day, when the
// source keeps campaigns (the stores do); without them the campaign rules
// find nothing.
func (v *view) campaignsOf(ctx context.Context) ([]campaign.Progress, error) {
	cs, ok := v.src.(campaign.Store)
	if !ok {
		return nil, nil
	}
	now := v.now
	svc := &campaign.Service{Store: cs, Now: func() time.Time { return now }}
	list, err := svc.List(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	return list, nil
}

func campaignName(p campaign.Progress) string {
	name := p.Title
	if name == "" {
		name = p.Control
	}
	return fmt.Sprintf("campaign %d (%s)", p.ID, name)
}

func campaignFacts(p campaign.Progress) []Fact {
	return []Fact{{"Campaign", strconv.FormatInt(p.ID, 10)}, {"Action", p.Title}, {"Control ID", p.Control},
		{"Owner", p.Owner}, {"Due", p.Due.String()}, {"Done", fmt.Sprintf("%d of %d", p.Done, p.Total)}}
}

// campaignOverdue: one alert per campaign, fleet-wide, while its due date
// has passed and tenants are still open.
func (v *view) campaignOverdue(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	list, err := v.campaignsOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []finding
	for _, p := range list {
		key := Key{Rule: r.Name, Subject: "campaign-" + strconv.FormatInt(p.ID, 10)}
		f := finding{key: key, firing: p.Overdue, title: r.Name + ": " + campaignName(p), order: fmt.Sprintf("%012d", p.ID),
			link: "/campaigns/" + strconv.FormatInt(p.ID, 10), facts: campaignFacts(p)}
		if !f.firing && !open[key] {
			continue
		}
		if f.firing {
			var names []string
			for _, m := range p.Members {
				if !campaign.Settled(m.Status) {
					names = append(names, m.Name)
				}
			}
			f.summary = fmt.Sprintf("%s was due on %s; %d of %d tenants are still open: %s.", campaignName(p), p.Due,
				p.Total-p.Done, p.Total, strings.Join(names, ", "))
			f.facts = append(f.facts, Fact{"Open", strings.Join(names, ", ")})
		} else {
			f.summary = fmt.Sprintf("%s: every tenant is done, excepted or not applicable (%d of %d).", campaignName(p), p.Done, p.Total)
		}
		out = append(out, f)
	}
	return out, nil
}

// campaignRegressed: one alert per tenant of a campaign, while the tenant
// is regressed: it was done during the campaign and is open again.
func (v *view) campaignRegressed(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	list, err := v.campaignsOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []finding
	for _, p := range list {
		for _, m := range p.Members {
			st, ok := v.byID[m.TenantID]
			if !ok {
				continue // a tenant this engine does not watch
			}
			subject := "campaign-" + strconv.FormatInt(p.ID, 10) + ":" + p.Control
			f := tenantFinding(r, st, subject, campaignName(p))
			f.firing = m.Status == campaign.StatusRegressed
			if !f.firing && !open[f.key] {
				continue
			}
			f.facts = append(append(tenantFacts(st), campaignFacts(p)...), Fact{"Status", m.Status}, Fact{"Since", m.Since.String()},
				Fact{"Points", fmt.Sprintf("%s / %s", num(m.Score), num(m.MaxScore))})
			f.link = "/campaigns/" + strconv.FormatInt(p.ID, 10)
			if f.firing {
				f.summary = fmt.Sprintf("%s: %s regressed on %s: the action was done during %s and now scores %s of %s points.",
					st.Name, p.Control, m.Since, campaignName(p), num(m.Score), num(m.MaxScore))
			} else {
				f.summary = fmt.Sprintf("%s: %s in %s is %s now.", st.Name, p.Control, campaignName(p), strings.ReplaceAll(m.Status, "_", " "))
			}
			out = append(out, f)
		}
	}
	return out, nil
}
