package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/storetest"
)

// The read goals of issue 17, beside which bench --serve prints its figures.
const (
	serveGoalP99     = 100 * time.Millisecond
	serveGoalRate    = 200.0 // requests/s with 8 clients
	serveGoalFastP50 = 20 * time.Millisecond
	serveGoalRSS     = 200 << 20
	serveGoalModel   = 150 << 20 // the fleet model's heap at 10,000 tenants x 365 days
)

// serveFast are the routes with the 20 ms p50 goal.
var serveFast = map[string]bool{"/": true, "/api/v1/tenants": true, "/metrics": true}

// routeFigures is one route's result.
type routeFigures struct {
	Route    string  `json:"route"`
	Status   int     `json:"status"`
	FirstMs  float64 `json:"first_ms"` // the first request, which may build the model
	Requests int     `json:"requests"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	PerSec   float64 `json:"requests_per_second"`
	// The server's peak resident memory while this route was loaded
	// (VmHWM, reset before the route where the kernel allows it).
	PeakRSS int64   `json:"peak_rss_bytes"`
	CPUMs   float64 `json:"cpu_ms_per_request"` // the server's CPU time (user+system) per request: with --in-process, the clients' too
	Goal    string  `json:"goal"`
	Met     bool    `json:"met"`
}

type serveResult struct {
	Database string         `json:"database"`
	Tenants  int            `json:"tenants"`
	Days     int            `json:"days"`
	FillSec  float64        `json:"fill_seconds,omitempty"`
	Clients  int            `json:"clients"`
	Routes   []routeFigures `json:"routes"`
	// After one request to every route (the warm-up, which builds the
	// fleet model and whatever the routes cache): the live heap less the
	// heap before the server, and this process's resident memory then.
	WarmHeapBytes    int64 `json:"warm_heap_bytes"`
	WarmRSSBytes     int64 `json:"warm_rss_bytes"`
	WarmRSSAnonBytes int64 `json:"warm_rss_anon_bytes"`
	// After the load: the live heap less the heap before the server.
	ModelBytes int64 `json:"fleet_model_heap_bytes"`
	PeakRSS    int64 `json:"peak_rss_bytes"`
	// WarmPeakRSS is the peak during the warm-up, which builds the fleet
	// model; PeakRSS the peak under the load after it (the same when the
	// kernel does not let the peak be reset).
	WarmPeakRSS int64 `json:"warm_peak_rss_bytes"`
	// Server is whose figures these are: the server's process, or with
	// --in-process the bench's (server and clients).
	Server string `json:"server"`
}

// cmdBenchServe is `fleetscore bench --serve`: it fills a store through
// the store (storetest's generator) unless it holds tenants already, serves
// it in this process and loads every GET route with concurrent clients.
func cmdBenchServe(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench --serve", "[--tenants N] [--days N] [--database DSN] [--clients N] [--duration D] [--routes LIST] [--memprofile FILE] [--cpuprofile FILE] [--json]")
	fs.Bool("serve", true, "benchmark the read side (pages, API, /metrics) instead of a backfill")
	tenants := fs.Int("tenants", 1000, "tenants to fill an empty database with")
	days := fs.Int("days", 1095, "days of history per tenant to fill with")
	database := fs.String("database", "", "the database to read (filled first when it holds no tenant); default a SQLite file in --dir")
	dir := fs.String("dir", "", "working folder for the default SQLite file (default: a temporary one, removed afterwards)")
	clients := fs.Int("clients", 8, "concurrent clients")
	duration := fs.Duration("duration", 3*time.Second, "load time per route")
	only := fs.String("routes", "", "comma-separated route patterns to load (default: every GET route)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	memProfile := fs.String("memprofile", "", "write a heap profile taken after the warm-up (one request to each route) to this file (implies --in-process)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load (after the warm-up) to this file (implies --in-process)")
	inProcess := fs.Bool("in-process", false, "serve in this process (the CPU and memory figures then include the clients'); default: a child process")
	child := fs.Bool("server-child", false, "(internal) be the server process of another bench --serve")
	dataNow := fs.String("data-now", "", "(internal) the data's today, for --server-child")
	if done, err := parse(fs, args); done {
		return err
	}
	if *child {
		return runServerChild(ctx, e, *database, *dataNow)
	}
	if *tenants < 1 || *days < 1 || *clients < 1 || *duration <= 0 {
		return errors.New("bench --serve: --tenants, --days, --clients and --duration must be positive")
	}
	say := func(format string, a ...any) {
		if !*asJSON {
			fmt.Fprintf(e.stdout, format, a...)
		}
	}
	dsn := *database
	if dsn == "" {
		work := *dir
		if work == "" {
			d, err := os.MkdirTemp("", "fleetscore-bench-serve-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(d)
			work = d
		}
		dsn = "sqlite:" + filepath.Join(work, "fleetscore.db")
	}
	st, src, err := openServeSource(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	res := serveResult{Database: redactDSN(dsn), Clients: *clients}
	ts, err := src.Tenants(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if len(ts) == 0 {
		say("filling %s with %d tenants x %d days...\n", res.Database, *tenants, *days)
		start := time.Now()
		if err := storetest.Fill(ctx, st, *tenants, *days, now, nil); err != nil {
			return err
		}
		res.FillSec = time.Since(start).Seconds()
		if ts, err = src.Tenants(ctx); err != nil {
			return err
		}
	}
	res.Tenants = len(ts)
	if len(ts) == 0 {
		return errors.New("bench --serve: no tenants")
	}
	// The data's today is the newest snapshot's day, so that a dataset
	// built earlier reads as it did then.
	var newest fleetscore.Day
	for _, t := range ts {
		if t.Latest != nil && t.Latest.Day.After(newest) {
			newest = t.Latest.Day
		}
	}
	if !newest.IsZero() {
		now = newest.Time().Add(12 * time.Hour)
		if first, err := src.Scores(ctx, ts[0].ID, fleetscore.Day{}, fleetscore.DayOf(now)); err == nil && len(first) > 0 {
			res.Days = newest.Sub(first[0].Day) + 1
		}
	}

	bs, err := newBenchServer(ctx, src, dsn, now, *inProcess || *cpuProfile != "" || *memProfile != "")
	if err != nil {
		return err
	}
	defer bs.Close()
	base := bs.url()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients}, Timeout: 5 * time.Minute}

	control := ""
	if cs, err := src.LatestControls(ctx); err == nil {
		for _, c := range cs[ts[0].ID] {
			control = c.Name
			break
		}
	}
	routes := serveRoutes(control)
	if *only != "" {
		want := strings.Split(*only, ",")
		routes = slices.DeleteFunc(routes, func(r string) bool { return !slices.Contains(want, r) })
	}
	var n atomic.Int64
	// Each request reads the next tenant, so that one tenant's reads are
	// not all served from the same pages of the database.
	urlOf := func(pattern string) func() string {
		return func() string {
			i := int(n.Add(1)) % len(ts)
			return base + strings.ReplaceAll(pattern, "{id}", ts[i].ID)
		}
	}
	// The warm-up: every route's first request, in order, before any load.
	firsts := make([]routeFigures, len(routes))
	for i, pattern := range routes {
		firsts[i] = routeFigures{Route: pattern}
		d, status := getOnce(ctx, client, urlOf(pattern)())
		firsts[i].FirstMs, firsts[i].Status = ms(d), status
	}
	if len(routes) > 0 {
		res.WarmHeapBytes = bs.heap()
		res.WarmRSSBytes, res.WarmRSSAnonBytes = bs.status("VmRSS:"), bs.status("RssAnon:")
		res.WarmPeakRSS = bs.status("VmHWM:")
		say("after one request to each route: heap %.1f MB more than before the server (the fleet model and the routes' caches; goal at 10,000 x 365: < 150 MB): %s; RSS of %s %.1f MB (anonymous %.1f MB)\n",
			float64(res.WarmHeapBytes)/(1<<20), metWord(res.WarmHeapBytes < serveGoalModel),
			bs.who(), float64(res.WarmRSSBytes)/(1<<20), float64(res.WarmRSSAnonBytes)/(1<<20))
		if *memProfile != "" {
			if err := writeHeapProfile(*memProfile); err != nil {
				return err
			}
		}
	}
	stopCPU, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	var loadPeak int64 // 0: the peak could not be reset
	for i, pattern := range routes {
		reset := bs.resetPeak()
		f := loadRoute(ctx, client, bs, firsts[i], urlOf(pattern), *clients, *duration)
		f.PeakRSS = bs.status("VmHWM:")
		if reset {
			loadPeak = max(loadPeak, f.PeakRSS)
		}
		say("%-36s %3d  first %8.1f ms  p50 %7.1f ms  p99 %7.1f ms  %7.0f req/s  cpu %6.2f ms/req  rss %6.1f MB  goal %s: %s\n",
			f.Route, f.Status, f.FirstMs, f.P50Ms, f.P99Ms, f.PerSec, f.CPUMs, float64(f.PeakRSS)/(1<<20), f.Goal, metWord(f.Met))
		res.Routes = append(res.Routes, f)
	}
	stopCPU()
	res.ModelBytes = bs.heap()
	res.PeakRSS = bs.status("VmHWM:")
	if loadPeak > 0 {
		res.PeakRSS = loadPeak
	}
	res.Server = bs.who()
	say("heap after the load %.1f MB more than before the server\n", float64(res.ModelBytes)/(1<<20))
	say("peak RSS under the load %.1f MB (%s; goal < %d MB): %s; during the warm-up, which builds the model: %.1f MB\n",
		float64(res.PeakRSS)/(1<<20), bs.who(), serveGoalRSS>>20, metWord(res.PeakRSS < serveGoalRSS), float64(res.WarmPeakRSS)/(1<<20))
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return nil
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// serveRoutes are the GET routes of server/routes.go that answer with the
// server bench --serve starts (no alerts, exceptions or campaigns books),
// and /metrics; {id} is a tenant.
func serveRoutes(control string) []string {
	return []string{
		"/", "/tenants/{id}", "/tenants/{id}/report", "/actions", "/actions/" + control, "/collections",
		"/api/v1/tenants", "/api/v1/tenants/{id}", "/api/v1/tenants/{id}/scores", "/api/v1/tenants/{id}/controls",
		"/api/v1/tenants/{id}/changes", "/api/v1/changes", "/api/v1/actions", "/api/v1/actions/" + control,
		"/api/v1/fleet", "/api/v1/collections", "/api/v1/collect", "/api/v1/openapi.json", "/metrics",
	}
}

// getOnce sends one GET and reads the answer: its time and status (0 when
// it had none).
func getOnce(ctx context.Context, c *http.Client, url string) (time.Duration, int) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, 0
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		return time.Since(start), 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode
}

// loadRoute loads f's route with clients for d; f holds its first request's
// figures (the warm-up's).
func loadRoute(ctx context.Context, c *http.Client, bs benchServer, f routeFigures, url func() string, clients int, d time.Duration) routeFigures {
	route := f.Route
	get := func() (time.Duration, int) { return getOnce(ctx, c, url()) }
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	cpu0 := bs.cpu()
	start := time.Now()
	end := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(end) && ctx.Err() == nil {
				l, _ := get()
				mine = append(mine, l)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu := bs.cpu() - cpu0
	slices.Sort(lats)
	f.Requests = len(lats)
	if len(lats) > 0 {
		f.P50Ms = ms(lats[len(lats)/2])
		f.P99Ms = ms(lats[min(len(lats)-1, len(lats)*99/100)])
		f.PerSec = float64(len(lats)) / wall.Seconds()
		f.CPUMs = ms(cpu) / float64(len(lats))
	}
	f.Goal = fmt.Sprintf("p99 < %d ms, >= %.0f req/s", serveGoalP99.Milliseconds(), serveGoalRate)
	f.Met = f.Status == http.StatusOK && f.P99Ms < ms(serveGoalP99) && f.PerSec >= serveGoalRate
	if serveFast[route] {
		f.Goal += fmt.Sprintf(", p50 < %d ms", serveGoalFastP50.Milliseconds())
		f.Met = f.Met && f.P50Ms < ms(serveGoalFastP50)
	}
	return f
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeHeapProfile writes the live heap's profile (after a collection).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	return errors.Join(pprof.WriteHeapProfile(f), f.Close())
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
