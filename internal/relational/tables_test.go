package relational

import (
	"slices"
	"testing"
)

func TestReferencedFirst(t *testing.T) {
	names := []string{"alerts", "collections", "controls", "profiles", "self", "tenants", "x", "y"}
	refers := map[string][]string{
		"collections": {"tenants"},
		"profiles":    {"tenants", "controls"},
		"alerts":      {"collections"},
		"self":        {"self"}, // a table naming itself does not wait for itself
		"x":           {"y"},    // x and y form a cycle: last, by name
		"y":           {"x"},
	}
	got := ReferencedFirst(names, refers)
	want := []string{"controls", "self", "tenants", "collections", "alerts", "profiles", "x", "y"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}
