package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/fleetscore/fleetscore"
)

// WriteRole is the application permission a write needs. Reading needs
// SecurityEvents.Read.All; changing a control's state needs this one,
// admin-consented in the tenant.
const WriteRole = "SecurityEvents.ReadWrite.All"

// WritableControl reports whether Graph can change a control's state.
// Microsoft Defender for Endpoint controls (IDs "scid_…") are scored
// through Secure Score but managed in Defender Vulnerability Management:
// Microsoft documents that their state cannot be updated through this API
// (Graph answers 400), so fleetscore does not send such a change at all.
func WritableControl(control string) bool {
	return !strings.HasPrefix(strings.ToLower(strings.TrimSpace(control)), "scid_")
}

// stateChange is the body of a PATCH of a control profile, field for field
// as Microsoft documents it: vendorInformation, with provider and vendor,
// is mandatory.
type stateChange struct {
	State             string       `json:"state"`
	Comment           string       `json:"comment"`
	AssignedTo        string       `json:"assignedTo"`
	VendorInformation vendorChange `json:"vendorInformation"`
}

type vendorChange struct {
	Provider        string  `json:"provider"`
	ProviderVersion *string `json:"providerVersion"`
	SubProvider     *string `json:"subProvider"`
	Vendor          string  `json:"vendor"`
}

// SetControlState sets a control's state (Default, Ignored, ThirdParty or
// Reviewed) in the tenant's Secure Score, with comment as its reason, and
// returns the profile as Graph shows it afterwards: from the 200 answer
// to Prefer: return=representation, or read back after a 204. The request
// goes through the tenant's limits and retries like a read, except that
// only answers saying nothing was done (429, 503, 504) are retried. It
// needs the SecurityEvents.ReadWrite.All application permission; a 403's
// advice says how to grant it.
func (c *Client) SetControlState(ctx context.Context, t Target, control, state, comment string) (fleetscore.ControlProfile, error) {
	if !WritableControl(control) {
		return fleetscore.ControlProfile{}, &Error{Kind: KindGraph, Tenant: t.TenantID,
			Msg:    fmt.Sprintf("control %s is a Microsoft Defender for Endpoint control: its state cannot be changed through Graph", control),
			Advice: "set its state in the Microsoft Defender portal (Vulnerability management → Recommendations → Exception options)"}
	}
	body, err := json.Marshal(stateChange{
		State: state, Comment: comment, AssignedTo: "",
		VendorInformation: vendorChange{Provider: "SecureScore", Vendor: "Microsoft"},
	})
	if err != nil {
		return fleetscore.ControlProfile{}, err
	}
	var raw []byte
	status, err := c.send(ctx, t, request{
		method: http.MethodPatch, url: c.profileURL(control), body: body,
		prefer: "return=representation", write: true,
	}, &raw)
	if err != nil {
		return fleetscore.ControlProfile{}, err
	}
	if status == http.StatusOK && len(raw) > 0 {
		var w controlProfileWire
		if json.Unmarshal(raw, &w) == nil && w.ID != "" {
			return w.toProfile(), nil
		}
	}
	// 204 No Content (Prefer ignored), or a representation that could not
	// be read: the change was made, so read the profile rather than send
	// the change again.
	return c.ControlProfile(ctx, t, control)
}

// ControlProfile reads one control profile of the tenant.
func (c *Client) ControlProfile(ctx context.Context, t Target, control string) (fleetscore.ControlProfile, error) {
	var w controlProfileWire
	if err := c.get(ctx, t, c.profileURL(control), &w); err != nil {
		return fleetscore.ControlProfile{}, err
	}
	if w.ID == "" {
		return fleetscore.ControlProfile{}, &Error{Kind: KindMalformed, Tenant: t.TenantID,
			Msg:    fmt.Sprintf("Graph answered the profile of %s without an id", control),
			Advice: "check that graph_url points at Microsoft Graph"}
	}
	return w.toProfile(), nil
}

func (c *Client) profileURL(control string) string {
	return c.base.String() + "/v1.0/security/secureScoreControlProfiles/" + url.PathEscape(control)
}

// CheckWriteToken gets a token for the target's tenant and reports what it
// shows of the SecurityEvents.ReadWrite.All role, without calling Graph.
func (c *Client) CheckWriteToken(ctx context.Context, t Target) (RoleKnowledge, error) {
	tok, err := c.token(ctx, t)
	if err != nil {
		return RoleUnknown, err
	}
	return tokenRoles(tok, WriteRole), nil
}

// WriteRoleAdvice is what to do when a tenant's token lacks the write role.
func WriteRoleAdvice(tenant string) string {
	return fmt.Sprintf("add the application permission %s (Microsoft Graph) to the app registration, then an admin of tenant %s must grant admin consent (open the admin-consent link again); or set write_back: false for this tenant", WriteRole, tenant)
}

// writeAdvice replaces a read's advice on a refused write.
func writeAdvice(e *Error, token string) {
	switch {
	case e.Status == http.StatusForbidden:
		switch tokenRoles(token, WriteRole) {
		case RoleLacking:
			e.Advice = fmt.Sprintf("the app's token for tenant %s does not carry %s: ", e.Tenant, WriteRole) + WriteRoleAdvice(e.Tenant)
		case RoleGranted:
			e.Advice = fmt.Sprintf("Graph refused the change although the token carries %s: check that no Conditional Access policy blocks the app, and that the tenant's licence includes Secure Score", WriteRole)
		default:
			e.Advice = fmt.Sprintf("Graph refused the change, and the token does not show its roles: changing a state needs %s; ", WriteRole) + WriteRoleAdvice(e.Tenant)
		}
	case e.Status == http.StatusBadRequest:
		e.Advice = "Graph refused the change as sent: the state must be Default, Ignored, ThirdParty or Reviewed, and Microsoft Defender for Endpoint (scid_) controls cannot be changed through Graph"
	case e.Status == http.StatusNotFound:
		e.Advice = "the tenant has no such control: check the control ID against the tenant's recommended actions"
	}
}
