package config

import (
	"fmt"
	"sort"
	"strings"
)

// maxShown is how many problems Error prints; the rest are counted.
const maxShown = 20

// Problem is one thing wrong in a config file.
type Problem struct {
	Path string // the config file, as given to Load
	Line int    // 1-based; 0 when the problem is about the whole file
	What string // what is wrong
	Fix  string // what to do about it
}

// String renders the problem as "path:line: what; fix".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Path)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	b.WriteString(p.What)
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// Error is every problem found in a config file, in line order. Load and
// Parse return it (as *Error) whenever the file is not usable.
type Error struct {
	Problems []Problem
}

// Error prints up to 20 problems, one a line.
func (e *Error) Error() string {
	lines := make([]string, 0, min(len(e.Problems), maxShown)+1)
	for i, p := range e.Problems {
		if i == maxShown {
			lines = append(lines, fmt.Sprintf("%s: %d more problems not shown; fix the ones above and run again",
				p.Path, len(e.Problems)-maxShown))
			break
		}
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
}

// suggest returns the known key closest to an unknown one, or "".
func suggest(unknown string, known []string) string {
	if k, ok := aliases[normalize(unknown)]; ok {
		for _, kk := range known {
			if kk == k {
				return k
			}
		}
	}
	u := normalize(unknown)
	best, bestDist := "", 1<<30
	for _, k := range known {
		n := normalize(k)
		if n == u {
			return k
		}
		d := levenshtein(u, n)
		limit := max(1, len(n)/3)
		if len(u) >= 4 && (strings.HasPrefix(n, u) || strings.HasPrefix(u, n)) {
			d = min(d, limit)
		}
		if d <= limit && d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// aliases are names people reach for that are too far from ours for the
// edit distance to find.
var aliases = map[string]string{
	"id":            "tenant_id",
	"tenant":        "tenant_id",
	"directoryid":   "tenant_id",
	"appid":         "client_id",
	"applicationid": "client_id",
	"client":        "client_id",
	"cert":          "certificate",
	"pfx":           "certificate",
	"pem":           "certificate",
	"certfile":      "certificate",
	"target":        "target_percent",
	"kpi":           "target_percent",
	"goal":          "target_percent",
	"db":            "database",
	"dsn":           "database",
	"workers":       "concurrency",
	"parallelism":   "concurrency",
	"loglevel":      "log_level",
	"level":         "log_level",
	"addr":          "listen",
	"address":       "listen",
	"environment":   "cloud",
	"authority":     "authority_host",
	"graph":         "graph_url",
	"graphendpoint": "graph_url",
	"customers":     "tenants",
	"clients":       "tenants",
}

func normalize(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(s)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
