package auth

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxField is how many bytes of a field that comes from a request (a name
// typed at sign-in, a provider's error, an address) are stored or logged:
// anyone can send a megabyte, and each failed sign-in writes an audit row.
const MaxField = 256

// Bound makes a field from a request safe to store and log: valid UTF-8
// with no NUL (which PostgreSQL's text refuses) and at most MaxField bytes,
// cut on a character boundary with a marker saying how much was dropped.
func Bound(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= MaxField {
		return s
	}
	cut := MaxField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[cut " + strconv.Itoa(len(s)-cut) + " bytes]"
}

// validName reports whether a typed sign-in name can be a user's name at
// all: text, without NUL. Anything else never reaches the store.
func validName(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
