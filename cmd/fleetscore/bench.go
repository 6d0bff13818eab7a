package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/graph"
)

// benchEmulator is the emulator the benchmark drives: a child process by
// default, so that the collector's memory is measured alone.
type benchEmulator interface {
	configPath() string
	caPEM() []byte
	advance(days int) error
	setLatency(d time.Duration) error
	Close() error
}

// BenchResult is what `fleetscore bench --json` prints.
type BenchResult struct {
	Tenants     int `json:"tenants"`
	Concurrency int `json:"concurrency"`

	BackfillSeconds   float64 `json:"backfill_seconds"`
	BackfillTenantsPS float64 `json:"backfill_tenants_per_second"`
	BackfillDays      int     `json:"backfill_days"`
	JSONBytes         int64   `json:"json_bytes"`
	JSONBytesPerDay   float64 `json:"json_bytes_per_tenant_day"`
	DecodeFloorSecs   float64 `json:"decode_floor_seconds"`
	BackfillVsFloor   float64 `json:"backfill_vs_decode_floor"`
	DBBytesPerDayFull float64 `json:"db_bytes_per_tenant_day_after_backfill"`

	IncrementalSeconds  float64 `json:"incremental_seconds"`
	IncrementalDays     int     `json:"incremental_days"`
	DBBytesPerDaySteady float64 `json:"db_bytes_per_tenant_day_steady"`

	LatencyMS          int     `json:"latency_ms"`
	LatencySeconds     float64 `json:"latency_incremental_seconds"`
	LatencyRequests    int     `json:"latency_requests"`
	LatencyIdealSecs   float64 `json:"latency_ideal_seconds"`
	LatencyVsIdeal     float64 `json:"latency_vs_ideal"`
	PeakRSSBytes       int64   `json:"peak_rss_bytes"`
	FailedCollections  int     `json:"failed_collections"`
	EmulatorInProcess  bool    `json:"emulator_in_process"`
	DatabaseBytesFinal int64   `json:"database_bytes_final"`
}

