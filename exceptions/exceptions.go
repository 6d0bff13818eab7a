// Package exceptions owns the register of exceptions: a recommended action
// credited to a third-party tool, accepted as a risk or marked reviewed, at
// one or many client tenants, with who, why and until when, and its status
// as Microsoft's data shows it (written, in effect, drifted, expired...).
// The register is kept by the store (Register); the write to Microsoft
// goes through a Writer, which cmd/fleetscore backs with the Graph client.
package exceptions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Statuses of an exception.
const (
	// StatusWritten: Graph accepted the write and reading the profile back
	// shows the state.
	StatusWritten = "written"
	// StatusInEffect: a daily snapshot dated after the write has been
	// collected and Microsoft's profile still shows the state.
	StatusInEffect = "in_effect"
	// StatusLocal: kept only in fleetscore (write-back is off for the tenant).
	StatusLocal = "local"
	// StatusRefused: the API cannot write this control (Defender for
	// Endpoint scid_ controls); nothing was sent.
	StatusRefused = "refused"
	// StatusFailed: Graph refused the write; Error and Advice say why.
	StatusFailed = "failed"
	// StatusDrifted: Microsoft's state stopped matching after the write
	// (someone changed it in the portal).
	StatusDrifted = "drifted"
	// StatusExpired: the review date has passed.
	StatusExpired = "expired"
	// StatusPendingApproval: an Ignored exception waiting for a second
	// admin (exceptions.approval: true); nothing was sent yet.
	StatusPendingApproval = "pending_approval"
)

// Statuses lists every status, for validating filters.
var Statuses = []string{StatusWritten, StatusInEffect, StatusLocal, StatusRefused, StatusFailed, StatusDrifted,
	StatusExpired, StatusPendingApproval}

// States are the states an exception may set; Default clears one.
var States = []string{fleetscore.StateThirdParty, fleetscore.StateIgnored, fleetscore.StateReviewed, fleetscore.StateDefault}

// Bounds of what a request may carry.
const (
	MaxReason  = 1024 // bytes
	MaxOwner   = 200  // bytes
	MaxControl = 200  // bytes
	MaxTenants = 1000 // tenants in one request
)

// Exception is one row of the register: one control at one tenant. Its JSON
// is the API's exception object.
type Exception struct {
	ID         int64          `json:"id"`
	TenantID   string         `json:"tenant_id"`
	Control    string         `json:"control"`
	State      string         `json:"state"`
	Reason     string         `json:"reason"`
	Owner      string         `json:"owner"`
	ReviewBy   fleetscore.Day `json:"-"`
	CreatedBy  string         `json:"created_by"`
	CreatedAt  time.Time      `json:"created_at"`
	Status     string         `json:"status"`
	Error      string         `json:"error"`
	Advice     string         `json:"advice"`
	WrittenAt  time.Time      `json:"-"` // when Graph accepted the write; zero when nothing was written
	ApprovedBy string         `json:"approved_by"`
	UpdatedAt  time.Time      `json:"-"` // when the row last changed
	// GraphAnswer is what Graph answered this apply or removal, for the
	// audit log ("PATCH accepted; read back: ThirdParty", "403
	// Forbidden: ..."); "" when nothing was sent. It is not kept in the
	// register.
	GraphAnswer string `json:"-"`
}

// Live reports whether the exception counts in the ranking: it sets a
// state other than Default and that state holds, or is kept locally.
func (e Exception) Live() bool {
	if e.State == fleetscore.StateDefault {
		return false
	}
	switch e.Status {
	case StatusWritten, StatusInEffect, StatusLocal:
		return true
	}
	return false
}

// Filter narrows Exceptions; empty fields match everything.
type Filter struct {
	TenantID string
	Control  string
	Status   string
}

// Match reports whether e passes the filter.
func (f Filter) Match(e Exception) bool {
	return (f.TenantID == "" || f.TenantID == e.TenantID) && (f.Control == "" || f.Control == e.Control) &&
		(f.Status == "" || f.Status == e.Status)
}

// Register keeps the exceptions: the relational store implements it.
type Register interface {
	// PutException adds an exception and returns it with its ID.
	PutException(ctx context.Context, e Exception) (Exception, error)
	// Exception returns one; an unknown ID is fleetscore.ErrNotFound.
	Exception(ctx context.Context, id int64) (Exception, error)
	// Exceptions returns those the filter matches, oldest first.
	Exceptions(ctx context.Context, f Filter) ([]Exception, error)
	// UpdateException replaces a stored exception (by ID); an unknown ID
	// is fleetscore.ErrNotFound.
	UpdateException(ctx context.Context, e Exception) error
	// DeleteException removes one; an unknown ID is fleetscore.ErrNotFound.
	DeleteException(ctx context.Context, id int64) error
}

// Store is what the service reads and keeps: the register and the
// collected data it derives statuses from.
type Store interface {
	Register
	Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error)
	LatestDay(ctx context.Context, tenantID string) (fleetscore.Day, bool, error)
	Profiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error)
}

// Writer sets a control's state in a tenant's Secure Score: cmd/fleetscore
// backs it with graph.Client.SetControlState, which PATCHes the control
// profile and reads it back.
type Writer interface {
	// SetControlState writes the state with the comment and returns the
	// profile as read back after the write.
	SetControlState(ctx context.Context, tenantID, control, state, comment string) (fleetscore.ControlProfile, error)
	// WriteBack reports whether fleetscore may write to the tenant
	// (config write_back); false keeps its exceptions local.
	WriteBack(tenantID string) bool
}

// Error kinds: the API maps them to statuses (400, 403, 409); a missing
// exception is fleetscore.ErrNotFound.
var (
	ErrInvalid   = errors.New("invalid exception")
	ErrForbidden = errors.New("not allowed")
	ErrConflict  = errors.New("conflict")
)

// writable reports whether Microsoft's API can update the control: it
// cannot update Defender for Endpoint controls (scid_*), as documented.
func writable(control string) bool {
	return !hasPrefixFold(control, "scid_")
}

func hasPrefixFold(s, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := range len(p) {
		a, b := s[i], p[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// exceptionJSON is Exception's JSON: review_by as YYYY-MM-DD, written_at
// null before a write.
type exceptionJSON struct {
	exceptionFields
	ReviewBy  string     `json:"review_by"`
	WrittenAt *time.Time `json:"written_at"`
}

type exceptionFields Exception

// MarshalJSON writes the API's exception object.
func (e Exception) MarshalJSON() ([]byte, error) {
	j := exceptionJSON{exceptionFields: exceptionFields(e)}
	if !e.ReviewBy.IsZero() {
		j.ReviewBy = e.ReviewBy.String()
	}
	if !e.WrittenAt.IsZero() {
		w := e.WrittenAt.UTC()
		j.WrittenAt = &w
	}
	j.CreatedAt = e.CreatedAt.UTC()
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (e *Exception) UnmarshalJSON(b []byte) error {
	var j exceptionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = Exception(j.exceptionFields)
	if j.ReviewBy != "" {
		d, err := fleetscore.ParseDay(j.ReviewBy)
		if err != nil {
			return fmt.Errorf("review_by: %w", err)
		}
		e.ReviewBy = d
	}
	if j.WrittenAt != nil {
		e.WrittenAt = *j.WrittenAt
	}
	return nil
}
