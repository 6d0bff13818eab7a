package report

import (
	"fmt"
	"strconv"
	"strings"
)

// Paper sizes.
const (
	PaperA4     = "a4"
	PaperLetter = "letter"
)

// Branding is the MSSP's look of a report: the reports: block of the config.
type Branding struct {
	Name   string // the MSSP's name, in the header
	Logo   []byte // a PNG, or nil
	Accent string // #rrggbb; DefaultAccent when empty
	Footer string // a line at the foot of every page
	Paper  string // PaperA4 (default) or PaperLetter
	Locale string // a key of Locales; DefaultLocale when empty
}

// DefaultAccent is the accent of a report whose config names none.
const DefaultAccent = "#1f5f8b"

// locale is the branding's locale, or the default one.
func (b Branding) locale() *Locale {
	if l, ok := LocaleOf(b.Locale); ok {
		return l
	}
	return Locales[DefaultLocale]
}

// accent is the accent colour as red, green, blue.
func (b Branding) accent() (r, g, bl int) {
	rgb, err := ParseColour(b.Accent)
	if err != nil {
		rgb, _ = ParseColour(DefaultAccent)
	}
	return rgb[0], rgb[1], rgb[2]
}

// ParseColour reads #rrggbb.
func ParseColour(s string) ([3]int, error) {
	var out [3]int
	if len(s) != 7 || s[0] != '#' {
		return out, fmt.Errorf("colour %q is not #rrggbb", s)
	}
	for i := range 3 {
		v, err := strconv.ParseUint(strings.ToLower(s[1+2*i:3+2*i]), 16, 8)
		if err != nil {
			return out, fmt.Errorf("colour %q is not #rrggbb", s)
		}
		out[i] = int(v)
	}
	return out, nil
}
