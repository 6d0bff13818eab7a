package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// BenchResult is what `fleetscore bench --json` prints. CPU figures are
// this process's user+system seconds (getrusage): with the emulator in its
// own process (the default) they are the collector's alone, and contention
// on a shared machine disturbs them less than wall time.
type BenchResult struct {
	Tenants     int `json:"tenants"`
	Concurrency int `json:"concurrency"`

	BackfillSeconds    float64 `json:"backfill_seconds"`
	BackfillCPUSeconds float64 `json:"backfill_cpu_seconds"`
	BackfillTenantsPS  float64 `json:"backfill_tenants_per_second"`
	BackfillDays       int     `json:"backfill_days"`
	JSONBytes          int64   `json:"json_bytes"`
	JSONBytesPerDay    float64 `json:"json_bytes_per_tenant_day"`
	// The floor: CPU seconds of decoding every byte the backfill read with
	// encoding/json into the client's structs, at the same concurrency, in
	// the same run (minus the CPU of reading those bytes back alone).
	DecodeFloorSecs   float64 `json:"decode_floor_cpu_seconds"`
	BackfillVsFloor   float64 `json:"backfill_cpu_vs_decode_floor"`
	DBBytesPerDayFull float64 `json:"db_bytes_per_tenant_day_after_backfill"`

	IncrementalSeconds    float64 `json:"incremental_seconds"`
	IncrementalCPUSeconds float64 `json:"incremental_cpu_seconds"`
	IncrementalDays       int     `json:"incremental_days"`
	SteadyDays            int     `json:"steady_days"`
	DBBytesPerDaySteady   float64 `json:"db_bytes_per_tenant_day_steady"`
	// Over the last 30 simulated days (when there are at least 60).
	DBBytesPerDayLast30 float64 `json:"db_bytes_per_tenant_day_last_30,omitempty"`

	LatencyMS        int     `json:"latency_ms"`
	LatencySeconds   float64 `json:"latency_incremental_seconds"`
	LatencyRequests  int     `json:"latency_requests"`
	LatencyCritical  int     `json:"latency_critical_path_requests"`
	LatencyIdealSecs float64 `json:"latency_ideal_seconds"`
	LatencyVsIdeal   float64 `json:"latency_vs_ideal"`
	LatencyTokens    int     `json:"latency_token_requests"`

	PeakRSSBytes       int64 `json:"peak_rss_bytes"`
	FailedCollections  int   `json:"failed_collections"`
	EmulatorInProcess  bool  `json:"emulator_in_process"`
	DatabaseBytesFinal int64 `json:"database_bytes_final"`
}

