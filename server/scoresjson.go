package server

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore/query"
)

// answerAppender is an answer that writes its own JSON: the bytes
// encodeAnswer writes of it, or ok false for encodeAnswer to write them.
type answerAppender interface {
	appendAnswer(dst []byte) (out []byte, ok bool)
}

// dayScores is a tenant's scores answer (GET /api/v1/tenants/{id}/scores):
// a thousand days and more, written here in one pass where encodeAnswer
// marshals, rounds and indents them (json.Marshal sorts each day's
// averages through reflection, roundJSON parses every number again).
type dayScores []query.DayScore

// appendAnswer appends the days as encodeAnswer writes them: indented by
// two spaces, points to 2 decimals and percents to 4 (roundJSON's rule,
// by the key), a newline at the end. What it cannot write as json.Marshal
// would without its general rules (a string or key that needs escaping or
// that roundJSON's pattern treats otherwise, NaN or infinity) is left to
// encodeAnswer: ok is false.
func (ds dayScores) appendAnswer(dst []byte) ([]byte, bool) {
	if ds == nil {
		return append(dst, "null\n"...), true
	}
	if len(ds) == 0 {
		return append(dst, "[]\n"...), true
	}
	var keys []string
	dst = slices.Grow(dst, len(ds)*200) // ~190 bytes a day with its three averages
	dst = append(dst, '[')
	for i := range ds {
		d := &ds[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		if !plainJSONString(d.Date) {
			return dst, false
		}
		dst = append(dst, "\n  {\n    \"date\": \""...)
		dst = append(dst, d.Date...)
		dst = append(dst, "\",\n    \"current_score\": "...)
		var ok bool
		if dst, ok = appendAnswerFloat(dst, d.CurrentScore, pointDecimals); !ok {
			return dst, false
		}
		dst = append(dst, ",\n    \"max_score\": "...)
		if dst, ok = appendAnswerFloat(dst, d.MaxScore, pointDecimals); !ok {
			return dst, false
		}
		dst = append(dst, ",\n    \"percent\": "...)
		if dst, ok = appendAnswerFloat(dst, d.Percent, percentDecimals); !ok {
			return dst, false
		}
		dst = append(dst, ",\n    \"averages\": "...)
		switch {
		case d.Averages == nil:
			dst = append(dst, "null"...)
		case len(d.Averages) == 0:
			dst = append(dst, "{}"...)
		default:
			keys = keys[:0]
			for k := range d.Averages {
				keys = append(keys, k)
			}
			slices.Sort(keys) // json.Marshal's order of a map's keys
			dst = append(dst, '{')
			for j, k := range keys {
				if !plainJSONKey(k) {
					return dst, false
				}
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, "\n      \""...)
				dst = append(dst, k...)
				dst = append(dst, "\": "...)
				if dst, ok = appendAnswerFloat(dst, d.Averages[k], keyDecimals(k)); !ok {
					return dst, false
				}
			}
			dst = append(dst, "\n    }"...)
		}
		dst = append(dst, "\n  }"...)
	}
	return append(dst, "\n]\n"...), true
}

// keyDecimals is the decimals roundJSON rounds a member's fraction to, by
// its key ("seconds", which roundJSON leaves as it is, apart).
func keyDecimals(key string) int {
	if strings.Contains(key, "percent") || strings.HasPrefix(key, "change_") {
		return percentDecimals
	}
	return pointDecimals
}

// plainJSONString is whether json.Marshal writes s as it is between quotes
// and no quote or comma in it can look like a key's to roundJSON: ASCII
// letters, digits, '-', '_', '.', ':' and '+' only.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':' || c == '+') {
			return false
		}
	}
	return true
}

// plainJSONKey is whether roundJSON's pattern takes k as a key (letters,
// digits and '_', at least one), which json.Marshal writes as it is.
func plainJSONKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// appendAnswerFloat appends f as json.Marshal writes a float64 and then
// roundJSON rounds it: a number written with a fraction ('.') is rounded
// to decimals and written as points and apiPercent write it; one without
// (an integer, an exponent without a fraction) stays as json wrote it.
// NaN and infinities, which json.Marshal refuses, are not ok.
func appendAnswerFloat(dst []byte, f float64, decimals int) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	abs := math.Abs(f)
	if abs == 0 || abs >= 1e-6 && abs < 1e21 {
		// json's 'f' form: a fraction exactly when f is not an integer.
		if f == math.Trunc(f) {
			return strconv.AppendFloat(dst, f, 'f', -1, 64), true
		}
		return strconv.AppendFloat(dst, round(f, decimals), 'f', -1, 64), true
	}
	// json's 'e' form, its exponent cleaned as encoding/json does.
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	if n := len(dst); n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1]
		dst = dst[:n-1]
	}
	if !slices.Contains(dst[start:], '.') {
		return dst, true
	}
	return strconv.AppendFloat(dst[:start], round(f, decimals), 'f', -1, 64), true
}
