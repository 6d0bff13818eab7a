package query

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
)

// fleetIndex is the fleet model's lookup of one tenant and of one control,
// built once per version from the model's raw reads (and sharing them:
// everything it points to is read-only). The routes of one tenant or one
// action read their slice of the fleet through it instead of scanning
// every tenant.
type fleetIndex struct {
	fl *fleetActions
	// controls are, by control name, the tenants (in fl.statuses' order)
	// that have a snapshot with a positive maximum, the control among
	// their latest scores and a profile of it: the tenants
	// ActionDetailView shows.
	controls map[string][]controlAt
	// remediation is, by control name, the remediation text
	// ActionDetailView shows, read on first use.
	remediation sync.Map
}

// controlAt is a control at one tenant: the first of its latest scores
// and of its profiles with the control's name, as a scan finds them.
type controlAt struct {
	tenant int32
	score  *fleetscore.ControlScore
	prof   *summary
}

func buildIndex(ctx context.Context, src Source) (*fleetIndex, error) {
	fl, err := readFleet(ctx, src)
	if err != nil {
		return nil, err
	}
	ix := &fleetIndex{fl: fl, controls: map[string][]controlAt{}}
	for i, st := range fl.statuses {
		if st.Latest == nil || st.Latest.MaxScore <= 0 {
			continue
		}
		cs, ps := fl.controls[st.ID], fl.profiles[st.ID]
		prof := make(map[string]int, len(ps))
		for j := range ps {
			if _, dup := prof[ps[j].shared.ID]; !dup {
				prof[ps[j].shared.ID] = j
			}
		}
		seen := make(map[string]bool, len(cs))
		for k := range cs {
			name := cs[k].Name
			if seen[name] {
				continue
			}
			seen[name] = true
			j, ok := prof[name]
			if !ok {
				continue
			}
			ix.controls[name] = append(ix.controls[name], controlAt{tenant: int32(i), score: &cs[k], prof: &ps[j]})
		}
	}
	return ix, nil
}

// controlIndex is the model's index of controls when src is the fleet
// model (not a restricted view of it); ok is false otherwise.
func controlIndex(ctx context.Context, src Source) (ix *fleetIndex, ok bool, err error) {
	v, ok, err := modelOf(ctx, src)
	if err != nil || !ok {
		return nil, false, err
	}
	ix, err = memoIn(ctx, v, "control-index", buildIndex)
	return ix, err == nil, err
}

// tenantIndex is the model's tenants with their position by lower-cased
// ID (the first, as a scan finds it).
type tenantIndex struct {
	statuses []fleetscore.TenantStatus // the model's, shared: read only
	byID     map[string]int32
}

// tenantsIndexed is the model's tenant index when src is the fleet model
// (not a restricted view of it); ok is false otherwise.
func tenantsIndexed(ctx context.Context, src Source) (ix *tenantIndex, ok bool, err error) {
	v, ok, err := modelOf(ctx, src)
	if err != nil || !ok {
		return nil, false, err
	}
	ix, err = memoIn(ctx, v, "tenant-index", func(ctx context.Context, src Source) (*tenantIndex, error) {
		statuses, err := sharedTenants(ctx, src)
		if err != nil {
			return nil, err
		}
		ix := &tenantIndex{statuses: statuses, byID: make(map[string]int32, len(statuses))}
		for i, st := range statuses {
			key := strings.ToLower(st.ID)
			if _, dup := ix.byID[key]; !dup {
				ix.byID[key] = int32(i)
			}
		}
		return ix, nil
	})
	return ix, err == nil, err
}

// status is the tenant with the ID (case-insensitive), as tenantStatus
// finds it by a scan.
func (ix *tenantIndex) status(tenantID string) (fleetscore.TenantStatus, error) {
	if i, ok := ix.byID[strings.ToLower(tenantID)]; ok && strings.EqualFold(ix.statuses[i].ID, tenantID) {
		return ix.statuses[i], nil
	}
	// Lower-casing and folding differ on a few letters outside ASCII: a
	// miss scans, so the answer is the scan's.
	for _, st := range ix.statuses {
		if strings.EqualFold(st.ID, tenantID) {
			return st, nil
		}
	}
	return fleetscore.TenantStatus{}, fmt.Errorf("tenant %q: %w", tenantID, fleetscore.ErrNotFound)
}

// TenantAsOf is the row of GET /api/v1/tenants whose tenant_id is
// tenantID (exactly), as of now: GET /api/v1/tenants/{id}. Over the fleet
// model it is found in the overview by index; ok is false when there is
// none.
func TenantAsOf(ctx context.Context, src Source, now time.Time, tenantID string) (t Tenant, ok bool, err error) {
	o, err := overviewOf(ctx, src, now)
	if err != nil {
		return Tenant{}, false, err
	}
	if i, ok := o.byID[tenantID]; ok {
		return o.Rows[i].Tenant, true, nil
	}
	return Tenant{}, false, nil
}