func cmdBench(ctx context.Context, e env, args []string) error {
	if slices.Contains(args, "--serve") {
		return cmdBenchServe(ctx, e, args) // bench_serve.go: the read side
	}
	fs := newFlags(e, "bench", "[--tenants N] [--concurrency N] [--latency D] [--steady-days N] [--database DSN] [--json]")
	tenants := fs.Int("tenants", 200, "emulated tenants to backfill (the record run uses 1000)")
	conc := fs.Int("concurrency", 8, "tenants collected at once (the config's concurrency)")
	latency := fs.Duration("latency", 300*time.Millisecond, "emulated Graph latency per request in the last phase (0 skips it)")
	steady := fs.Int("steady-days", 365, "simulated daily collections after the backfill, for the steady-state bytes per tenant-day")
	fs.Int("floor-sample", 0, "deprecated and ignored: the decode floor now decodes every byte of the backfill")
	seed := fs.Int64("seed", 7, "seed of the emulated tenants")
	dir := fs.String("dir", "", "working folder (default: a temporary one, removed afterwards)")
	inProcess := fs.Bool("in-process", false, "run the emulator in this process (the RSS and CPU figures then include it)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the backfill to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile of the backfill, taken when its live heap was largest, to this file")
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
	tokens := &tokenCounter{next: hc.Transport}
	hc.Transport = tokens
	w, err := wire(cfg, hc, newLogger(io.Discard, slog.LevelError))
	if err != nil {
		return err
	}
	if err := store.SyncTenants(ctx, tenantsOf(w.jobs)); err != nil {
		return err
	}
	col := &collect.Collector{Store: store, Graph: w.graph, Concurrency: *conc, Timeout: 10 * time.Minute}
	res := BenchResult{Tenants: *tenants, Concurrency: *conc, EmulatorInProcess: *inProcess, SteadyDays: *steady}

	runOnce := func(c context.Context) (collect.Summary, time.Duration, float64, int) {
		start, cpu0 := time.Now(), cpuSeconds()
		s := col.Run(c, w.jobs)
		reqs := 0
		for _, r := range s.Results {
			reqs += r.Collection.Requests
		}
		res.FailedCollections += s.Failed + s.Skipped
		return s, time.Since(start), cpuSeconds() - cpu0, reqs
	}

	// 1. Backfill: every tenant's 90 days and control profiles.
	say("backfill: %d tenants, concurrency %d ...\n", *tenants, *conc)
	stopCPU, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	var heapPeak *heapSampler
	if *memProfile != "" {
		heapPeak = startHeapSampler()
	}
	var jsonBytes atomic.Int64
	sum, took, cpu, _ := runOnce(graph.WithPageSize(ctx, func(_, _ string, n int64) { jsonBytes.Add(n) }))
	stopCPU()
	if heapPeak != nil {
		if err := heapPeak.stop(*memProfile); err != nil {
			return err
		}
	}
	if sum.Failed > 0 {
		return fmt.Errorf("bench: %d tenants failed the backfill: %v", sum.Failed, firstErr(sum))
	}
	res.BackfillSeconds = took.Seconds()
	res.BackfillCPUSeconds = cpu
	res.BackfillTenantsPS = float64(*tenants) / took.Seconds()
	res.BackfillDays = sum.Days
	res.JSONBytes = jsonBytes.Load()
	res.JSONBytesPerDay = float64(res.JSONBytes) / float64(max(sum.Days, 1))
	size0, err := store.Size()
	if err != nil {
		return err
	}
	res.DBBytesPerDayFull = float64(size0) / float64(max(sum.Days, 1))
	// The collector's peak RSS leaves out the floor's own pages and decode.
	peak := peakRSS()
	say("  %.1f s wall, %.2f CPU s, %.1f tenants/s, %d days, %.1f MB of JSON (%.0f KB per tenant-day), db %.0f B per tenant-day\n",
		res.BackfillSeconds, res.BackfillCPUSeconds, res.BackfillTenantsPS, sum.Days, float64(res.JSONBytes)/1e6, res.JSONBytesPerDay/1e3, res.DBBytesPerDayFull)

	// 2. The decode floor: the same bytes into the same structs with
	// encoding/json, nothing else, at the same concurrency. The pages are
	// read again (the emulator is deterministic and its clock has not
	// moved) into a spool file, outside any measure, then decoded.
	sp, err := newSpool(filepath.Join(work, "pages.spool"))
	if err != nil {
		return err
	}
	defer sp.remove()
	if err := spoolPages(ctx, w, *conc, sp); err != nil {
		return err
	}
	if sp.bytes != res.JSONBytes {
		return fmt.Errorf("bench: the backfill read %d bytes of JSON but reading them again gave %d: the emulator's answers changed", res.JSONBytes, sp.bytes)
	}
	floor, err := decodeFloor(sp.path, *conc)
	if err != nil {
		return err
	}
	res.DecodeFloorSecs = floor
	debug.FreeOSMemory() // what the floor allocated, so that it is not counted below
	resetPeakRSS()
	res.BackfillVsFloor = res.BackfillCPUSeconds / max(floor, 1e-9)
	say("  decode floor %.2f CPU s (encoding/json, all %.1f MB, %d at once): backfill CPU is %.2fx the floor (goal: under 1x)\n",
		floor, float64(res.JSONBytes)/1e6, *conc, res.BackfillVsFloor)

	// 3. Daily collections through the emulator's clock: one new day for
	// every tenant each time, profiles and all, as in production. No
	// VACUUM is run: PostgreSQL's size is what its autovacuum leaves.
	var incTotal time.Duration
	var incCPU float64
	days := 0
	var sizeAt30 int64
	for i := 0; i < *steady; i++ {
		if *steady >= 60 && i == *steady-30 {
			if sizeAt30, err = store.Size(); err != nil {
				return err
			}
		}
		if err := emu.advance(1); err != nil {
			return err
		}
		s, took, cpu, _ := runOnce(ctx)
		incTotal += took
		incCPU += cpu
		days += s.Days
	}
	size1, err := store.Size()
	if err != nil {
		return err
	}
	res.IncrementalSeconds = incTotal.Seconds() / float64(*steady)
	res.IncrementalCPUSeconds = incCPU / float64(*steady)
	res.IncrementalDays = days
	res.DBBytesPerDaySteady = float64(size1-size0) / float64(*tenants**steady)
	say("steady state: %d daily collections, %.2f s and %.2f CPU s each (%d tenants); db growth %.0f B per tenant-day (goal: under 1 KB)\n",
		*steady, res.IncrementalSeconds, res.IncrementalCPUSeconds, *tenants, res.DBBytesPerDaySteady)
	if sizeAt30 > 0 {
		res.DBBytesPerDayLast30 = float64(size1-sizeAt30) / float64(*tenants*30)
		say("  over the last 30 days: %.0f B per tenant-day (goal: under 1 KB)\n", res.DBBytesPerDayLast30)
	}

	// 4. The same daily run with Graph latency, against the ideal: each
	// tenant's critical path (its secureScores pages in parallel with the
	// chain of its profile pages: the longer, in requests) x latency,
	// summed over tenants and spread over the tenants run at once.
	if *latency > 0 {
		if err := emu.setLatency(*latency); err != nil {
			return err
		}
		if err := emu.advance(1); err != nil {
			return err
		}
		var chains pageChains
		tokens0 := tokens.n.Load()
		_, took, _, reqs := runOnce(graph.WithPageSize(ctx, chains.hook))
		res.LatencyTokens = int(tokens.n.Load() - tokens0)
		crit, longest := chains.critical()
		res.LatencyMS = int(latency.Milliseconds())
		res.LatencySeconds = took.Seconds()
		res.LatencyRequests = reqs
		res.LatencyCritical = crit
		// No schedule beats the longest single tenant either.
		res.LatencyIdealSecs = max(float64(crit)/float64(*conc), float64(longest)) * latency.Seconds()
		res.LatencyVsIdeal = res.LatencySeconds / res.LatencyIdealSecs
		say("latency %s: %.2f s for %d requests; ideal %.2f s (%d critical-path requests x latency / %d); %.2fx (goal: within 1.2x)\n",
			latency, res.LatencySeconds, reqs, res.LatencyIdealSecs, crit, *conc, res.LatencyVsIdeal)
		// A token is cached for its hour: a run within the hour after the
		// backfill asks Entra for none, and the emulator adds no latency
		// to Entra, so the ideal counts no token round trip.
		say("  %d token requests to Entra during it (cached tokens; the emulator adds no latency to Entra)\n", res.LatencyTokens)
	}
	res.PeakRSSBytes = max(peak, peakRSS())
	res.DatabaseBytesFinal, _ = store.Size()
	say("peak RSS %.0f MB, the decode floor's phase left out (goal: under 300 MB)%s\n", float64(res.PeakRSSBytes)/1e6, map[bool]string{true: ", emulator included", false: ""}[*inProcess])
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

// heapSampler keeps the heap profile of the moment the live heap (as of the
// last GC) was largest, polled every 100 ms.
type heapSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	best bytes.Buffer
	live uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > h.live {
				h.live = live
				h.best.Reset()
				_ = pprof.Lookup("heap").WriteTo(&h.best, 0)
			}
		}
	}()
	return h
}