func cmdBench(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench", "[--tenants N] [--concurrency N] [--latency D] [--steady-days N] [--database DSN] [--json]")
	tenants := fs.Int("tenants", 200, "emulated tenants to backfill (the record run uses 1000)")
	conc := fs.Int("concurrency", 8, "tenants collected at once (the config's concurrency)")
	latency := fs.Duration("latency", 300*time.Millisecond, "emulated Graph latency per request in the last phase (0 skips it)")
	steady := fs.Int("steady-days", 3, "daily incremental collections used to measure steady-state growth")
	sample := fs.Int("floor-sample", 40, "tenants re-read to measure the JSON decode floor")
	seed := fs.Int64("seed", 7, "seed of the emulated tenants")
	dir := fs.String("dir", "", "working folder (default: a temporary one, removed afterwards)")
	inProcess := fs.Bool("in-process", false, "run the emulator in this process (the RSS figure then includes it)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	database := fs.String("database", "", "an empty database to collect into, e.g. postgres://... (default: a new SQLite file in the working folder)")
	if done, err := parse(fs, args); done {
		return err
	}
	if *tenants < 1 || *conc < 1 || *steady < 1 {
		return fmt.Errorf("bench: --tenants, --concurrency and --steady-days must be at least 1")
	}
	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "fleetscore-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	say := func(format string, a ...any) {
		if !*asJSON {
			fmt.Fprintf(e.stdout, format, a...)
		}
	}

	var emu benchEmulator
	var err error
	if *inProcess {
		emu, err = startInProcess(work, *tenants, *seed, *conc)
	} else {
		emu, err = startChild(ctx, work, *tenants, *seed, *conc)
	}
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	defer emu.Close()

	cfg, err := config.Load(emu.configPath(), e.getenv)
	if err == nil {
		err = cfg.Require(config.UseAll)
	}
	if err != nil {
		return err
	}
	dsn := cfg.Database
	if *database != "" {
		dsn = *database
	}
	store, err := openBenchStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	hc := graph.NewHTTPClient(emu.caPEM())
	w, err := wire(cfg, hc, newLogger(io.Discard, slog.LevelError))
	if err != nil {
		return err
	}
	if err := store.SyncTenants(ctx, tenantsOf(w.jobs)); err != nil {
		return err
	}
	col := &collect.Collector{Store: store, Graph: w.graph, Concurrency: *conc, Timeout: 10 * time.Minute}
	res := BenchResult{Tenants: *tenants, Concurrency: *conc, EmulatorInProcess: *inProcess}

	var jsonBytes atomic.Int64
	hooked := graph.WithBodyHook(ctx, func(_, _ string, b []byte) { jsonBytes.Add(int64(len(b))) })
	runOnce := func(c context.Context) (collect.Summary, time.Duration, int) {
		start := time.Now()
		s := col.Run(c, w.jobs)
		reqs := 0
		for _, r := range s.Results {
			reqs += r.Collection.Requests
		}
		res.FailedCollections += s.Failed + s.Skipped
		return s, time.Since(start), reqs
	}

	// 1. Backfill: every tenant's 90 days and control profiles.
	say("backfill: %d tenants, concurrency %d ...\n", *tenants, *conc)
	sum, took, _ := runOnce(hooked)
	if sum.Failed > 0 {
		return fmt.Errorf("bench: %d tenants failed the backfill: %v", sum.Failed, firstErr(sum))
	}
	res.BackfillSeconds = took.Seconds()
	res.BackfillTenantsPS = float64(*tenants) / took.Seconds()
	res.BackfillDays = sum.Days
	res.JSONBytes = jsonBytes.Load()
	res.JSONBytesPerDay = float64(res.JSONBytes) / float64(max(sum.Days, 1))
	size0, err := store.Size()
	if err != nil {
		return err
	}
	res.DBBytesPerDayFull = float64(size0) / float64(max(sum.Days, 1))
	say("  %.1f s, %.1f tenants/s, %d days, %.1f MB of JSON (%.0f KB per tenant-day), db %.0f B per tenant-day\n",
		res.BackfillSeconds, res.BackfillTenantsPS, sum.Days, float64(res.JSONBytes)/1e6, res.JSONBytesPerDay/1e3, res.DBBytesPerDayFull)

	// 2. The decode floor: the same bytes into the same structs, nothing else.
	floor, err := decodeFloor(ctx, w, min(*sample, *tenants), res.JSONBytes)
	if err != nil {
		return err
	}
	res.DecodeFloorSecs = floor.Seconds()
	res.BackfillVsFloor = res.BackfillSeconds / res.DecodeFloorSecs
	say("  decode floor %.1f s: backfill is %.2fx the floor (goal: within 2x)\n", res.DecodeFloorSecs, res.BackfillVsFloor)

	// 3. Daily incremental runs: one new day for every tenant.
	var incTotal time.Duration
	days := 0
	for i := 0; i < *steady; i++ {
		if err := emu.advance(1); err != nil {
			return err
		}
		s, took, _ := runOnce(ctx)
		incTotal += took
		days += s.Days
	}
	size1, err := store.Size()
	if err != nil {
		return err
	}
	res.IncrementalSeconds = incTotal.Seconds() / float64(*steady)
	res.IncrementalDays = days
	res.DBBytesPerDaySteady = float64(size1-size0) / float64(*tenants**steady)
	say("incremental: %.2f s per daily run (%d tenants), db growth %.0f B per tenant-day (goal: under 1 KB)\n",
		res.IncrementalSeconds, *tenants, res.DBBytesPerDaySteady)

	// 4. The same daily run with Graph latency, against the ideal.
	if *latency > 0 {
		if err := emu.setLatency(*latency); err != nil {
			return err
		}
		if err := emu.advance(1); err != nil {
			return err
		}
		_, took, reqs := runOnce(ctx)
		res.LatencyMS = int(latency.Milliseconds())
		res.LatencySeconds = took.Seconds()
		res.LatencyRequests = reqs
		// Ideal: every request's latency, spread over the tenants allowed
		// to run at once.
		res.LatencyIdealSecs = float64(reqs) * latency.Seconds() / float64(*conc)
		res.LatencyVsIdeal = res.LatencySeconds / res.LatencyIdealSecs
		say("latency %s: %.2f s for %d requests; ideal %.2f s (requests x latency / %d); %.2fx (goal: within 1.2x)\n",
			latency, res.LatencySeconds, reqs, res.LatencyIdealSecs, *conc, res.LatencyVsIdeal)
	}
	res.PeakRSSBytes = peakRSS()
	res.DatabaseBytesFinal, _ = store.Size()
	say("peak RSS %.0f MB (goal: under 300 MB)%s\n", float64(res.PeakRSSBytes)/1e6, map[bool]string{true: ", emulator included", false: ""}[*inProcess])
	if res.FailedCollections > 0 {
		say("warning: %d tenant collections failed during the benchmark\n", res.FailedCollections)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return nil
}

// benchStore is a store that says how large it is.
type benchStore interface {
	fleetscore.Store
	Size() (int64, error)
}

// openBenchStore opens the benchmark's database, which must be empty: the
// figures are those of a first backfill.
func openBenchStore(ctx context.Context, dsn string) (benchStore, error) {
	s, err := openStore(ctx, dsn)
	if err != nil {
		return nil, err
	}
	bs, ok := s.(benchStore)
	if !ok {
		s.Close()
		return nil, fmt.Errorf("bench: database %s cannot tell its size", redactDSN(dsn))
	}
	if ts, err := bs.Tenants(ctx); err != nil || len(ts) > 0 {
		s.Close()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("bench: database %s already holds %d tenants; give the benchmark an empty one", redactDSN(dsn), len(ts))
	}
	return bs, nil
}

func firstErr(s collect.Summary) error {
	for _, r := range s.Results {
		if r.Err != nil {
			return fmt.Errorf("%s: %w", r.Tenant.Name, r.Err)
		}
	}
	return nil
}

// decodeFloor re-reads a sample of tenants' pages (the same bytes the
// backfill decoded: the emulator is deterministic) and times decoding them
// alone with encoding/json into the client's structs; the time is scaled to
// all the backfill's bytes.
func decodeFloor(ctx context.Context, w *wiring, sample int, totalBytes int64) (time.Duration, error) {
	type body struct {
		scores bool
		data   []byte
	}
	var bodies []body
	var sampleBytes int64
	hook := graph.WithBodyHook(ctx, func(_, path string, b []byte) {
		bodies = append(bodies, body{scores: strings.HasSuffix(path, "secureScores"), data: bytes.Clone(b)})
		sampleBytes += int64(len(b))
	})
	var spent time.Duration
	for _, j := range w.jobs[:sample] {
		bodies = bodies[:0]
		if _, err := w.graph.SecureScores(hook, j.Target, 0); err != nil {
			return 0, err
		}
		if _, err := w.graph.ControlProfiles(hook, j.Target); err != nil {
			return 0, err
		}
		start := time.Now()
		for _, b := range bodies {
			var err error
			if b.scores {
				_, err = graph.DecodeSecureScores(b.data)
			} else {
				_, err = graph.DecodeControlProfiles(b.data)
			}
			if err != nil {
				return 0, err
			}
		}
		spent += time.Since(start)
	}
	if sampleBytes == 0 {
		return 0, fmt.Errorf("decode floor: no bytes read")
	}
	return time.Duration(float64(spent) * float64(totalBytes) / float64(sampleBytes)), nil
}

// peakRSS is the process's high-water resident set size.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

type inProcessEmulator struct{ *emulated }

func startInProcess(dir string, tenants int, seed int64, conc int) (benchEmulator, error) {
	em, err := startEmulated(emulatedOptions{dir: dir, tenants: tenants, seed: seed, concurrency: conc})
	if err != nil {
		return nil, err
	}
	return inProcessEmulator{em}, nil
}

func (p inProcessEmulator) configPath() string { return p.emulated.configPath }
func (p inProcessEmulator) caPEM() []byte      { return p.emu.CACertPEM() }
func (p inProcessEmulator) advance(n int) error {
	p.offset.Add(int64(n))
	return nil
}
func (p inProcessEmulator) setLatency(d time.Duration) error {
	p.emulated.setLatency(d)
	return nil
}

// childEmulator is `fleetscore emulator --control` in another process.
type childEmulator struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	ready  emulatorReady
	caData []byte
}

