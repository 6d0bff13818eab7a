package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/postgres/pgtest"
)

// TestBenchOnPostgres keeps `bench --database postgres://...` working; the
// figures are read in the benchmark run, not here.
func TestBenchOnPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	r := runCmd(t, os.Getenv, "bench", "--in-process", "--tenants", "3", "--steady-days", "1", "--latency", "0",
		"--floor-sample", "1", "--database", dsn, "--json")
	if r.err != nil {
		t.Fatalf("bench: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	var res BenchResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if res.FailedCollections != 0 || res.BackfillDays < 3*85 || res.DatabaseBytesFinal <= 0 || res.DBBytesPerDayFull <= 0 {
		t.Errorf("bench result %+v", res)
	}
	// The database now holds tenants: a second benchmark refuses it.
	r = runCmd(t, os.Getenv, "bench", "--in-process", "--tenants", "3", "--database", dsn)
	if r.err == nil || !strings.Contains(r.err.Error(), "empty") {
		t.Errorf("bench on a database that is not empty: %v", r.err)
	}
}
