package server

import (
	"math"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore"
)

func TestChartPathsBreakAtGaps(t *testing.T) {
	var b svgBuf
	nan := math.NaN()
	n := pathOf(&b, []float64{1, 2, nan, 3, nan, nan, 4}, func(i int) float64 { return float64(i) }, scale{0, 4, 40, 0})
	if n != 4 {
		t.Errorf("%d vertices, want 4", n)
	}
	if got, want := b.String(), "M0 30L1 20M3 10M6 0"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	b.Reset()
	stepPathOf(&b, []float64{0, 0, 5, 5, nan, 5}, func(i int) float64 { return float64(i * 10) }, scale{0, 10, 20, 0})
	if got, want := b.String(), "M0 20H20V10H40M50 10H60"; got != want {
		t.Errorf("step path %q, want %q", got, want)
	}
}

func TestChartsEscapeAndDescribe(t *testing.T) {
	days := []fleetscore.Day{fleetscore.MustDay("2026-01-01"), fleetscore.MustDay("2026-01-02")}
	svg := string(lineChart{ID: "c", Title: `<b>"x"</b>`, Desc: "a & b", Days: days, Target: 75,
		Series: []series{{Name: `<script>`, Class: "s1", Values: []float64{70, 80}, Unit: "%"}}}.SVG())
	for _, bad := range []string{"<script>", `<b>`} {
		if strings.Contains(svg, bad) {
			t.Errorf("unescaped %q in %s", bad, svg)
		}
	}
	for _, want := range []string{`role="img"`, `aria-labelledby="c-title c-desc"`, "<desc id=\"c-desc\">a &amp; b</desc>",
		"target 75%", "Thu 1 Jan 2026\n&lt;script&gt;: 70.0%"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	empty := string(lineChart{ID: "e", Title: "t"}.SVG())
	if !strings.Contains(empty, "No data yet") {
		t.Errorf("an empty chart says nothing: %s", empty)
	}
	spark := string(sparkline([]float64{math.NaN(), 60, 70}, 75, false, `a "label"`))
	if !strings.Contains(spark, `aria-label="a &#34;label&#34;"`) || !strings.Contains(spark, "spark-dot below") {
		t.Errorf("sparkline: %s", spark)
	}
	if s := string(sparkline([]float64{math.NaN()}, 75, true, "none")); !strings.Contains(s, "spark-none") {
		t.Errorf("a sparkline without data: %s", s)
	}
}

func TestXTicks(t *testing.T) {
	var days []fleetscore.Day
	for d := fleetscore.MustDay("2026-01-01"); !d.After(fleetscore.MustDay("2026-12-31")); d = d.AddDays(1) {
		days = append(days, d)
	}
	ticks := xTicks(days, 8)
	if ticks[0] != 0 || ticks[len(ticks)-1] != len(days)-1 || len(ticks) > 8 {
		t.Errorf("ticks %v", ticks)
	}
	for _, i := range ticks[1 : len(ticks)-1] {
		if days[i].Time().Day() != 1 {
			t.Errorf("a year's tick on %s, not a month start", days[i])
		}
	}
	if got := xTicks(days[:1], 6); len(got) != 1 {
		t.Errorf("one day: %v", got)
	}
	if got := xTicks(days[:10], 6); len(got) < 3 {
		t.Errorf("ten days: %v", got)
	}
}

func TestLinkifyEscapes(t *testing.T) {
	got := string(linkify(`grant consent <b>now</b>: https://login.example/t/adminconsent?client_id=1&x="2". Then retry.`))
	want := `grant consent &lt;b&gt;now&lt;/b&gt;: <a href="https://login.example/t/adminconsent?client_id=1&amp;x=" rel="noreferrer" class="ext">https://login.example/t/adminconsent?client_id=1&amp;x=</a>&#34;2&#34;. Then retry.`
	if got != want {
		t.Errorf("linkify:\n got %s\nwant %s", got, want)
	}
	if got := string(linkify("javascript:alert(1) http://plain")); strings.Contains(got, "<a") {
		t.Errorf("linked a non-https URL: %s", got)
	}
}

func TestChangeNeverByColourAlone(t *testing.T) {
	for _, c := range []struct {
		v    *float64
		text string
	}{{fptr(1.26), "+1.3"}, {fptr(-0.04), "0.0"}, {fptr(-2), "−2.0"}, {nil, "—"}} {
		got := changeOf(c.v)
		if got.Text != c.text || got.Label == "" {
			t.Errorf("changeOf(%v) = %+v, want text %q and a label", c.v, got, c.text)
		}
	}
}

func fptr(f float64) *float64 { return &f }
