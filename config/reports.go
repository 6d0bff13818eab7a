package config

import (
	"bytes"
	"fmt"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Reports is the reports: block: the MSSP's branding of the client
// reports, their schedule, and the e-mail channel they go through.
type Reports struct {
	Name     string // the MSSP's name, in each report's header
	Logo     []byte // the PNG read from LogoFile at start; nil without one
	LogoFile string
	Accent   string // #rrggbb, lower case; "" for the default
	Footer   string
	Paper    string // a4 (default) or letter
	Locale   string // en-GB (default) or en-US
	// Schedule, when set, sends each tenant with report_to its report of
	// the month (or quarter) before.
	Schedule *ReportSchedule
	// Channel is the name of the email channel (channels:) the reports go
	// through; required with a schedule.
	Channel string
	Line    int
}

// ReportSchedule is reports.schedule: {every: monthly, day: 1, at: "07:00"}
// (UTC), or the shorthand schedule: monthly (day 1 at 07:00).
type ReportSchedule struct {
	Every        string // monthly or quarterly
	Day          int    // 1..28 (of a quarter's first month when quarterly)
	Hour, Minute int
	Line         int
}

// ReportLocales are the locales a report is written in (package report's
// Locales; a test keeps the two lists equal).
var ReportLocales = []string{"en-GB", "en-US"}

var (
	reportsKeys  = []string{"name", "logo", "accent", "footer", "paper", "locale", "schedule", "channel"}
	scheduleKeys = []string{"every", "day", "at"}
	accentColour = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// maxReportText bounds name: and footer: (one line of a page).
const maxReportText = 200

// reports reads the reports: block; nil when absent. channels are the
// parsed alert channels, for reports.channel.
func (p *parser) reports(e entry, channels []Channel) *Reports {
	if e.missing() {
		return nil
	}
	if e.val.Kind != yaml.MappingNode {
		p.fail(e.key.Line, "reports must be a block of keys", "write reports: with name:, logo:, schedule: and channel: indented below it")
		return nil
	}
	m := p.mapping(e.val, "reports", reportsKeys)
	r := &Reports{Line: e.key.Line, Paper: "a4", Locale: ReportLocales[0]}
	for _, t := range []struct {
		key string
		to  *string
	}{{"name", &r.Name}, {"footer", &r.Footer}} {
		if v, ok := p.scalar(m[t.key], "a line of text", t.key+": Northwind Security"); ok {
			if len(v) > maxReportText {
				p.fail(m[t.key].key.Line, fmt.Sprintf("reports.%s is %d bytes long", t.key, len(v)), fmt.Sprintf("keep it to one line of at most %d bytes", maxReportText))
			}
			*t.to = v
		}
	}
	if v, ok := p.scalar(m["logo"], "a PNG file", "logo: branding/logo.png"); ok {
		if data, ok := p.read(m["logo"].key.Line, "logo", v); ok {
			if why := pngProblem(data); why != "" {
				p.fail(m["logo"].key.Line, fmt.Sprintf("logo %s %s", v, why), "give a PNG file (not interlaced), e.g. exported from the MSSP's logo at 600 px wide")
			} else {
				r.Logo, r.LogoFile = data, v
			}
		}
	}
	if v, ok := p.scalar(m["accent"], "a colour", `accent: "#1f5f8b"`); ok {
		if !accentColour.MatchString(v) {
			p.fail(m["accent"].key.Line, fmt.Sprintf("accent %q is not a colour #rrggbb", v), `write it in quotes with six hex digits, like accent: "#1f5f8b"`)
		} else {
			r.Accent = strings.ToLower(v)
		}
	}
	if v, ok := p.scalar(m["paper"], "a paper size", "paper: a4"); ok {
		switch strings.ToLower(v) {
		case "a4", "letter":
			r.Paper = strings.ToLower(v)
		default:
			p.fail(m["paper"].key.Line, fmt.Sprintf("paper %q is not known", v), "write paper: a4 or paper: letter")
		}
	}
	if v, ok := p.scalar(m["locale"], "a locale", "locale: en-GB"); ok {
		r.Locale = ""
		for _, l := range ReportLocales {
			if strings.EqualFold(l, v) {
				r.Locale = l
			}
		}
		if r.Locale == "" {
			p.fail(m["locale"].key.Line, fmt.Sprintf("locale %q is not one the reports are written in", v), "write locale: "+strings.Join(ReportLocales, " or locale: "))
			r.Locale = ReportLocales[0]
		}
	}
	r.Schedule = p.reportSchedule(m["schedule"])
	if v, ok := p.scalar(m["channel"], "a channel's name", "channel: reports-mail"); ok {
		r.Channel = v
		var found *Channel
		var emails []string
		for i := range channels {
			if channels[i].Type == ChannelEmail || channels[i].Type == ChannelGraphMail {
				emails = append(emails, channels[i].Name)
			}
			if channels[i].Name == v {
				found = &channels[i]
			}
		}
		switch {
		case found == nil && len(emails) == 0:
			p.fail(m["channel"].key.Line, fmt.Sprintf("reports.channel %s is not a channel: there is no email channel", v),
				"add an email channel under channels: (type: email, smtp:, from:, to:, or type: graph_mail) and name it here")
		case found == nil:
			p.fail(m["channel"].key.Line, fmt.Sprintf("reports.channel %s is not a channel", v), "name an email channel: "+strings.Join(emails, ", "))
		case found.Type != ChannelEmail && found.Type != ChannelGraphMail:
			p.fail(m["channel"].key.Line, fmt.Sprintf("reports.channel %s is a %s channel; reports go by e-mail", v, found.Type),
				"name an email or graph_mail channel")
		}
	} else if r.Schedule != nil && m["channel"].missing() {
		p.fail(r.Schedule.Line, "reports.schedule is set but there is no reports.channel to send through",
			"add channel: with the name of an email channel of channels:")
	}
	return r
}

// reportSchedule reads reports.schedule; nil when absent.
func (p *parser) reportSchedule(e entry) *ReportSchedule {
	const fix = `write schedule: {every: monthly, day: 1, at: "07:00"} (UTC), or every: quarterly`
	if e.missing() {
		return nil
	}
	s := &ReportSchedule{Line: e.key.Line, Every: "monthly", Day: 1, Hour: 7}
	var every, day, at entry
	switch e.val.Kind {
	case yaml.ScalarNode: // the shorthand: schedule: monthly
		every = e
	case yaml.MappingNode:
		m := p.mapping(e.val, "reports.schedule", scheduleKeys)
		every, day, at = m["every"], m["day"], m["at"]
	default:
		p.fail(e.key.Line, "reports.schedule must be a mapping", fix)
		return nil
	}
	if v, ok := p.scalar(every, "monthly or quarterly", "every: monthly"); ok {
		switch strings.ToLower(v) {
		case "monthly", "quarterly":
			s.Every = strings.ToLower(v)
		default:
			p.fail(every.key.Line, fmt.Sprintf("reports are sent monthly or quarterly, not %q", v), fix)
		}
	}
	if v, ok := p.scalar(day, "a day of the month", "day: 1"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 28 {
			p.fail(day.key.Line, fmt.Sprintf("day %q is not a day from 1 to 28", v), "write day: 1 (the 29th to 31st are not in every month)")
		} else {
			s.Day = n
		}
	}
	if v, ok := p.scalar(at, "a time of day", `at: "07:00"`); ok {
		t, err := time.Parse("15:04", v)
		if err != nil || len(v) != 5 {
			p.fail(at.key.Line, fmt.Sprintf("at %q is not a time HH:MM", v), `write it in quotes from "00:00" to "23:59", like at: "07:00" (UTC)`)
		} else {
			s.Hour, s.Minute = t.Hour(), t.Minute()
		}
	}
	return s
}

// pngProblem says what is wrong with a logo, "" when it is a PNG fpdf
// can embed.
func pngProblem(data []byte) string {
	// IHDR: 8 bytes of signature, length, type, width, height, depth,
	// colour type, compression, filter, then the interlace method.
	if len(data) > 28 && bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) && string(data[12:16]) == "IHDR" && data[28] != 0 {
		return "is interlaced, which the PDF writer cannot embed"
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "is not a PNG image"
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		return "is empty"
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		return "is not a whole PNG image"
	}
	return ""
}
