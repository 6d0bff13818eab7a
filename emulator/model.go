package emulator

import (
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
)

// The data model. A tenant's Secure Score on an absolute UTC day is a pure
// function of (seed, tenant ID, day): nothing is stored per day, every day is
// computed when asked for. That keeps memory flat for any number of tenants
// and makes "advance the clock by a day" trivially consistent: the days
// already served keep their values and one new day appears.
//
// How a control's score evolves. Time is cut into blocks of blockLen days
// (16..32, per tenant); in every block each control has one "event" day, and
// its level is constant from one event to the next. The level set at an event
// depends on the tenant's maturity on that day (a slow sawtooth that rises for
// 85 % of its period, so most tenants improve over a 90-day window), on the
// control's difficulty at this tenant, on noise, and on a small chance of a
// regression. One event per block means 3–6 % of controls are re-evaluated on
// a given day; about half of those evaluations change the score.

// fleet is what all tenants of one emulator share.
type fleet struct {
	seedKey uint64
	cat     *catalogue

	mu      sync.Mutex
	streams map[int64]*control // stream controls by index, built on demand
}

func newFleet(seed int64) *fleet {
	return &fleet{seedKey: mix(uint64(seed) ^ 0x5ecc5c0e), cat: newCatalogue(), streams: map[int64]*control{}}
}

