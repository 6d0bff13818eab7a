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
	// scores and profiles are fl's latest controls and profile summaries
	// of each tenant, in fl.statuses' order.
	scores   [][]cscore
	profiles [][]summary
	// controls are, by control name, the tenants (in fl.statuses' order)
	// that have a snapshot with a positive maximum, the control among
	// their latest scores and a profile of it: the tenants
	// ActionDetailView shows. All of them share one array.
	controls map[string][]controlAt
	// remediation is, by control name, the remediation text
	// ActionDetailView shows, read on first use.
	remediation sync.Map
}

// controlAt is a control at one tenant: the first of its latest scores
// and of its profiles with the control's name, as a scan finds them, by
// position (12 bytes, where pointers took 24: at 10,000 tenants the index
// holds 2.5 million).
type controlAt struct {
	tenant int32 // in fl.statuses
	score  int32 // in the tenant's scores
	prof   int32 // in the tenant's profiles
}

// at is the tenant, its latest score and its profile summary of a.
func (ix *fleetIndex) at(a controlAt) (fleetscore.TenantStatus, fleetscore.ControlScore, *summary) {
	return ix.fl.statuses[a.tenant], ix.fl.controls.control(ix.scores[a.tenant][a.score]), &ix.profiles[a.tenant][a.prof]
}

func buildIndex(ctx context.Context, src Source) (*fleetIndex, error) {
	fl, err := readFleet(ctx, src)
	if err != nil {
		return nil, err
	}
	n := len(fl.statuses)
	ix := &fleetIndex{fl: fl, scores: make([][]cscore, n), profiles: make([][]summary, n)}
	var all []controlAt
	for i, st := range fl.statuses {
		if st.Latest == nil || st.Latest.MaxScore <= 0 {
			continue
		}
		cs, ps := fl.controls.by[st.ID], fl.profiles[st.ID]
		ix.scores[i], ix.profiles[i] = cs, ps
		prof := make(map[string]int, len(ps))
		for j := range ps {
			if _, dup := prof[ps[j].shared.ID]; !dup {
				prof[ps[j].shared.ID] = j
			}
		}
		seen := make(map[string]bool, len(cs))
		for k := range cs {
			name := fl.controls.name(cs[k])
			if seen[name] {
				continue
			}
			seen[name] = true
			j, ok := prof[name]
			if !ok {
				continue
			}
			all = append(all, controlAt{tenant: int32(i), score: int32(k), prof: int32(j)})
		}
	}
	// By control, in the tenants' order, in one array: each control's
	// count, then its run's start, then the runs filled in order.
	count := map[string]int{}
	for _, a := range all {
		count[fl.controls.name(ix.scores[a.tenant][a.score])]++
	}
	start := make(map[string]int, len(count))
	off := 0
	for name, c := range count {
		start[name] = off
		off += c
	}
	flat := make([]controlAt, len(all))
	for _, a := range all {
		name := fl.controls.name(ix.scores[a.tenant][a.score])
		flat[start[name]] = a
		start[name]++
	}
	ix.controls = make(map[string][]controlAt, len(count))
	for name, c := range count {
		end := start[name]
		ix.controls[name] = flat[end-c : end : end]
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
