package server

// Charts are SVG written here, in Go: a sparkline or a line chart of a few
// hundred points is a few hundred bytes of path, needs no JavaScript and no
// library, and works with scripts off. Colours come from CSS classes (the
// stylesheet follows the system's dark mode); every chart is an image with
// a title and a text alternative.

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore"
)

// svgBuf builds SVG text; every string written through text() or attr() is
// escaped, numbers are written compactly.
type svgBuf struct{ strings.Builder }

func (b *svgBuf) raw(s string) *svgBuf { b.WriteString(s); return b }

func (b *svgBuf) num(v float64) *svgBuf {
	var a [32]byte // no string for each number
	b.Write(strconv.AppendFloat(a[:0], math.Round(v*10)/10, 'f', -1, 64))
	return b
}

func (b *svgBuf) text(s string) *svgBuf {
	b.WriteString(template.HTMLEscapeString(s))
	return b
}

func (b *svgBuf) html() template.HTML { return template.HTML(b.String()) }

// scale maps a value range onto a pixel range.
type scale struct{ d0, d1, r0, r1 float64 }

func (s scale) at(v float64) float64 {
	if s.d1 == s.d0 {
		return (s.r0 + s.r1) / 2
	}
	return s.r0 + (v-s.d0)/(s.d1-s.d0)*(s.r1-s.r0)
}

// extent is the finite minimum and maximum of the values; ok is false when
// there is none.
func extent(values ...[]float64) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, vs := range values {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			lo, hi, ok = min(lo, v), max(hi, v), true
		}
	}
	return lo, hi, ok
}

// pathOf draws values as a line, one vertex per finite value, with a gap
// (a new M) wherever a value is missing.
func pathOf(b *svgBuf, values []float64, x func(i int) float64, y scale) int {
	n, pen := 0, false
	for i, v := range values {
		if math.IsNaN(v) {
			pen = false
			continue
		}
		if pen {
			b.raw("L")
		} else {
			b.raw("M")
		}
		b.num(x(i)).raw(" ").num(y.at(v))
		pen = true
		n++
	}
	return n
}

// stepPathOf draws values as steps, with vertices only where the value
// changes: a control's score history is flat for weeks at a time.
func stepPathOf(b *svgBuf, values []float64, x func(i int) float64, y scale) {
	pen := false
	prev := math.NaN()
	for i, v := range values {
		switch {
		case math.IsNaN(v):
			if pen {
				b.raw("H").num(x(i))
			}
			pen = false
		case !pen:
			b.raw("M").num(x(i)).raw(" ").num(y.at(v))
			pen = true
		case v != prev:
			b.raw("H").num(x(i)).raw("V").num(y.at(v))
		}
		prev = v
	}
	if pen {
		b.raw("H").num(x(len(values)))
	}
}

// sparkline is the overview's 90-day trend of one tenant: auto-scaled
// (at least 10 points tall) so that a fall shows, with the target as a
// dashed line when it is in view and a dot on the latest value.
func sparkline(values []float64, target float64, meets bool, label string) template.HTML {
	const w, h, pad = 120.0, 28.0, 3.0
	var b svgBuf
	b.raw(`<svg class="spark" viewBox="0 0 120 28" width="120" height="28" role="img" aria-label="`).text(label).raw(`"><title>`).text(label).raw(`</title>`)
	lo, hi, ok := extent(values)
	if !ok {
		b.raw(`<line class="spark-none" x1="0" y1="14" x2="120" y2="14"/></svg>`)
		return b.html()
	}
	if hi-lo < 10 {
		mid := (hi + lo) / 2
		lo, hi = mid-5, mid+5
	}
	y := scale{lo, hi, h - pad, pad}
	step := (w - 2*pad) / float64(max(len(values)-1, 1))
	x := func(i int) float64 { return pad + float64(i)*step }
	if target >= lo && target <= hi {
		b.raw(`<line class="spark-target" x1="0" x2="120" y1="`).num(y.at(target)).raw(`" y2="`).num(y.at(target)).raw(`"/>`)
	}
	b.raw(`<path class="spark-line" d="`)
	pathOf(&b, values, x, y)
	b.raw(`"/>`)
	for i := len(values) - 1; i >= 0; i-- {
		if !math.IsNaN(values[i]) {
			cls := "spark-dot below"
			if meets {
				cls = "spark-dot meets"
			}
			b.raw(`<circle class="`).raw(cls).raw(`" r="2.5" cx="`).num(x(i)).raw(`" cy="`).num(y.at(values[i])).raw(`"/>`)
			break
		}
	}
	b.raw(`</svg>`)
	return b.html()
}

