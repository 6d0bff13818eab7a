package main

import (
	"math"
	"testing"
)

func TestParseMemoryLimit(t *testing.T) {
	for in, want := range map[string]int64{
		"1024":     1024,
		"200MiB":   200 << 20,
		"1GiB":     1 << 30,
		"64KiB":    64 << 10,
		"2TiB":     2 << 40,
		"512B":     512,
		"off":      math.MaxInt64,
		"1000000B": 1000000,
	} {
		if got, err := parseMemoryLimit(in); err != nil || got != want {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "0", "200MB", "1.5GiB", "9999999TiB", "lots"} {
		if got, err := parseMemoryLimit(in); err == nil {
			t.Errorf("parseMemoryLimit(%q) = %d, want an error", in, got)
		}
	}
}