// stop ends the sampling and writes the largest heap's profile to path.
func (h *heapSampler) stop(path string) error {
	close(h.done)
	h.wg.Wait()
	return os.WriteFile(path, h.best.Bytes(), 0o644)
}

// cpuSeconds is this process's CPU time so far, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// spool keeps every page the backfill read, in a file: one kind byte (s for
// secureScores, p for profiles), a 4-byte length, the body.
type spool struct {
	path  string
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	bytes int64
	err   error
}

func newSpool(path string) (*spool, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &spool{path: path, f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (s *spool) hook(_, path string, body []byte) {
	var head [5]byte
	head[0] = 'p'
	if strings.HasSuffix(path, "secureScores") {
		head[0] = 's'
	}
	binary.LittleEndian.PutUint32(head[1:], uint32(len(body)))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += int64(len(body))
	if s.err == nil {
		if _, s.err = s.w.Write(head[:]); s.err == nil {
			_, s.err = s.w.Write(body)
		}
	}
}

func (s *spool) close() error {
	err := errors.Join(s.err, s.w.Flush(), s.f.Close())
	if err != nil {
		return fmt.Errorf("bench: spool of the backfill's pages: %w", err)
	}
	return nil
}

func (s *spool) remove() { os.Remove(s.path) }

// spoolPages reads every tenant's pages again, conc tenants at once, into sp.
func spoolPages(ctx context.Context, w *wiring, conc int, sp *spool) error {
	hooked := graph.WithBodyHook(ctx, sp.hook)
	jobs := make(chan graph.Target)
	errs := make(chan error, conc)
	for range conc {
		go func() {
			var err error
			for t := range jobs {
				if err != nil {
					continue
				}
				if _, err = w.graph.SecureScores(hooked, t, 0); err == nil {
					_, err = w.graph.ControlProfiles(hooked, t)
				}
			}
			errs <- err
		}()
	}
	for _, j := range w.jobs {
		jobs <- j.Target
	}
	close(jobs)
	var err error
	for range conc {
		err = errors.Join(err, <-errs)
	}
	return errors.Join(err, sp.close())
}

// decodeFloor is the CPU seconds of decoding every spooled page with
// encoding/json at conc at once: a pass that decodes less a pass that only
// reads the pages back, so that reading the file is not counted.
func decodeFloor(path string, conc int) (float64, error) {
	pass := func(decode bool) (float64, error) {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		type page struct {
			scores bool
			data   []byte
		}
		pages := make(chan page, conc)
		errs := make(chan error, conc)
		var wg sync.WaitGroup
		cpu0 := cpuSeconds()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				for p := range pages {
					if !decode || err != nil {
						continue
					}
					if p.scores {
						_, err = graph.DecodeSecureScores(p.data)
					} else {
						_, err = graph.DecodeControlProfiles(p.data)
					}
				}
				errs <- err
			}()
		}
		r := bufio.NewReaderSize(f, 1<<20)
		var readErr error
		for {
			var head [5]byte
			if _, readErr = io.ReadFull(r, head[:]); readErr != nil {
				break
			}
			data := make([]byte, binary.LittleEndian.Uint32(head[1:]))
			if _, readErr = io.ReadFull(r, data); readErr != nil {
				break
			}
			pages <- page{scores: head[0] == 's', data: data}
		}
		close(pages)
		wg.Wait()
		cpu := cpuSeconds() - cpu0
		close(errs)
		for err := range errs {
			if err != nil {
				return 0, fmt.Errorf("decode floor: %w", err)
			}
		}
		if readErr != io.EOF {
			return 0, fmt.Errorf("decode floor: read the spool: %w", readErr)
		}
		return cpu, nil
	}
	read, err := pass(false)
	if err != nil {
		return 0, err
	}
	both, err := pass(true)
	if err != nil {
		return 0, err
	}
	return max(both-read, 0), nil
}