// trendSpark is a small auto-scaled line of a daily series (a category's
// points), at least minSpan tall so that noise does not look like a trend.
func trendSpark(values []float64, minSpan float64, label string) template.HTML {
	const w, h, pad = 96.0, 20.0, 2.0
	var b svgBuf
	b.raw(`<svg class="spark" viewBox="0 0 96 20" width="96" height="20" role="img" aria-label="`).text(label).raw(`"><title>`).text(label).raw(`</title>`)
	lo, hi, ok := extent(values)
	if !ok {
		b.raw(`</svg>`)
		return b.html()
	}
	if hi-lo < minSpan {
		mid := (hi + lo) / 2
		lo, hi = mid-minSpan/2, mid+minSpan/2
	}
	y := scale{lo, hi, h - pad, pad}
	step := (w - 2*pad) / float64(max(len(values)-1, 1))
	b.raw(`<path class="spark-line" d="`)
	pathOf(&b, values, func(i int) float64 { return pad + float64(i)*step }, y)
	b.raw(`"/></svg>`)
	return b.html()
}

// stepSpark is a control's score history: a step line from 0 to its max.
func stepSpark(values []float64, maxScore float64, label string) template.HTML {
	const w, h, pad = 96.0, 20.0, 2.0
	var b svgBuf
	b.raw(`<svg class="spark step" viewBox="0 0 96 20" width="96" height="20" role="img" aria-label="`).text(label).raw(`"><title>`).text(label).raw(`</title>`)
	_, hi, ok := extent(values)
	if !ok {
		b.raw(`</svg>`)
		return b.html()
	}
	top := max(maxScore, hi, 1)
	y := scale{0, top, h - pad, pad}
	step := (w - 2*pad) / float64(max(len(values), 1))
	x := func(i int) float64 { return pad + float64(i)*step }
	b.raw(`<line class="spark-base" x1="2" x2="94" y1="18" y2="18"/><path class="spark-line" d="`)
	stepPathOf(&b, values, x, y)
	b.raw(`"/></svg>`)
	return b.html()
}

// meter is a horizontal bar of value out of max with an optional target
// tick; decorative, since the figures are written next to it.
func meter(value, maxValue, target float64, class string) template.HTML {
	const w = 100.0
	var b svgBuf
	b.raw(`<svg class="meter `).raw(class).raw(`" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true" focusable="false">`)
	b.raw(`<rect class="meter-track" x="0" y="0" width="100" height="8" rx="2"/>`)
	if maxValue > 0 && value > 0 {
		b.raw(`<rect class="meter-fill" x="0" y="0" height="8" rx="2" width="`).num(min(value/maxValue, 1) * w).raw(`"/>`)
	}
	if maxValue > 0 && target > 0 && target <= maxValue {
		tx := target / maxValue * w
		b.raw(`<rect class="meter-target" y="0" width="1.5" height="8" x="`).num(tx - 0.75).raw(`"/>`)
	}
	b.raw(`</svg>`)
	return b.html()
}

// series is one line of a lineChart.
type series struct {
	Name   string
	Class  string    // the CSS class that colours it: s1 … s5
	Values []float64 // one per day of the chart; NaN where there is none
	Unit   string    // appended to values in tooltips, e.g. "%"
}

