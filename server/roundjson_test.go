package server

import (
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
