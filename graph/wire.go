package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
)

// The wire types mirror Graph's JSON. They decode leniently because real
// responses are not what the schema says: numbers arrive as strings
// ("score":"10.0"), keys change case (SeatSizeRangeLowerValue), undocumented
// fields come and go, and -1 stands for "no data". encoding/json already
// matches keys case-insensitively and skips unknown ones; flexFloat and
// flexInt take a number, a numeric string or null.

type page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

type secureScoreWire struct {
	ID                       string             `json:"id"`
	AzureTenantID            string             `json:"azureTenantId"`
	ActiveUserCount          flexInt            `json:"activeUserCount"`
	CreatedDateTime          string             `json:"createdDateTime"`
	CurrentScore             flexFloat          `json:"currentScore"`
	MaxScore                 flexFloat          `json:"maxScore"`
	EnabledServices          []string           `json:"enabledServices"`
	LicensedUserCount        flexInt            `json:"licensedUserCount"`
	AverageComparativeScores []averageWire      `json:"averageComparativeScores"`
	ControlScores            []controlScoreWire `json:"controlScores"`
	VendorInformation        *vendorWire        `json:"vendorInformation"`
}

type averageWire struct {
	Basis        string    `json:"basis"`
	AverageScore flexFloat `json:"averageScore"`
	// Undocumented but sent; decoded so that a string or a renamed key here
	// never breaks a collection.
	SeatSizeRangeLowerValue flexInt   `json:"seatSizeRangeLowerValue"`
	SeatSizeRangeUpperValue flexInt   `json:"seatSizeRangeUpperValue"`
	CategoryValue           string    `json:"categoryValue"`
	IdentityScore           flexFloat `json:"identityScore"`
	DataScore               flexFloat `json:"dataScore"`
	DeviceScore             flexFloat `json:"deviceScore"`
	AppsScore               flexFloat `json:"appsScore"`
	InfrastructureScore     flexFloat `json:"infrastructureScore"`
}

type controlScoreWire struct {
	ControlCategory      string    `json:"controlCategory"`
	ControlName          string    `json:"controlName"`
	Description          string    `json:"description"`
	Score                flexFloat `json:"score"`
	ScoreInPercentage    flexFloat `json:"scoreInPercentage"`
	ImplementationStatus string    `json:"implementationStatus"`
	Count                flexFloat `json:"count"`
	Total                flexFloat `json:"total"`
}

type vendorWire struct {
	Provider        string `json:"provider"`
	ProviderVersion string `json:"providerVersion"`
	SubProvider     string `json:"subProvider"`
	Vendor          string `json:"vendor"`
}

type controlProfileWire struct {
	ID                    string                     `json:"id"`
	AzureTenantID         string                     `json:"azureTenantId"`
	ActionType            string                     `json:"actionType"`
	ActionURL             string                     `json:"actionUrl"`
	ControlCategory       string                     `json:"controlCategory"`
	ControlStateUpdates   []controlStateUpdateWire   `json:"controlStateUpdates"`
	ComplianceInformation []complianceInformatonWire `json:"complianceInformation"`
	Deprecated            flexBool                   `json:"deprecated"`
	ImplementationCost    string                     `json:"implementationCost"`
	LastModifiedDateTime  string                     `json:"lastModifiedDateTime"`
	MaxScore              flexFloat                  `json:"maxScore"`
	Rank                  flexInt                    `json:"rank"`
	Remediation           string                     `json:"remediation"`
	RemediationImpact     string                     `json:"remediationImpact"`
	Service               string                     `json:"service"`
	Threats               []string                   `json:"threats"`
	Tier                  string                     `json:"tier"`
	Title                 string                     `json:"title"`
	UserImpact            string                     `json:"userImpact"`
	VendorInformation     *vendorWire                `json:"vendorInformation"`
}

type controlStateUpdateWire struct {
	AssignedTo      string `json:"assignedTo"`
	Comment         string `json:"comment"`
	State           string `json:"state"`
	UpdatedBy       string `json:"updatedBy"`
	UpdatedDateTime string `json:"updatedDateTime"`
}

