package relational

import (
	"encoding/json"
	"fmt"

	"github.com/fleetscore/fleetscore"
)

// ProfileRow is a profiles row as stored, comparable with == so that an
// unchanged profile is not written again.
type ProfileRow struct {
	Title, Category, Tier, UserImpact, Cost, ActionType, ActionURL, Service string
	MaxScore                                                                float64
	Rank                                                                    int
	Threats                                                                 string // JSON array
	Deprecated                                                              bool
	Remediation                                                             string
	Removed                                                                 bool
}

// NewProfileRow is the row of a profile.
func NewProfileRow(p fleetscore.ControlProfile) (ProfileRow, error) {
	threats := p.Threats
	if threats == nil {
		threats = []string{}
	}
	b, err := json.Marshal(threats)
	if err != nil {
		return ProfileRow{}, fmt.Errorf("threats of %s: %w", p.ID, err)
	}
	return ProfileRow{
		Title: p.Title, Category: p.Category, Tier: p.Tier, UserImpact: p.UserImpact,
		Cost: p.ImplementationCost, ActionType: p.ActionType, ActionURL: p.ActionURL, Service: p.Service,
		MaxScore: p.MaxScore, Rank: p.Rank, Threats: string(b), Deprecated: p.Deprecated,
		Remediation: p.Remediation,
	}, nil
}

// Profile is the profile of control id held in the row (without its state
// updates, which have a table of their own).
func (r ProfileRow) Profile(id string) (fleetscore.ControlProfile, error) {
	p := fleetscore.ControlProfile{
		ID: id, Title: r.Title, Category: r.Category, MaxScore: r.MaxScore, Rank: r.Rank, Tier: r.Tier,
		UserImpact: r.UserImpact, ImplementationCost: r.Cost, ActionType: r.ActionType,
		ActionURL: r.ActionURL, Service: r.Service, Deprecated: r.Deprecated, Remediation: r.Remediation,
	}
	if err := json.Unmarshal([]byte(r.Threats), &p.Threats); err != nil {
		return p, fmt.Errorf("threats of %s: %w", id, err)
	}
	if len(p.Threats) == 0 {
		p.Threats = nil
	}
	return p, nil
}