// Stream controls: Microsoft adds a control to Secure Score now and then and
// retires it later. Stream control k is introduced fleet-wide about every
// streamSpacing days and lives 240..539 days.
const (
	streamSpacing = 40
	streamMaxLife = 540
	stateBlock    = 720 // state updates (Ignored, ThirdParty, Reviewed) happen at most once per block
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (f *fleet) stream(k int64) *control {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.streams[k]; ok {
		return c
	}
	prefixes, cats, svcs, objects, quals := streamFamilies()
	n := int64(len(prefixes) * len(objects) * len(quals))
	i := int(((k % n) + n) % n)
	p := i % len(prefixes)
	o := (i / len(prefixes)) % len(objects)
	q := (i / (len(prefixes) * len(objects))) % len(quals)
	x := h(f.seedKey, saltStreamAttr, uint64(k))
	c := &control{
		id:       prefixes[p] + objects[o] + "_" + quals[q],
		category: cats[p],
		service:  svcs[p],
		title:    titleFrom(objects[o], quals[q]),
		maxScore: between(h1(x, 1), 1, 10),
		kind:     []kind{kindBinary, kindOn, kindUsers}[pick(h1(x, 2), 3)],
		weight:   1,
		isStream: true,
		streamK:  k,
	}
	c.streamIntro = k*streamSpacing + int64(pick(h(f.seedKey, saltStreamIntro, uint64(k)), streamSpacing))
	c.streamRetire = c.streamIntro + 240 + int64(pick(h(f.seedKey, saltStreamLife, uint64(k)), streamMaxLife-240))
	finishControl(c, x)
	c.difficulty = 0.6 + 0.4*c.difficulty // new controls are mostly not done yet
	if len(f.streams) > 4096 {            // a clock run for centuries; never in practice
		clear(f.streams)
	}
	f.streams[k] = c
	return c
}

// quirks are the deviations from the documented shape a tenant's responses show.
type quirks struct {
	stringNumbers bool // "score":"10.0", "scoreInPercentage":"100.0", "deviceScore":"1"
	lowerSeat     bool // seatSizeRangeLowerValue instead of SeatSizeRangeLowerValue
	noIndustry    bool // no IndustryTypes average
	sentinels     bool // some days: TotalSeats/IndustryTypes averages all -1
	holes         bool // now and then a day is missing from the history
	extraFields   bool // undocumented fields
	orphan        bool // one control is scored but has no profile
	deprecated    bool // a few deprecated profiles of controls no longer scored
}

// tcontrol is a control as it is at one tenant.
type tcontrol struct {
	c     *control
	key   uint64
	u     float64 // difficulty at this tenant, 0..1
	total int     // kindUsers: number of users or items
}

// tenantModel is everything about a tenant's data that does not change from
// day to day. It is immutable once built.
type tenantModel struct {
	fleet       *fleet
	id          string
	name        string
	key         uint64
	controls    []tcontrol // the stable controls, in rank order
	orphan      string     // id of the control that has no profile, or ""
	deprecated  []tcontrol // catalogue controls shown only as deprecated profiles
	blockLen    int64
	m0, amp     float64
	period      float64
	phase       float64
	stateRate   float64
	streamShare float64
	licensed    int
	activeShare float64
	services    []string
	seatBucket  int
	industry    int
	q           quirks
	domain      string
	script      *script   // nil: not scripted (SetScript)
	writes      *writeLog // states written through PATCH; shared by scripted copies
}

func newTenantModel(f *fleet, id, name string, controls int, withQuirks bool) *tenantModel {
	key := h1(f.seedKey, strHash(strings.ToLower(id)))
	t := &tenantModel{fleet: f, id: id, name: name, key: key, writes: &writeLog{}}
	t.blockLen = []int64{16, 20, 24, 32}[pick(h(key, saltBlock), 4)]
	t.m0 = 0.40 + 0.5*unit(h(key, saltTrend, 1))
	t.amp = 0.16
	t.period = float64(between(h(key, saltTrend, 2), 360, 720))
	t.phase = unit(h(key, saltTrend, 3)) * t.period
	t.stateRate = 0.02
	t.streamShare = 0.5 + 0.4*unit(h(key, saltStream))
	t.licensed = int(math.Round(math.Exp(math.Log(5) + unit(h(key, saltLicensed))*(math.Log(5000)-math.Log(5)))))
	if unit(h(key, saltActive)) < 0.4 {
		t.activeShare = 0 // Graph often reports 0 active users
	} else {
		t.activeShare = 0.3 + 0.6*unit(h(key, saltActive, 1))
	}
	t.services = pickServices(h(key, saltServices))
	t.seatBucket = seatBucketOf(t.licensed)
	t.industry = pick(h(key, saltIndustry), len(industries()))
	t.domain = domainOf(name, key)
	if withQuirks {
		u := func(i uint64) float64 { return unit(h(key, saltQuirk, i)) }
		t.q = quirks{
			stringNumbers: u(1) < 0.3,
			lowerSeat:     u(2) < 0.3,
			noIndustry:    u(3) < 0.35,
			sentinels:     u(4) < 0.2,
			holes:         u(5) < 0.3,
			extraFields:   u(6) < 0.4,
			orphan:        u(7) < 0.2,
			deprecated:    u(8) < 0.3,
		}
	}

	cat := f.cat.controls
	if controls <= 0 {
		controls = between(h(key, saltControlCount), 150, 300)
	}
	controls = min(controls, len(cat)-3)
	// Weighted sampling without replacement (Efraimidis–Spirakis): the
	// largest log(u)/w win, so heavy (core) controls are at nearly every tenant.
	type cand struct {
		i int
		k float64
	}
	cands := make([]cand, len(cat))
	for i, c := range cat {
		cands[i] = cand{i, math.Log(unit(h(key, saltControls, uint64(i)))+1e-300) / c.weight}
	}
	sort.Slice(cands, func(a, b int) bool { return cands[a].k > cands[b].k })
	for _, cd := range cands[:controls] {
		t.controls = append(t.controls, t.bind(cat[cd.i]))
	}
	sortByRank(t.controls)
	if t.q.orphan {
		t.orphan = t.controls[pick(h(key, saltOrphan), len(t.controls))].c.id
	}
	if t.q.deprecated {
		n := between(h(key, saltDeprecated), 1, 3)
		for _, cd := range cands[controls : controls+n] {
			t.deprecated = append(t.deprecated, t.bind(cat[cd.i]))
		}
	}
	return t
}

func sortByRank(cs []tcontrol) {
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].c.rankKey < cs[b].c.rankKey })
}

// bind makes a catalogue control this tenant's.
func (t *tenantModel) bind(c *control) tcontrol {
	k := h1(t.key, strHash(c.id))
	tc := tcontrol{c: c, key: k, u: 0.55*c.difficulty + 0.45*unit(h1(k, saltDifficulty))}
	if c.kind == kindUsers {
		switch {
		case c.affectsAdminsOnly:
			tc.total = between(h1(k, saltTotal), 1, 8)
		case unit(h1(k, saltTotal)) < 0.6:
			tc.total = t.licensed
		default:
			tc.total = max(1, int(float64(t.licensed)*(0.2+0.8*unit(h1(k, saltTotal+100)))))
		}
	}
	return tc
}