// lineChart is a chart of daily series against a 0–100 % axis (or an auto
// range), with an optional target line. Every day is a hover column whose
// tooltip lists the values, so the chart reads without JavaScript.
type lineChart struct {
	ID      string // the id of the <svg>, also used for its title and desc
	Title   string
	Desc    string // the text alternative
	Days    []fleetscore.Day
	Series  []series
	Target  float64 // 0: none
	Fixed   bool    // a 0–100 axis instead of one fitted to the data
	Width   int
	Height  int
	Compact bool // fewer gridlines, for a small chart
	Points  bool // a marker on each of the main series' values
}

func (c lineChart) SVG() template.HTML {
	w, h := float64(c.Width), float64(c.Height)
	if w == 0 {
		w = 760
	}
	if h == 0 {
		h = 260
	}
	const left, right, top, bottom = 40.0, 12.0, 12.0, 26.0
	var b svgBuf
	b.raw(`<svg class="chart" id="`).text(c.ID).raw(`" viewBox="0 0 `).num(w).raw(" ").num(h).
		raw(`" role="img" aria-labelledby="`).text(c.ID).raw(`-title `).text(c.ID).raw(`-desc">`)
	b.raw(`<title id="`).text(c.ID).raw(`-title">`).text(c.Title).raw(`</title>`)
	b.raw(`<desc id="`).text(c.ID).raw(`-desc">`).text(c.Desc).raw(`</desc>`)

	var all [][]float64
	for _, s := range c.Series {
		all = append(all, s.Values)
	}
	lo, hi, ok := extent(all...)
	if !ok || len(c.Days) == 0 {
		b.raw(`<text class="chart-empty" x="`).num(w / 2).raw(`" y="`).num(h / 2).raw(`" text-anchor="middle">No data yet</text></svg>`)
		return b.html()
	}
	if c.Target > 0 {
		lo, hi = min(lo, c.Target), max(hi, c.Target)
	}
	tick := 10.0
	if c.Fixed {
		lo, hi, tick = 0, 100, 25
	} else {
		lo = math.Max(0, math.Floor((lo-2)/10)*10)
		hi = math.Min(100, math.Ceil((hi+2)/10)*10)
		if hi-lo < 20 {
			hi = math.Min(100, lo+20)
			lo = hi - 20
		}
		if hi-lo > 50 || c.Compact {
			// Coarser gridlines, on a range that starts and ends on one.
			tick = 20
			lo = math.Floor(lo/tick) * tick
			hi = math.Min(100, math.Ceil(hi/tick)*tick)
		}
	}
	y := scale{lo, hi, h - bottom, top}
	n := len(c.Days)
	plotW := w - left - right
	x := func(i int) float64 {
		if n == 1 {
			return left + plotW/2
		}
		return left + float64(i)*plotW/float64(n-1)
	}

	// Grid and y labels.
	b.raw(`<g class="chart-grid">`)
	for v := lo; v <= hi+1e-9; v += tick {
		yy := y.at(v)
		b.raw(`<line x1="`).num(left).raw(`" x2="`).num(w - right).raw(`" y1="`).num(yy).raw(`" y2="`).num(yy).raw(`"/>`)
		b.raw(`<text class="chart-label" x="`).num(left - 6).raw(`" y="`).num(yy + 3.5).raw(`" text-anchor="end">`).raw(strconv.Itoa(int(v))).raw(`%</text>`)
	}
	b.raw(`</g>`)

	// X labels: about six dates, on month starts when the range is long.
	b.raw(`<g class="chart-x">`)
	for _, i := range xTicks(c.Days, int(plotW/110)) {
		anchor := "middle"
		switch {
		case i == 0:
			anchor = "start"
		case i == n-1:
			anchor = "end"
		}
		b.raw(`<text class="chart-label" y="`).num(h - 8).raw(`" x="`).num(x(i)).raw(`" text-anchor="`).raw(anchor).raw(`">`).
			text(c.Days[i].Time().Format("2 Jan")).raw(`</text>`)
	}
	b.raw(`</g>`)

	if c.Target > 0 {
		ty := y.at(c.Target)
		b.raw(`<g class="chart-target"><line x1="`).num(left).raw(`" x2="`).num(w - right).raw(`" y1="`).num(ty).raw(`" y2="`).num(ty).raw(`"/>`)
		b.raw(`<text class="chart-label target-label" x="`).num(w - right - 2).raw(`" y="`).num(ty - 5).raw(`" text-anchor="end">target `).
			raw(strconv.FormatFloat(c.Target, 'f', -1, 64)).raw(`%</text></g>`)
	}

	// Lines, the first (the main series) on top.
	for k := len(c.Series) - 1; k >= 0; k-- {
		s := c.Series[k]
		b.raw(`<path class="chart-line `).text(s.Class).raw(`" data-series="`).text(s.Name).raw(`" d="`)
		pathOf(&b, s.Values, x, y)
		b.raw(`"/>`)
	}
	if len(c.Series) > 0 {
		// The main series' points, when few enough to tell apart.
		if s := c.Series[0]; c.Points {
			b.raw(`<g class="chart-points `).text(s.Class).raw(`">`)
			for i, v := range s.Values {
				if !math.IsNaN(v) {
					b.raw(`<circle r="2.5" cx="`).num(x(i)).raw(`" cy="`).num(y.at(v)).raw(`"/>`)
				}
			}
			b.raw(`</g>`)
		}
	}

	// Hover columns: one per day, with every series' value in its tooltip.
	b.raw(`<g class="chart-hover">`)
	colW := plotW / float64(max(n-1, 1))
	for i, d := range c.Days {
		x0 := x(i) - colW/2
		b.raw(`<rect y="`).num(top).raw(`" height="`).num(h - top - bottom).raw(`" x="`).num(max(x0, left-colW/2)).raw(`" width="`).num(colW).raw(`"><title>`)
		b.text(d.Time().Format("Mon 2 Jan 2006"))
		for _, s := range c.Series {
			if v := s.Values[i]; !math.IsNaN(v) {
				b.raw("\n").text(s.Name).raw(": ").text(strconv.FormatFloat(v, 'f', 1, 64) + s.Unit)
			}
		}
		b.raw(`</title></rect>`)
	}
	b.raw(`</g></svg>`)
	return b.html()
}

