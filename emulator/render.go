package emulator

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// JSON is produced by appending bytes: the secureScores list of a tenant is
// 2–10 MB for 90 days, and the benchmark pulls gigabytes of it, so no
// reflection and no intermediate trees.

const vendorJSON = `{"provider":"SecureScore","providerVersion":null,"subProvider":null,"vendor":"Microsoft"}`

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendCents appends v/100 as a JSON number with at most two decimals
// ("212.47", "7.5", "10"); with forceDecimal an integer gets ".0" ("10.0"),
// the way numbers look when Graph sends them as strings.
func appendCents(b []byte, v int64, forceDecimal bool) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	f := v % 100
	switch {
	case f != 0:
		b = append(b, '.', byte('0'+f/10))
		if f%10 != 0 {
			b = append(b, byte('0'+f%10))
		}
	case forceDecimal:
		b = append(b, '.', '0')
	}
	return b
}

// appendNumber appends a number, quoted when the tenant sends numbers as strings.
func appendNumber(b []byte, v int64, quoted bool) []byte {
	if quoted {
		b = append(b, '"')
		b = appendCents(b, v, true)
		return append(b, '"')
	}
	return appendCents(b, v, false)
}

// appendDate appends YYYY-MM-DD of Unix day d.
func appendDate(b []byte, d int64) []byte {
	y, m, dd := dayTime(d).Date()
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(m)/10), byte('0'+int(m)%10), '-', byte('0'+dd/10), byte('0'+dd%10))
}

// appendTimestamp appends the RFC 3339 UTC time secs seconds after midnight of day d.
func appendTimestamp(b []byte, d int64, secs int) []byte {
	b = appendDate(b, d)
	hh, mm, ss := secs/3600, secs/60%60, secs%60
	return append(b, 'T', byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), 'Z')
}

// scoreRenderer writes secureScore entities of one tenant.
type scoreRenderer struct {
	t      *tenantModel
	synced [16][]byte // lastSynced per service index, for the current day
	avgBuf []average
}

func newScoreRenderer(t *tenantModel) *scoreRenderer {
	return &scoreRenderer{t: t}
}

func (sr *scoreRenderer) syncedFor(day int64, c *control) []byte {
	i := c.svcIndex
	if sr.synced[i] == nil {
		// Each workload syncs once a day at its own time, the day before the snapshot.
		secs := pick(h(sr.t.key, saltSync, uint64(day), uint64(i)), 86400)
		sr.synced[i] = appendTimestamp(make([]byte, 0, 20), day-1, secs)
	}
	return sr.synced[i]
}

// appendScore appends one day's secureScore entity.
func (sr *scoreRenderer) appendScore(b []byte, s *snapshot) []byte {
	t := sr.t
	q := t.q
	for i := range sr.synced {
		sr.synced[i] = nil
	}
	b = append(b, `{`...)
	if q.extraFields {
		b = append(b, `"@odata.type":"#microsoft.graph.secureScore",`...)
	}
	b = append(b, `"id":"`...)
	b = append(b, t.id...)
	b = append(b, '_')
	b = appendDate(b, s.day)
	b = append(b, `","azureTenantId":"`...)
	b = append(b, t.id...)
	b = append(b, `","activeUserCount":`...)
	b = strconv.AppendInt(b, int64(s.active), 10)
	b = append(b, `,"createdDateTime":"`...)
	b = appendDate(b, s.day)
	b = append(b, `T00:00:00Z","currentScore":`...)
	b = appendCents(b, s.current, false)
	b = append(b, `,"maxScore":`...)
	b = appendCents(b, s.max, false)
	b = append(b, `,"enabledServices":[`...)
	for i, sv := range t.services {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, sv...)
		b = append(b, '"')
	}
	b = append(b, `],"licensedUserCount":`...)
	b = strconv.AppendInt(b, int64(t.licensed), 10)
	b = append(b, `,"vendorInformation":`...)
	b = append(b, vendorJSON...)
	b = append(b, `,"averageComparativeScores":[`...)
	sr.avgBuf = t.averagesAt(s.day, sr.avgBuf)
	for i := range sr.avgBuf {
		if i > 0 {
			b = append(b, ',')
		}
		b = sr.appendAverage(b, &sr.avgBuf[i])
	}
	b = append(b, `],"controlScores":[`...)
	for i := range s.rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = sr.appendControlScore(b, s.day, &s.rows[i])
	}
	return append(b, `]}`...)
}