// streamsFor returns this tenant's stream controls that exist on some day in
// [from, to] or were retired within (from-keep, to].
func (t *tenantModel) streamsFor(from, to, keep int64) []tcontrol {
	var out []tcontrol
	lo := floorDiv(from-keep-streamMaxLife, streamSpacing) - 1
	hi := floorDiv(to, streamSpacing)
	for k := lo; k <= hi; k++ {
		if unit(h(t.key, saltStream, uint64(k))) >= t.streamShare {
			continue
		}
		c := t.fleet.stream(k)
		if c.streamIntro > to || c.streamRetire <= from-keep {
			continue
		}
		out = append(out, t.bind(c))
	}
	return out
}

// maturity is how much of the security work the tenant has done by day d.
func (t *tenantModel) maturity(d int64) float64 {
	x := (float64(d) + t.phase) / t.period
	f := x - math.Floor(x)
	var s float64
	if f < 0.85 {
		s = f / 0.85
	} else {
		s = (1 - f) / 0.15
	}
	return t.m0 + t.amp*(s-0.5)
}

// hole reports whether day d is missing from the tenant's history.
func (t *tenantModel) hole(d int64) bool {
	if t.scripted(d) {
		return t.script.holes[d]
	}
	return t.q.holes && unit(h(t.key, saltHole, uint64(d))) < 1.0/75
}

// stateEvent is one controlStateUpdates entry.
type stateEvent struct {
	day     int64
	secs    int
	state   string
	written *writtenState // set by a PATCH or SetControlState; nil for the model's own
}

// states returns the state updates of a control at this tenant up to day d,
// oldest first. A state set in one block lasts through the next.
func (t *tenantModel) states(tc *tcontrol, d int64, out []stateEvent) []stateEvent {
	b := floorDiv(d, stateBlock)
	for blk := b - 1; blk <= b; blk++ {
		x := h(tc.key, saltState, uint64(blk))
		if unit(x) >= t.stateRate {
			continue
		}
		day := blk*stateBlock + int64(pick(mix(x), stateBlock))
		if day > d {
			continue
		}
		st := fleetscore.StateIgnored
		switch r := unit(h1(x, saltStateKind)); {
		case r < 0.45:
			st = fleetscore.StateThirdParty
		case r > 0.9:
			st = fleetscore.StateReviewed
		}
		out = append(out, stateEvent{day: day, secs: pick(h1(x, 7), 86400), state: st})
	}
	return out
}

// row is one control's score on one day.
type row struct {
	tc    *tcontrol
	cents int64 // score in hundredths of a point
	pct   int64 // scoreInPercentage in hundredths
	count int
	on    bool
	impl  bool
}

// snapshot is one tenant-day.
type snapshot struct {
	day     int64
	rows    []row
	current int64 // hundredths
	max     int64 // hundredths
	active  int
}

// eventDay is the last day <= d on which the control was re-evaluated.
func (t *tenantModel) eventDay(tc *tcontrol, d int64) int64 {
	blk := floorDiv(d, t.blockLen)
	ek := h1(tc.key, saltEvent)
	ev := blk*t.blockLen + int64(pick(h1(ek, uint64(blk)), int(t.blockLen)))
	if ev > d {
		blk--
		ev = blk*t.blockLen + int64(pick(h1(ek, uint64(blk)), int(t.blockLen)))
	}
	return ev
}

// score computes one control's row on day d.
func (t *tenantModel) score(r *row, tc *tcontrol, d int64, sbuf []stateEvent) {
	asOf := d
	if t.scripted(d) {
		asOf = t.script.base
	}
	ev := t.eventDay(tc, asOf)
	x := h1(tc.key^saltLevel, uint64(ev))
	v := t.maturity(ev) - tc.u + (unit(x)-0.5)*0.3
	if unit(mix(x)) < 0.08 {
		v -= 0.5 // a regression: a policy was switched off, a licence lapsed
	}
	c := tc.c
	*r = row{tc: tc}
	frac := 0.0
	switch c.kind {
	case kindUsers:
		f := math.Min(1, math.Max(0, 0.5+2.5*v))
		r.count = int(math.Round(f * float64(tc.total)))
		frac = float64(r.count) / float64(tc.total)
		r.impl = r.count == tc.total
	default:
		r.impl = v > 0
		if r.impl {
			frac = 1
		}
		r.on = r.impl
		if c.kind == kindCount {
			switch {
			case c.countImplementedHi && r.impl:
				r.count = 2 + pick(x, 3)
			case c.countImplementedHi:
				r.count = 1
			case r.impl:
				r.count = 0
			default:
				r.count = 1 + pick(x, 6)
			}
		}
	}
	if t.scripted(d) {
		if v, ok := t.scriptedPoints(tc.c.id, d); ok {
			frac = v / float64(c.maxScore)
		}
	}
	switch scoredState(t.statesAt(tc, d, sbuf[:0]), d) {
	case fleetscore.StateThirdParty:
		frac = 1 // resolved through a third party: full points
	case fleetscore.StateIgnored:
		frac = 0 // risk accepted: no points
	}
	r.cents = int64(math.Round(float64(c.maxScore) * 100 * frac))
	r.pct = int64(math.Round(frac * 10000))
}