// xTicks picks up to want indexes of days to label: the first and last day,
// and month starts (or evenly spaced days for a short range) between.
func xTicks(days []fleetscore.Day, want int) []int {
	n := len(days)
	if n == 0 {
		return nil
	}
	want = max(want, 2)
	if n == 1 {
		return []int{0}
	}
	span := days[n-1].Sub(days[0])
	var cand []int
	if span > 60 {
		for i, d := range days {
			if d.Time().Day() == 1 || i > 0 && days[i-1].Time().Month() != d.Time().Month() {
				cand = append(cand, i)
			}
		}
		for len(cand) > want-2 {
			// Keep every other month until they fit.
			var kept []int
			for j, i := range cand {
				if j%2 == 0 {
					kept = append(kept, i)
				}
			}
			cand = kept
		}
	} else {
		k := want - 1
		for j := 1; j < k; j++ {
			cand = append(cand, j*(n-1)/k)
		}
	}
	out := []int{0}
	minGap := (n - 1) / (want + 2)
	for _, i := range cand {
		if i-out[len(out)-1] > minGap && n-1-i > minGap {
			out = append(out, i)
		}
	}
	return append(out, n-1)
}

// sparkLabel is a sparkline's text alternative.
func sparkLabel(values []float64, days int) string {
	first, last := math.NaN(), math.NaN()
	for _, v := range values {
		if !math.IsNaN(v) {
			if math.IsNaN(first) {
				first = v
			}
			last = v
		}
	}
	if math.IsNaN(first) {
		return fmt.Sprintf("No score in the last %d days", days)
	}
	return fmt.Sprintf("Last %d days: from %.1f%% to %.1f%%", days, first, last)
}
