// Package redact removes secret values from text before it is stored,
// logged, sent or shown. A secret can come back from outside in any text:
// a token endpoint that echoes the client secret in error_description, a
// proxy that quotes the request, a library that prints a URL. The types in
// config never print a secret; this catches the copies made elsewhere.
package redact

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"sort"
	"strings"
)

// Mask replaces every secret.
const Mask = "REDACTED"

// minLen: shorter values are not secrets worth the name, and replacing
// them would garble ordinary text.
const minLen = 6

// Scrubber replaces known secret values, and their URL- and JSON-encoded
// forms, with Mask. The zero value and nil scrub nothing. It is safe for
// concurrent use once built.
type Scrubber struct {
	r *strings.Replacer
}

// New builds a Scrubber of the values given; empty and short ones are
// skipped.
func New(secrets ...string) *Scrubber {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if len(s) >= minLen && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < minLen {
			continue
		}
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"))
		add(strings.ToLower(url.QueryEscape(s))) // %2b as well as %2B
		if j, err := json.Marshal(s); err == nil {
			add(strings.Trim(string(j), `"`))
		}
	}
	if len(forms) == 0 {
		return &Scrubber{}
	}
	// Longest first, so a form that contains another is replaced whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Mask)
	}
	return &Scrubber{r: strings.NewReplacer(pairs...)}
}

// String is s without any secret.
func (s *Scrubber) String(in string) string {
	if s == nil || s.r == nil {
		return in
	}
	return s.r.Replace(in)
}

// Error is err, or an error of the same text without secrets when it held
// one (the chain is then cut: its parts held the secret too).
func (s *Scrubber) Error(err error) error {
	if err == nil || s == nil || s.r == nil {
		return err
	}
	msg := err.Error()
	if clean := s.String(msg); clean != msg {
		return scrubbed(clean)
	}
	return err
}

type scrubbed string

func (e scrubbed) Error() string { return string(e) }

// Handler wraps h so that no record's message or attribute carries a secret.
func (s *Scrubber) Handler(h slog.Handler) slog.Handler {
	if s == nil || s.r == nil {
		return h
	}
	return &handler{s: s, h: h}
}

type handler struct {
	s *Scrubber
	h slog.Handler
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.s.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return &handler{s: h.s, h: h.h.WithAttrs(clean)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{s: h.s, h: h.h.WithGroup(name)}
}

// attr scrubs a value as it would be printed: strings, errors, Stringers
// and anything else by its text; groups attribute by attribute.
func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.s.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = h.attr(ga)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		text := v.String()
		if clean := h.s.String(text); clean != text {
			return slog.String(a.Key, clean)
		}
		return slog.Attr{Key: a.Key, Value: v}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