func startChild(ctx context.Context, dir string, tenants int, seed int64, conc int) (benchEmulator, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "emulator", "--control", "--tenants", strconv.Itoa(tenants),
		"--seed", strconv.FormatInt(seed, 10), "--dir", filepath.Join(dir, "emulator"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &childEmulator{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	if !c.out.Scan() {
		c.Close()
		return nil, fmt.Errorf("the emulator process exited before it was ready")
	}
	if err := json.Unmarshal(c.out.Bytes(), &c.ready); err != nil {
		c.Close()
		return nil, fmt.Errorf("emulator said %q: %w", c.out.Text(), err)
	}
	if c.caData, err = os.ReadFile(c.ready.CAFile); err != nil {
		c.Close()
		return nil, err
	}
	// The child wrote its config with the default concurrency; the bench's
	// own collector sets concurrency itself.
	_ = conc
	return c, nil
}

func (c *childEmulator) configPath() string { return c.ready.Config }
func (c *childEmulator) caPEM() []byte      { return c.caData }
func (c *childEmulator) say(line string) error {
	if _, err := fmt.Fprintln(c.in, line); err != nil {
		return err
	}
	if !c.out.Scan() {
		return fmt.Errorf("the emulator process stopped")
	}
	if got := c.out.Text(); got != "ok" {
		return fmt.Errorf("emulator: %s", got)
	}
	return nil
}
func (c *childEmulator) advance(n int) error              { return c.say(fmt.Sprintf("advance %d", n)) }
func (c *childEmulator) setLatency(d time.Duration) error { return c.say("latency " + d.String()) }
func (c *childEmulator) Close() error {
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		return <-done
	}
}
