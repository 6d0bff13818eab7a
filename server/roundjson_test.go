package server

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// roundJSONByPattern is roundJSON as the regular expression its doc names
// defines it: what the one-pass scanner must equal.
func roundJSONByPattern(b []byte) []byte {
	pattern := regexp.MustCompile(`([{,\s])"([A-Za-z0-9_]+)":(\s*)(-?[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?)`)
	var out []byte
	last := 0
	for _, m := range pattern.FindAllSubmatchIndex(b, -1) {
		key, val := string(b[m[4]:m[5]]), b[m[8]:m[9]]
		f, err := strconv.ParseFloat(string(val), 64)
		if err != nil || key == "seconds" {
			continue
		}
		v := points(f)
		if strings.Contains(key, "percent") || strings.HasPrefix(key, "change_") {
			v = apiPercent(f)
		}
		out = append(append(out, b[last:m[8]]...), v...)
		last = m[9]
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// TestRoundJSONAsThePattern: the scanner rounds exactly what the pattern
// matches, on answers made of the pieces that decide a match (keys,
// separators, white space, numbers with and without fractions and
// exponents, strings with escaped quotes) in random order.
func TestRoundJSONAsThePattern(t *testing.T) {
	pieces := []string{`{`, `}`, `[`, `]`, `,`, ` `, "\n", "\t", `"`, `\"`, `:`, `"percent":`, `"score":`, `"change_7d":`,
		`"seconds":`, `"a_b9":`, `"":`, `"x-y":`, `12.345678`, `-0.5`, `1.5e3`, `2.25E-2`, `7`, `3.`, `.5`, `1.5e`, `1.5e+`,
		`-`, `null`, `"text,\"k\":1.23"`, `0.3333333333`, `99.99999`}
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 20000 {
		var sb strings.Builder
		for range 1 + r.IntN(24) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		in := sb.String()
		if got, want := string(roundJSON([]byte(in))), string(roundJSONByPattern([]byte(in))); got != want {
			t.Fatalf("case %d: roundJSON(%q)\n = %q\nwant %q", n, in, got, want)
		}
	}
}

// TestEncodeAnswerAsTheEncoder: encodeAnswer writes the bytes a
// json.Encoder indenting by two spaces, then roundJSON, write, on random
// values of every JSON kind (empty and nested objects and arrays, strings
// with quotes, backslashes, HTML and line separators, fractions under
// rounded and other keys).
func TestEncodeAnswerAsTheEncoder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	keys := []string{"percent", "score", "change_7d", "seconds", "name", `q"uote`, `back\slash`, "<b>&", "\u2028", "é", ""}
	strs := []string{"", "plain", `a "quoted" word`, `C:\path\`, "<script>&amp;", "line\nbreak\ttab", "\u2028\u2029", "ünï", `"k":1.25`, "\x01"}
	var value func(depth int) any
	value = func(depth int) any {
		n := 7
		if depth > 4 {
			n = 5
		}
		switch r.IntN(n) {
		case 0:
			return nil
		case 1:
			return r.IntN(2) == 0
		case 2:
			return []float64{r.Float64() * 100, float64(r.IntN(1000)), -r.Float64(), 1e21 * r.Float64(), 1e-7 * r.Float64()}[r.IntN(5)]
		case 3:
			return r.IntN(100000) - 50000
		case 4:
			return strs[r.IntN(len(strs))]
		case 5:
			a := make([]any, r.IntN(4))
			for i := range a {
				a[i] = value(depth + 1)
			}
			return a
		default:
			m := map[string]any{}
			for range r.IntN(4) {
				m[keys[r.IntN(len(keys))]] = value(depth + 1)
			}
			return m
		}
	}
	for n := range 5000 {
		v := value(0)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		want := roundJSON(buf.Bytes())
		got, err := encodeAnswer(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: encodeAnswer(%#v)\n = %q\nwant %q", n, v, got, want)
		}
	}
}