// snapshotAt fills s with day d. streams are the tenant's stream controls
// around d (from streamsFor).
func (t *tenantModel) snapshotAt(s *snapshot, d int64, streams []tcontrol) {
	s.day = d
	s.rows = s.rows[:0]
	s.current, s.max = 0, 0
	var sbuf [4]stateEvent
	add := func(tc *tcontrol) {
		s.rows = append(s.rows, row{})
		r := &s.rows[len(s.rows)-1]
		t.score(r, tc, d, sbuf[:0])
		s.current += r.cents
		s.max += int64(tc.c.maxScore) * 100
	}
	for i := range t.controls {
		add(&t.controls[i])
	}
	for i := range streams {
		c := streams[i].c
		if c.streamIntro <= d && d < c.streamRetire {
			add(&streams[i])
		}
	}
	if t.scripted(d) {
		for i := range t.script.added {
			a := &t.script.added[i]
			if a.from > d {
				continue
			}
			add(&a.tc)
			r := &s.rows[len(s.rows)-1]
			s.current -= r.cents
			frac := a.points / float64(a.tc.c.maxScore)
			switch scoredState(t.statesAt(&a.tc, d, sbuf[:0]), d) {
			case fleetscore.StateThirdParty:
				frac = 1
			case fleetscore.StateIgnored:
				frac = 0
			}
			r.cents = int64(math.Round(float64(a.tc.c.maxScore) * 100 * frac))
			r.pct = int64(math.Round(frac * 10000))
			r.impl, r.on = frac == 1, frac == 1
			s.current += r.cents
		}
	}
	s.active = 0
	if t.activeShare > 0 {
		s.active = int(math.Round(float64(t.licensed) * t.activeShare * (0.95 + 0.1*unit(h(t.key, saltActive, uint64(d))))))
	}
}

// profileEntry is one control profile as served today.
type profileEntry struct {
	tc         tcontrol
	deprecated bool
	states     []stateEvent
}

// profilesAt lists the tenant's control profiles on day d, in rank order.
func (t *tenantModel) profilesAt(d int64, days int) []profileEntry {
	var out []profileEntry
	for _, tc := range t.controls {
		if tc.c.id == t.orphan {
			continue
		}
		out = append(out, profileEntry{tc: tc})
	}
	for _, tc := range t.streamsFor(d, d, int64(days)) {
		c := tc.c
		switch {
		case c.streamIntro <= d && d < c.streamRetire:
			out = append(out, profileEntry{tc: tc})
		case c.streamRetire <= d && c.streamRetire > d-int64(days):
			out = append(out, profileEntry{tc: tc, deprecated: true})
		}
	}
	for _, tc := range t.deprecated {
		out = append(out, profileEntry{tc: tc, deprecated: true})
	}
	if t.scripted(d) {
		for _, a := range t.script.added {
			if a.from <= d {
				out = append(out, profileEntry{tc: a.tc})
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].tc.c.rankKey < out[b].tc.c.rankKey })
	for i := range out {
		out[i].states = t.statesAt(&out[i].tc, d, nil)
	}
	return out
}

// averages on one day, by basis.
type average struct {
	basis    string
	sentinel bool
	score    int64    // hundredths
	cat      [5]int64 // identity, data, device, apps, infrastructure (hundredths)
	catMax   [5]int64
	seatLo   int
	seatHi   int
	industry string
}