// pageChains counts each tenant's pages of the two chains a collection runs
// side by side.
type pageChains struct {
	mu     sync.Mutex
	counts map[string]*[2]int // tenant -> secureScores pages, profile pages
}

func (c *pageChains) hook(tenant, path string, _ int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]*[2]int{}
	}
	n := c.counts[strings.ToLower(tenant)]
	if n == nil {
		n = new([2]int)
		c.counts[strings.ToLower(tenant)] = n
	}
	if strings.HasSuffix(path, "secureScores") {
		n[0]++
	} else {
		n[1]++
	}
}

// critical is the sum over tenants of the longer chain, and the longest.
func (c *pageChains) critical() (sum, longest int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.counts {
		l := max(n[0], n[1])
		sum += l
		longest = max(longest, l)
	}
	return sum, longest
}

// tokenCounter counts the token requests to Entra.
type tokenCounter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (t *tokenCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		t.n.Add(1)
	}
	return t.next.RoundTrip(r)
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

// resetPeakRSS starts peakRSS again from the current RSS (Linux's
// clear_refs; where it cannot, the peak stays the whole run's).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the process's high-water resident set size.
func peakRSS() int64 { return procStatus("VmHWM:") }

// procStatus is the bytes of a kB field of /proc/self/status, such as
// "VmRSS:" (0 where there is none).
func procStatus(field string) int64 { return statusField("/proc/self/status", field) }

// statusField is the bytes of a kB field of a /proc status file.
func statusField(path, field string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
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
	c := &childEmulator{}
	var err error
	c.cmd, c.in, c.out, err = startLineChild(ctx, &c.ready, "emulator", "--control", "--tenants", strconv.Itoa(tenants),
		"--seed", strconv.FormatInt(seed, 10), "--dir", filepath.Join(dir, "emulator"))
	if err != nil {
		return nil, fmt.Errorf("the emulator process: %w", err)
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

// startCPUProfile starts a CPU profile to path ("": none); stop ends it
// and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// startLineChild starts this binary with args as a child that talks in
// lines: it reads its first line, JSON, into ready, and leaves the rest
// of its output to out; the child stops when in is closed
// (stopLineChild).
func startLineChild(ctx context.Context, ready any, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	out := bufio.NewScanner(outPipe)
	if !out.Scan() {
		stopLineChild(cmd, in, time.Second)
		return nil, nil, nil, errors.New("it exited before it was ready")
	}
	if err := json.Unmarshal(out.Bytes(), ready); err != nil {
		stopLineChild(cmd, in, time.Second)
		return nil, nil, nil, fmt.Errorf("it said %q: %w", out.Text(), err)
	}
	return cmd, in, out, nil
}

// stopLineChild closes a line child's input and waits for it to exit,
// killing it after wait.
func stopLineChild(cmd *exec.Cmd, in io.WriteCloser, wait time.Duration) error {
	in.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		return <-done
	}
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
func (c *childEmulator) Close() error                     { return stopLineChild(c.cmd, c.in, 5*time.Second) }