func (sr *scoreRenderer) appendAverage(b []byte, a *average) []byte {
	categoryKeys := [5]string{"identityScore", "dataScore", "deviceScore", "appsScore", "infrastructureScore"}
	q := sr.t.q
	b = append(b, `{"basis":"`...)
	b = append(b, a.basis...)
	b = append(b, `","averageScore":`...)
	if a.sentinel {
		b = append(b, `-1`...)
	} else {
		b = appendCents(b, a.score, false)
	}
	if a.basis == "TotalSeats" {
		lo, hi := `,"SeatSizeRangeLowerValue":"`, `","SeatSizeRangeUpperValue":"`
		if q.lowerSeat {
			lo, hi = `,"seatSizeRangeLowerValue":"`, `","seatSizeRangeUpperValue":"`
		}
		b = append(b, lo...)
		if a.sentinel {
			b = append(b, `-1`...)
		} else {
			b = strconv.AppendInt(b, int64(a.seatLo), 10)
		}
		b = append(b, hi...)
		if a.sentinel {
			b = append(b, `-1`...)
		} else {
			b = strconv.AppendInt(b, int64(a.seatHi), 10)
		}
		b = append(b, '"')
	}
	if a.basis == "IndustryTypes" {
		b = append(b, `,"categoryValue":`...)
		if a.sentinel {
			b = append(b, `"-1"`...)
		} else {
			b = appendJSONString(b, a.industry)
		}
	}
	for i, k := range categoryKeys {
		b = append(b, ',', '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		switch {
		case a.sentinel:
			b = append(b, `-1`...)
		default:
			b = appendNumber(b, a.cat[i], q.stringNumbers)
		}
		b = append(b, ',', '"')
		b = append(b, k...)
		b = append(b, `Max":`...)
		if a.sentinel {
			b = append(b, `-1`...)
		} else {
			b = appendCents(b, a.catMax[i], false)
		}
	}
	return append(b, '}')
}

func (sr *scoreRenderer) appendControlScore(b []byte, day int64, r *row) []byte {
	c := r.tc.c
	q := sr.t.q
	b = append(b, c.scoreHead...)
	b = append(b, `"score":`...)
	b = appendNumber(b, r.cents, q.stringNumbers)
	b = append(b, `,"lastSynced":"`...)
	b = append(b, sr.syncedFor(day, c)...)
	b = append(b, `","implementationStatus":"`...)
	if !c.silentStatus {
		b = appendStatus(b, c, r, r.tc.total)
	}
	b = append(b, '"')
	switch c.kind {
	case kindUsers:
		b = append(b, `,"count":"`...)
		b = strconv.AppendInt(b, int64(r.count), 10)
		b = append(b, `","total":"`...)
		b = strconv.AppendInt(b, int64(r.tc.total), 10)
		b = append(b, '"')
	case kindCount:
		b = append(b, `,"count":"`...)
		b = strconv.AppendInt(b, int64(r.count), 10)
		b = append(b, '"')
	case kindOn:
		if r.on {
			b = append(b, `,"on":"true"`...)
		} else {
			b = append(b, `,"on":"false"`...)
		}
	}
	b = append(b, `,"scoreInPercentage":`...)
	b = appendNumber(b, r.pct, q.stringNumbers)
	if q.extraFields {
		b = append(b, `,"IsApplicable":"true"`...)
	}
	return append(b, '}')
}

