package alert

import (
	"context"
	"fmt"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/exceptions"
)

// exceptionLister is the register, when the source keeps one (the stores
// do); without it the exception rules find nothing.
type exceptionLister interface {
	Exceptions(ctx context.Context, f exceptions.Filter) ([]exceptions.Exception, error)
}

// live are the statuses of an exception that stands: the review and drift
// rules watch these.
func live(status string) bool {
	switch status {
	case exceptions.StatusWritten, exceptions.StatusInEffect, exceptions.StatusLocal, exceptions.StatusDrifted, exceptions.StatusExpired:
		return true
	}
	return false
}

func (v *view) exceptionsOf(ctx context.Context) ([]exceptions.Exception, error) {
	reg, ok := v.src.(exceptionLister)
	if !ok {
		return nil, nil
	}
	list, err := reg.Exceptions(ctx, exceptions.Filter{})
	if err != nil {
		return nil, fmt.Errorf("read exceptions: %w", err)
	}
	return list, nil
}

// exceptionFinding is the finding about one exception, keyed by tenant and
// control: one alert per exception.
func (v *view) exceptionFinding(r Rule, x exceptions.Exception) (finding, bool) {
	st, ok := v.byID[x.TenantID]
	if !ok {
		return finding{}, false // a tenant this engine does not watch
	}
	f := tenantFinding(r, st, x.Control, x.Control)
	f.facts = append(tenantFacts(st), Fact{"Control", x.Control}, Fact{"State", x.State}, Fact{"Reason", x.Reason},
		Fact{"Review by", x.ReviewBy.String()}, Fact{"Status", x.Status})
	if x.Owner != "" {
		f.facts = append(f.facts, Fact{"Owner", x.Owner})
	}
	f.link = "/exceptions?tenant=" + x.TenantID + "&control=" + x.Control
	return f, true
}

func (v *view) exceptionReview(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	list, err := v.exceptionsOf(ctx)
	if err != nil {
		return nil, err
	}
	today := fleetscore.DayOf(v.now)
	var out []finding
	for _, x := range list {
		f, ok := v.exceptionFinding(r, x)
		if !ok {
			continue
		}
		left := x.ReviewBy.Sub(today)
		f.firing = live(x.Status) && x.State != fleetscore.StateDefault && !x.ReviewBy.IsZero() && left <= r.days()
		if !f.firing && !open[f.key] {
			continue
		}
		switch {
		case f.firing && left < 0:
			f.summary = fmt.Sprintf("%s: the exception for %s (%s: %s) was due for review on %s.", f.tenant, x.Control, x.State, x.Reason, x.ReviewBy)
		case f.firing:
			f.summary = fmt.Sprintf("%s: the exception for %s (%s: %s) is due for review on %s, in %d days.", f.tenant, x.Control, x.State, x.Reason, x.ReviewBy, left)
		default:
			f.summary = fmt.Sprintf("%s: the exception for %s was reviewed or removed.", f.tenant, x.Control)
		}
		out = append(out, f)
	}
	return v.resolveRemoved(r, open, list, out), nil
}

// resolveRemoved adds to out a resolving finding for each of the rule's
// open alerts whose exception is no longer in the register.
func (v *view) resolveRemoved(r Rule, open map[Key]bool, list []exceptions.Exception, out []finding) []finding {
	kept := make(map[Key]bool, len(list))
	for _, x := range list {
		kept[Key{Rule: r.Name, Tenant: x.TenantID, Subject: x.Control}] = true
	}
	for k := range open {
		if k.Rule != r.Name || kept[k] {
			continue
		}
		if st, ok := v.byID[k.Tenant]; ok {
			f := tenantFinding(r, st, k.Subject, k.Subject)
			f.summary = fmt.Sprintf("%s: the exception for %s was removed.", st.Name, k.Subject)
			out = append(out, f)
		}
	}
	return out
}

func (v *view) exceptionDrift(ctx context.Context, r Rule, open map[Key]bool) ([]finding, error) {
	list, err := v.exceptionsOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []finding
	for _, x := range list {
		f, ok := v.exceptionFinding(r, x)
		if !ok {
			continue
		}
		f.firing = x.Status == exceptions.StatusDrifted
		if !f.firing && !open[f.key] {
			continue
		}
		if f.firing {
			f.summary = fmt.Sprintf("%s: %s is no longer %s in Microsoft's Secure Score (someone changed it in the portal); the exception says %s: %s.",
				f.tenant, x.Control, x.State, x.State, x.Reason)
		} else {
			f.summary = fmt.Sprintf("%s: %s matches its exception again (%s).", f.tenant, x.Control, x.Status)
		}
		out = append(out, f)
	}
	return v.resolveRemoved(r, open, list, out), nil
}