type complianceInformatonWire struct {
	CertificationName     string `json:"certificationName"`
	CertificationControls []struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"certificationControls"`
}

// flexFloat is a JSON number that may arrive as a string or null; Valid is
// false for null, "", and values that are not numbers.
type flexFloat struct {
	V     float64
	Valid bool
}

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	*f = flexFloat{}
	b = unquote(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		// A value that is not a number is treated as absent rather than
		// failing a whole tenant's collection on one odd field.
		return nil
	}
	f.V, f.Valid = v, true
	return nil
}

type flexInt struct {
	V     int64
	Valid bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var ff flexFloat
	if err := ff.UnmarshalJSON(b); err != nil {
		return err
	}
	*f = flexInt{V: int64(ff.V), Valid: ff.Valid}
	return nil
}

type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.ToLower(string(unquote(b)))
	*f = flexBool(s == "true" || s == "1")
	return nil
}

func unquote(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return bytes.TrimSpace(b[1 : len(b)-1])
	}
	return b
}

// parseDay reads createdDateTime. Graph sends RFC 3339 ("2025-06-14T00:00:00Z",
// sometimes with fractional seconds or an offset); the day is its UTC date.
func parseDay(s string) (fleetscore.Day, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", fleetscore.DayLayout} {
		if t, err := time.Parse(layout, s); err == nil {
			return fleetscore.DayOf(t), nil
		}
	}
	return fleetscore.Day{}, fmt.Errorf("createdDateTime %q is not a date", s)
}

func (w *secureScoreWire) toScore(tenantID string) (fleetscore.Score, error) {
	day, err := parseDay(w.CreatedDateTime)
	if err != nil {
		return fleetscore.Score{}, fmt.Errorf("secure score %q: %w", w.ID, err)
	}
	s := fleetscore.Score{
		TenantID:          tenantID,
		Day:               day,
		CurrentScore:      w.CurrentScore.V,
		MaxScore:          w.MaxScore.V,
		ActiveUserCount:   int(w.ActiveUserCount.V),
		LicensedUserCount: int(w.LicensedUserCount.V),
		EnabledServices:   texts(w.EnabledServices),
		Controls:          make([]fleetscore.ControlScore, 0, len(w.ControlScores)),
	}
	for _, a := range w.AverageComparativeScores {
		// -1 is Graph's "no data" sentinel.
		if a.Basis == "" || !a.AverageScore.Valid || a.AverageScore.V < 0 {
			continue
		}
		if s.Averages == nil {
			s.Averages = make(map[string]float64, 3)
		}
		s.Averages[a.Basis] = a.AverageScore.V
	}
	for _, c := range w.ControlScores {
		if c.ControlName == "" {
			continue
		}
		s.Controls = append(s.Controls, fleetscore.ControlScore{
			Name:     text(c.ControlName),
			Category: text(c.ControlCategory),
			Score:    c.Score.V,
		})
	}
	return s, nil
}

// text is a string from Graph as fleetscore keeps it: without NUL bytes,
// which no title needs and PostgreSQL cannot store in text (one would fail
// the tenant for good). encoding/json has already replaced invalid UTF-8.
func text(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func texts(ss []string) []string {
	for i, s := range ss {
		ss[i] = text(s)
	}
	return ss
}

func (w *controlProfileWire) toProfile() fleetscore.ControlProfile {
	p := fleetscore.ControlProfile{
		ID:                 text(w.ID),
		Title:              text(w.Title),
		Category:           text(w.ControlCategory),
		MaxScore:           w.MaxScore.V,
		Rank:               int(w.Rank.V),
		Tier:               text(w.Tier),
		UserImpact:         text(w.UserImpact),
		ImplementationCost: text(w.ImplementationCost),
		ActionType:         text(w.ActionType),
		ActionURL:          text(w.ActionURL),
		Service:            text(w.Service),
		Threats:            texts(w.Threats),
		Deprecated:         bool(w.Deprecated),
		Remediation:        text(w.Remediation),
	}
	for _, u := range w.ControlStateUpdates {
		su := fleetscore.ControlStateUpdate{
			State:      text(u.State),
			AssignedTo: text(u.AssignedTo),
			Comment:    text(u.Comment),
			UpdatedBy:  text(u.UpdatedBy),
		}
		if u.UpdatedDateTime != "" {
			if t, err := time.Parse(time.RFC3339Nano, u.UpdatedDateTime); err == nil {
				su.UpdatedAt = t.UTC()
			}
		}
		p.StateUpdates = append(p.StateUpdates, su)
	}
	return p
}

// DecodeSecureScores decodes one page of GET /security/secureScores. It is
// exported for the benchmark's decode floor: the same bytes into the same
// structs, with nothing else.
func DecodeSecureScores(data []byte) (n int, err error) {
	var p page[secureScoreWire]
	if err := json.Unmarshal(data, &p); err != nil {
		return 0, err
	}
	return len(p.Value), nil
}

// DecodeControlProfiles decodes one page of GET /security/secureScoreControlProfiles.
func DecodeControlProfiles(data []byte) (n int, err error) {
	var p page[controlProfileWire]
	if err := json.Unmarshal(data, &p); err != nil {
		return 0, err
	}
	return len(p.Value), nil
}