// appendStatus appends the implementationStatus text (already JSON-safe).
func appendStatus(b []byte, c *control, r *row, total int) []byte {
	switch c.kind {
	case kindUsers:
		if c.affectsAdminsOnly {
			b = append(b, `You have `...)
			b = strconv.AppendInt(b, int64(total-r.count), 10)
			b = append(b, ` out of `...)
			b = strconv.AppendInt(b, int64(total), 10)
			return append(b, ` users with administrative roles that aren't protected.`...)
		}
		b = append(b, `<p> `...)
		b = strconv.AppendInt(b, int64(r.count), 10)
		b = append(b, ` of `...)
		b = strconv.AppendInt(b, int64(total), 10)
		return append(b, ` users are affected by policies that are configured securely&nbsp;</p>`...)
	case kindCount:
		if c.countImplementedHi {
			b = append(b, `You currently have `...)
			b = strconv.AppendInt(b, int64(r.count), 10)
			return append(b, ` global admins.`...)
		}
		b = strconv.AppendInt(b, int64(r.count), 10)
		return append(b, ` exposed entities were found.`...)
	case kindOn:
		if r.on {
			return append(b, `This setting is turned on.`...)
		}
		return append(b, `This setting is turned off.`...)
	default:
		if r.impl {
			return append(b, `<p> 100% of users are affected by policies that are configured securely&nbsp;</p>`...)
		}
		return append(b, `<p> 100% of users are affected by policies that are configured less securely than is recommended&nbsp;</p>`...)
	}
}

// appendProfile appends one secureScoreControlProfile entity.
func appendProfile(b []byte, t *tenantModel, p *profileEntry, rank int) []byte {
	c := p.tc.c
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.id)
	b = append(b, `,"azureTenantId":"`...)
	b = append(b, t.id...)
	b = append(b, `","actionType":`...)
	b = appendJSONString(b, c.actionType)
	b = append(b, `,"actionUrl":`...)
	b = appendJSONString(b, c.actionURL)
	b = append(b, `,"controlCategory":`...)
	b = appendJSONString(b, c.category)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, c.title)
	b = append(b, `,"deprecated":`...)
	b = strconv.AppendBool(b, p.deprecated)
	b = append(b, `,"implementationCost":`...)
	b = appendJSONString(b, c.cost)
	b = append(b, `,"lastModifiedDateTime":null,"maxScore":`...)
	b = strconv.AppendInt(b, int64(c.maxScore), 10)
	b = append(b, `,"rank":`...)
	b = strconv.AppendInt(b, int64(rank), 10)
	b = append(b, `,"remediation":`...)
	b = appendJSONString(b, c.remediation)
	b = append(b, `,"remediationImpact":`...)
	b = appendJSONString(b, c.remediationImpact)
	b = append(b, `,"service":`...)
	b = appendJSONString(b, c.service)
	b = append(b, `,"threats":[`...)
	for i, th := range c.threats {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, th)
	}
	b = append(b, `],"tier":`...)
	b = appendJSONString(b, c.tier)
	b = append(b, `,"userImpact":`...)
	b = appendJSONString(b, c.userImpact)
	b = append(b, `,"complianceInformation":[],"controlStateUpdates":[`...)
	if len(p.states) == 0 {
		b = append(b, `{"assignedTo":null,"comment":null,"state":"Default","updatedBy":null,"updatedDateTime":null}`...)
	}
	for i, st := range p.states {
		if i > 0 {
			b = append(b, ',')
		}
		u := stateUpdate(t, st)
		b = append(b, `{"assignedTo":`...)
		b = appendJSONString(b, u.AssignedTo)
		b = append(b, `,"comment":`...)
		b = appendJSONString(b, u.Comment)
		b = append(b, `,"state":`...)
		b = appendJSONString(b, u.State)
		b = append(b, `,"updatedBy":`...)
		b = appendJSONString(b, u.UpdatedBy)
		b = append(b, `,"updatedDateTime":"`...)
		b = u.UpdatedAt.AppendFormat(b, time.RFC3339)
		b = append(b, `"}`...)
	}
	b = append(b, `],"vendorInformation":`...)
	b = append(b, vendorJSON...)
	if t.q.extraFields {
		b = append(b, `,"tenantNote":null`...)
	}
	return append(b, '}')
}