// averagesAt computes the comparative averages of day d. AllTenants is the
// same for every tenant that day; TotalSeats depends on the seat bucket and
// IndustryTypes on the industry.
func (t *tenantModel) averagesAt(d int64, out []average) []average {
	categoryShares := [5]float64{0.52, 0.04, 0.14, 0.30, 0} // identity, data, device, apps, infrastructure
	categoryMaxes := [5]float64{62, 4, 16, 85, 0}
	out = out[:0]
	sentinel := t.q.sentinels && unit(h(t.key, saltSentinel, uint64(d))) < 0.35
	mk := func(basis string, group uint64, base float64) average {
		g := h(t.fleet.seedKey, saltAverage, strHash(basis), group)
		season := 3 * math.Sin(2*math.Pi*float64(d)/365.25+unit(g)*6)
		noise := (unit(h1(g, uint64(d))) - 0.5)
		a := average{basis: basis}
		v := base + 6*unit(h1(g, 1)) + season + noise
		a.score = int64(math.Round(v * 100))
		for i := range a.cat {
			a.cat[i] = int64(math.Round(v * categoryShares[i] * (0.9 + 0.2*unit(h1(g, 10+uint64(i)))) * 100))
			a.catMax[i] = int64(math.Round(categoryMaxes[i] * (0.9 + 0.2*unit(h1(g, 20+uint64(i)))) * 100))
		}
		return a
	}
	out = append(out, mk(fleetscore.BasisAllTenants, 0, 44))
	seats := mk(fleetscore.BasisTotalSeats, uint64(t.seatBucket), 36+2*float64(t.seatBucket))
	seats.seatLo, seats.seatHi = seatBuckets()[t.seatBucket][0], seatBuckets()[t.seatBucket][1]
	seats.sentinel = sentinel
	out = append(out, seats)
	if !t.q.noIndustry {
		ind := mk(fleetscore.BasisIndustryTypes, uint64(t.industry), 38)
		ind.industry = industries()[t.industry]
		ind.sentinel = sentinel
		out = append(out, ind)
	}
	return out
}

func seatBuckets() [][2]int {
	return [][2]int{{1, 5}, {6, 10}, {11, 25}, {26, 50}, {51, 100}, {101, 500}, {501, 1000}, {1001, 5000}, {5001, 10000}, {10001, 100000}}
}

func seatBucketOf(n int) int {
	for i, b := range seatBuckets() {
		if n <= b[1] {
			return i
		}
	}
	return len(seatBuckets()) - 1
}

func industries() []string {
	return []string{"engineering,technology", "services", "healthcare", "finance,insurance", "government", "education", "retail", "manufacturing"}
}

func pickServices(x uint64) []string {
	all := []string{"HasAADFree", "HasExchange", "HasSharePoint", "HasOD4B", "HasTeams", "HasEXOP2", "HasSPOP2", "HasMDOP1",
		"HasMDOP2", "HasOCAS", "HasCLB", "HasInTune", "HasAADP1", "HasAADP2", "HasMDATP", "HasAzureATP", "HasMIP"}
	out := []string{}
	for i, s := range all {
		if i < 3 || unit(h1(x, uint64(i))) < 0.55 {
			out = append(out, s)
		}
	}
	return out
}

// dayTime converts a Unix day to midnight UTC.
func dayTime(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// domainOf is the tenant's initial domain, for who updated control states.
func domainOf(name string, key uint64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("tenant")
		b.WriteString(strings.ToLower(string(rune('a' + pick(key, 26)))))
	}
	return b.String() + ".onmicrosoft.com"
}

// Tenant names for synthetic tenants.
func tenantName(x uint64) string {
	first := []string{"Contoso", "Fabrikam", "Northwind", "Adventure", "Tailspin", "Wingtip", "Litware", "Proseware", "Lamna",
		"Woodgrove", "Trey", "Alpine", "Coho", "Fourth", "Graphic", "Humongous", "Lucerne", "Margie's", "Relecloud", "Southridge",
		"Blue Yonder", "Consolidated", "Datum", "VanArsdel", "Wide World", "Bellows", "Boreal", "Cedar", "Harbor", "Ironwood",
		"Juniper", "Kestrel", "Larkspur", "Meridian", "Nimbus", "Orchard", "Pinnacle", "Quarry", "Riverbend", "Summit"}
	second := []string{"Traders", "Works", "Health", "Bank", "Logistics", "Energy", "Foods", "Motors", "Legal", "Media",
		"Pharma", "Systems", "Partners", "Retail", "Labs", "Studios", "Capital", "Insurance", "Airlines", "Winery",
		"Publishing", "Dental", "Architects", "Accountants", "Hotels", "Robotics", "Textiles", "Freight", "Clinic", "Schools"}
	suffix := []string{"Ltd", "GmbH", "Inc.", "B.V.", "AB", "LLC", "S.A.", "Pty Ltd", "plc", "AG"}
	return first[pick(x, len(first))] + " " + second[pick(h1(x, 1), len(second))] + " " + suffix[pick(h1(x, 2), len(suffix))]
}
