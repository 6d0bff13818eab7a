package config

import (
	"fmt"
	"log/slog"
)

// redacted is what every printed form of a Secret shows.
const redacted = "REDACTED"

// Secret is a client secret. Every way of printing or encoding it (fmt verbs,
// JSON, text, slog) gives "REDACTED"; only Reveal returns the value, so the
// secret reaches the token request and nothing else.
type Secret string

// Reveal returns the secret itself, for the token request only.
func (s Secret) Reveal() string { return string(s) }

// String returns "REDACTED".
func (Secret) String() string { return redacted }

// GoString returns "REDACTED", for %#v.
func (Secret) GoString() string { return redacted }

// Format writes "REDACTED" for every verb, so %x or %q cannot leak the value either.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON returns the JSON string "REDACTED".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "REDACTED".
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue returns "REDACTED" for slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

var (
	_ fmt.Formatter  = Secret("")
	_ fmt.GoStringer = Secret("")
	_ slog.LogValuer = Secret("")
)
