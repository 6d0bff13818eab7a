package redact

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestScrubsEveryForm(t *testing.T) {
	const secret = "Ab3~x+y/z=w&q secret"
	s := New(secret, "", "short")
	for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), strings.ToLower(url.QueryEscape(secret)),
		strings.ReplaceAll(url.QueryEscape(secret), "+", "%20")} {
		in := "before " + form + " after"
		if got := s.String(in); got != "before "+Mask+" after" {
			t.Errorf("String(%q) = %q", in, got)
		}
	}
	if got := s.String("a short word"); got != "a short word" {
		t.Errorf("a value under %d characters was scrubbed: %q", minLen, got)
	}
	var nilS *Scrubber
	if nilS.String(secret) != secret || New().String(secret) != secret {
		t.Error("an empty scrubber changed text")
	}
}

func TestScrubsErrorsAndLogs(t *testing.T) {
	const secret = "s3cr3t-value-123"
	s := New(secret)
	orig := fmt.Errorf("wrapped: %w", errors.New("token endpoint said "+secret))
	if got := s.Error(orig).Error(); strings.Contains(got, secret) || !strings.Contains(got, "token endpoint said "+Mask) {
		t.Errorf("Error() = %q", got)
	}
	clean := errors.New("nothing here")
	if s.Error(clean) != clean {
		t.Error("an error without a secret was replaced")
	}
	var buf bytes.Buffer
	log := slog.New(s.Handler(slog.NewTextHandler(&buf, nil)))
	log.With("pre", "x "+secret).Info("msg "+secret, "err", errors.New(secret), "s", secret,
		slog.Group("g", "inner", url.QueryEscape(secret)), "n", 42)
	out := buf.String()
	if strings.Contains(out, secret) || strings.Count(out, Mask) != 5 || !strings.Contains(out, "n=42") {
		t.Errorf("log line %q", out)
	}
}
