package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore"
)

// Locale is how a report writes dates and numbers, and its labels. Adding
// a translation is adding an entry to Locales (with its Labels filled
// from labelsEN's keys).
type Locale struct {
	Name    string // BCP 47, e.g. en-GB
	Decimal string // the decimal separator
	Group   string // the thousands separator
	// DateOrder is "dmy" (7 November 2026) or "mdy" (November 7, 2026).
	DateOrder string
	Months    [12]string
	Labels    map[string]string
}

// DefaultLocale is the locale of a report whose config names none.
const DefaultLocale = "en-GB"

var monthsEN = [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September",
	"October", "November", "December"}

// labelsEN are the report's labels in English; every locale has these keys.
var labelsEN = map[string]string{
	"title":            "Secure Score report",
	"period":           "Period",
	"prepared_by":      "Prepared by",
	"score":            "Secure Score",
	"score_on":         "Secure Score on %s",
	"change":           "Change over the period",
	"target":           "Target",
	"met":              "Target met",
	"not_met":          "Below target",
	"no_data":          "No Secure Score was collected in this period.",
	"comparatives":     "Against Microsoft's averages",
	"basis":            "Compared with",
	"you":              "This tenant",
	"AllTenants":       "All tenants",
	"TotalSeats":       "Similar seat size",
	"IndustryTypes":    "Same industry",
	"difference":       "Difference",
	"trend":            "Trend over the period",
	"categories":       "Points by category",
	"category":         "Category",
	"points":           "Points",
	"max":              "Max",
	"percent":          "Percent",
	"open":             "Open actions",
	"moves":            "What changed and why",
	"moves_none":       "No change in the period.",
	"date":             "Date",
	"what":             "What",
	"actions":          "Five actions that would lift the score most",
	"actions_none":     "No open actions.",
	"action":           "Action",
	"gain":             "Points to gain",
	"user_impact":      "User impact",
	"cost":             "Cost",
	"exceptions":       "Exceptions in force",
	"exceptions_none":  "No exceptions in force.",
	"state":            "State",
	"reason":           "Reason",
	"review_by":        "Review by",
	"campaigns":        "Campaigns",
	"campaigns_none":   "No campaign touches this tenant.",
	"owner":            "Owner",
	"due":              "Due",
	"status":           "Status",
	"since":            "Since",
	"open_status":      "Open",
	"in_progress":      "In progress",
	"done":             "Done",
	"excepted":         "Excepted",
	"not_applicable":   "Not applicable",
	"regressed":        "Regressed",
	"page":             "Page %d of %s",
	"first_last":       "From %s (%s) to %s (%s)",
	"ThirdParty":       "Third party",
	"Ignored":          "Risk accepted",
	"Reviewed":         "Reviewed",
	"kind_state":       "state changed",
	"kind_added":       "added by Microsoft",
	"kind_retired":     "retired by Microsoft",
	"kind_progress":    "progress",
	"kind_regression":  "regression",
	"kind_unexplained": "not explained by a control",
	"effect":           "Effect",
	"change_short":     "Change",
	"pp":               "pp",
	"generated":        "Generated %s",
}

// Locales are the locales a report can be written in, by name.
var Locales = map[string]*Locale{
	"en-GB": {Name: "en-GB", Decimal: ".", Group: ",", DateOrder: "dmy", Months: monthsEN, Labels: labelsEN},
	"en-US": {Name: "en-US", Decimal: ".", Group: ",", DateOrder: "mdy", Months: monthsEN, Labels: labelsEN},
}

// LocaleNames lists the known locales, sorted, for messages.
func LocaleNames() []string {
	var out []string
	for n := range Locales {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LocaleOf returns the named locale, case-insensitively; ok is false when
// it is not known.
func LocaleOf(name string) (*Locale, bool) {
	for n, l := range Locales {
		if strings.EqualFold(n, name) {
			return l, true
		}
	}
	return nil, false
}

// L is a label; a key the locale lacks falls back to English, then to the key.
// Status is a campaign status's label ("open" has its own key: the word
// labels the open actions elsewhere).
func (l *Locale) Status(status string) string {
	if status == "open" {
		return l.L("open_status")
	}
	return l.L(status)
}

func (l *Locale) L(key string) string {
	if v, ok := l.Labels[key]; ok {
		return v
	}
	if v, ok := labelsEN[key]; ok {
		return v
	}
	return key
}

// Date writes a day: "30 November 2026" (dmy) or "November 30, 2026" (mdy).
func (l *Locale) Date(d fleetscore.Day) string {
	if d.IsZero() {
		return "—"
	}
	t := d.Time()
	if l.DateOrder == "mdy" {
		return fmt.Sprintf("%s %d, %d", l.Months[t.Month()-1], t.Day(), t.Year())
	}
	return fmt.Sprintf("%d %s %d", t.Day(), l.Months[t.Month()-1], t.Year())
}

// ShortDate writes a day as the chart's axis does: "30/11" or "11/30".
func (l *Locale) ShortDate(d fleetscore.Day) string {
	t := d.Time()
	if l.DateOrder == "mdy" {
		return fmt.Sprintf("%d/%d", t.Month(), t.Day())
	}
	return fmt.Sprintf("%d/%d", t.Day(), t.Month())
}

// Number writes v with at most decimals decimals (trailing zeros dropped
// when trim), grouped by thousands.
func (l *Locale) Number(v float64, decimals int, trim bool) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	if trim {
		frac = strings.TrimRight(frac, "0")
	}
	var b strings.Builder
	if v < 0 && strings.Trim(s, "0.") != "" {
		b.WriteString("−")
	}
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(l.Group)
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString(l.Decimal)
		b.WriteString(frac)
	}
	return b.String()
}

// Percent writes a percent as the dashboard does: one decimal, "71.2%".
func (l *Locale) Percent(v float64) string { return l.Number(v, 1, false) + "%" }

// Target writes a target percent as the dashboard does: no trailing zeros, "75%".
func (l *Locale) Target(v float64) string { return l.Number(v, 2, true) + "%" }

// Points writes Secure Score points: up to two decimals, no trailing zeros.
func (l *Locale) Points(v float64) string { return l.Number(v, 2, true) }

// Signed writes a change with its sign: "+1.5", "−0.3", "0".
func (l *Locale) Signed(v float64, decimals int) string {
	r := math.Round(v*math.Pow10(decimals)) / math.Pow10(decimals)
	s := l.Number(r, decimals, decimals > 1)
	if r > 0 {
		return "+" + s
	}
	return s
}
