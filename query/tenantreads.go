package query

import (
	"context"

	"github.com/fleetscore/fleetscore"
)

// TenantProfileReader is a store that reads one tenant's profiles without
// what its page, report and controls never show (Profiles without each
// profile's ActionType, Service, Threats and Remediation) cheaply.
type TenantProfileReader interface {
	TenantProfiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error)
}

// tenantProfiles is profilesOf without what TenantProfileReader leaves
// out, when src can read them so: for the views of one tenant, which use
// no more.
func tenantProfiles(ctx context.Context, src Source, tenantID string) ([]fleetscore.ControlProfile, error) {
	return noneIfNotFound(leanProfiles(ctx, src, tenantID))
}

// leanProfiles is src's TenantProfiles, or its Profiles when it has none.
func leanProfiles(ctx context.Context, src Source, tenantID string) ([]fleetscore.ControlProfile, error) {
	if r, ok := src.(TenantProfileReader); ok {
		return r.TenantProfiles(ctx, tenantID)
	}
	return src.Profiles(ctx, tenantID)
}

// TenantProfiles is the store's, or its Profiles when it has none (the
// fleet model's views reach it through the Model they embed).
func (m *Model) TenantProfiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error) {
	return leanProfiles(ctx, m.Source, tenantID)
}

// TenantProfiles is the source's, for an allowed tenant only.
func (r *restricted) TenantProfiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error) {
	if err := r.check(tenantID); err != nil {
		return nil, err
	}
	return leanProfiles(ctx, r.src, tenantID)
}
