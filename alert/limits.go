package alert

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// Chat services refuse a message over their limits rather than cut it, so
// the Slack and Teams channels cut what they send themselves: each text to
// its limit (after escaping, since the escapes count), and a long list of
// facts (a digest of many alerts) to what fits, ending "… and N more" with
// a link to fleetscore's page.

// textLen is the length Slack and Teams count: UTF-16 code units, as in
// JavaScript (an emoji outside the BMP counts 2).
func textLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
		if utf16.RuneLen(r) < 0 {
			n += 2 // an invalid rune is sent as U+FFFD
		}
	}
	return n
}

// escaper splits a text into what stands for each of its runes, escaped:
// clip cuts only between them, never inside an escape.
type escaper func(s string) []string

// escape is s escaped whole.
func escape(s string, esc escaper) string { return strings.Join(esc(s), "") }

// clip is s escaped, cut to at most max (textLen) with "…" ending a cut.
// It cuts between escapes, never inside one (an "&amp;" or a "\*").
func clip(s string, max int, esc escaper) string {
	parts := esc(s)
	if full := strings.Join(parts, ""); textLen(full) <= max {
		return full
	}
	var b strings.Builder
	n := 0
	for _, x := range parts {
		if n+textLen(x) > max-1 { // room for the ellipsis
			break
		}
		n += textLen(x)
		b.WriteString(x)
	}
	return b.String() + "…"
}

// runes splits s into its runes, each through f(runes, i).
func runes(s string, f func(rs []rune, i int) string) []string {
	rs := []rune(s)
	out := make([]string, len(rs))
	for i := range rs {
		out[i] = f(rs, i)
	}
	return out
}

// slackEscaper escapes what Slack's mrkdwn gives a meaning to
// (https://api.slack.com/reference/surfaces/formatting#escaping): &, < and
// >, so that no name can make a link or a mention. Slack has no escape for
// *bold*, _italic_ or ~strike~: they may show as formatting, never as more.
func slackEscaper(s string) []string {
	return runes(s, func(rs []rune, i int) string {
		switch rs[i] {
		case '&':
			return "&amp;"
		case '<':
			return "&lt;"
		case '>':
			return "&gt;"
		}
		return string(rs[i])
	})
}

// teamsEscaper escapes, with a backslash (which Teams removes), the
// Markdown that an Adaptive Card's TextBlock and FactSet render: bold,
// italic and links (*, _, [, ], ` and \ anywhere), and a list or heading
// where a line starts ("- ", "+ ", "# ", "> ", and the "." of "1. ").
func teamsEscaper(s string) []string {
	return runes(s, func(rs []rune, i int) string {
		r := rs[i]
		switch r {
		case '\\', '*', '_', '[', ']', '`':
			return `\` + string(r)
		case '-', '+', '#', '>':
			if lineStart(rs, i) {
				return `\` + string(r)
			}
		case '.':
			j := i
			for j > 0 && rs[j-1] >= '0' && rs[j-1] <= '9' {
				j--
			}
			if j < i && lineStart(rs, j) && (i+1 == len(rs) || rs[i+1] == ' ') {
				return `\.`
			}
		}
		return string(r)
	})
}

// lineStart reports whether rs[i] starts a line, after at most 3 spaces
// (as Markdown indents a list).
func lineStart(rs []rune, i int) bool {
	for j, n := i-1, 0; ; j, n = j-1, n+1 {
		if j < 0 || rs[j] == '\n' || rs[j] == '\r' {
			return true
		}
		if rs[j] != ' ' || n == 3 {
			return false
		}
	}
}

// plain escapes nothing: for Slack's plain_text, which shows text as it is.
func plain(s string) []string {
	return runes(s, func(rs []rune, i int) string { return string(rs[i]) })
}

// more is the line that ends a cut list: "… and 12 more" and, when the
// page is known, where to see them all, formatted by link(text, url).
func more(n int, page string, link func(text, url string) string) string {
	s := fmt.Sprintf("… and %d more", n)
	if page == "" {
		return s + ": fleetscore's alerts page has them all."
	}
	return s + ": " + link("see them all in fleetscore", page) + "."
}
