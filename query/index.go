package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
)

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
