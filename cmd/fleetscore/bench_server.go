package main

// The server bench --serve loads: by default `fleetscore bench --serve
// --server-child` in another process, so that the figures it prints of
// the server (CPU per request, resident memory, heap) are the server's
// alone, not its clients' too; with --in-process, in the bench's own
// process (for --cpuprofile and --memprofile).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/server"
)

// benchServer is the server under load, as the bench measures it.
type benchServer interface {
	url() string
	cpu() time.Duration        // its CPU time (user and system) so far
	heap() int64               // its live heap less the heap before the server
	status(field string) int64 // a kB field of its /proc status (VmRSS:, RssAnon:, VmHWM:), in bytes
	who() string               // what the figures cover, for the printout
	resetPeak() bool           // resets its peak RSS (VmHWM); false where the kernel does not let it
	Close() error
}

// newBenchServer is the server the bench loads (the store's fleet views
// served as `fleetscore serve` serves them, with a collector that never
// runs), with the
// data's today at now.
func newBenchServer(ctx context.Context, src query.Source, dsn string, now time.Time, inProcess bool) (benchServer, error) {
	if !inProcess {
		return startServerChild(ctx, dsn, now)
	}
	before := heapInUse()
	hs, addr, err := listenBench(src, now)
	if err != nil {
		return nil, err
	}
	return &ownServer{hs: hs, base: "http://" + addr, before: before}, nil
}

// listenBench serves the fleet views of src on a loopback port.
func listenBench(src query.Source, now time.Time) (*http.Server, string, error) {
	// A runner that never runs, as serve's between runs: the pages show
	// its panel, GET /api/v1/collect its status, and nothing collects.
	runner := &collect.Runner{Jobs: func() []collect.Job { return nil }}
	srv, err := server.New(server.Options{Source: src, Runner: runner, Version: version, Now: time.Now, DataNow: func() time.Time { return now }})
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return hs, ln.Addr().String(), nil
}

// ownServer is the server in the bench's process.
type ownServer struct {
	hs     *http.Server
	base   string
	before int64
}

func (s *ownServer) url() string               { return s.base }
func (s *ownServer) cpu() time.Duration        { return cpuTime() }
func (s *ownServer) heap() int64               { return heapInUse() - s.before }
func (s *ownServer) status(field string) int64 { return procStatus(field) }
func (s *ownServer) who() string               { return "this process: server and clients" }
func (s *ownServer) resetPeak() bool           { return clearPeak("/proc/self/clear_refs") }
func (s *ownServer) Close() error              { return s.hs.Close() }

// childServer is `fleetscore bench --serve --server-child` in another
// process. It says its address and heap on a line of JSON, then answers
// each line "heap" with its live heap, and exits when its input closes.
type childServer struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	ready childReady
}

type childReady struct {
	Addr string `json:"addr"`
	Heap int64  `json:"heap"` // the live heap before the server
}

func startServerChild(ctx context.Context, dsn string, now time.Time) (*childServer, error) {
	c := &childServer{}
	var err error
	c.cmd, c.in, c.out, err = startLineChild(ctx, &c.ready, "bench", "--serve", "--server-child", "--database", dsn,
		"--data-now", now.UTC().Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("the server process: %w", err)
	}
	return c, nil
}

// openServeSource opens the store of dsn as a source of the fleet views.
func openServeSource(ctx context.Context, dsn string) (fleetscore.Store, query.Source, error) {
	st, err := openStore(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	src, ok := st.(query.Source)
	if !ok {
		st.Close()
		return nil, nil, fmt.Errorf("bench --serve: database %s cannot serve the fleet views", redactDSN(dsn))
	}
	return st, src, nil
}

func (c *childServer) url() string { return "http://" + c.ready.Addr }
func (c *childServer) who() string { return "the server's process" }
func (c *childServer) resetPeak() bool {
	return clearPeak(fmt.Sprintf("/proc/%d/clear_refs", c.cmd.Process.Pid))
}

// clearPeak resets a process's VmHWM to its current RSS (writing 5 to
// its clear_refs, Linux 4.0 on; the process's owner or root).
func clearPeak(path string) bool { return os.WriteFile(path, []byte("5"), 0) == nil }

func (c *childServer) heap() int64 {
	if _, err := fmt.Fprintln(c.in, "heap"); err != nil || !c.out.Scan() {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(c.out.Text()), 10, 64)
	return n - c.ready.Heap
}

func (c *childServer) status(field string) int64 {
	return statusField(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid), field)
}

// cpu is the child's user and system time from /proc/PID/stat (fields 14
// and 15, in the kernel's USER_HZ of 100 a second).
func (c *childServer) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from its ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}

func (c *childServer) Close() error { return stopLineChild(c.cmd, c.in, 10*time.Second) }

// runServerChild is the child's side: it serves the store's fleet views
// until its input closes.
func runServerChild(ctx context.Context, e env, dsn, dataNow string) error {
	now, err := time.Parse(time.RFC3339, dataNow)
	if err != nil {
		return fmt.Errorf("bench --server-child: --data-now: %w", err)
	}
	st, src, err := openServeSource(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	before := heapInUse()
	hs, addr, err := listenBench(src, now)
	if err != nil {
		return err
	}
	defer hs.Close()
	out := json.NewEncoder(e.stdout)
	if err := out.Encode(childReady{Addr: addr, Heap: before}); err != nil {
		return err
	}
	in := bufio.NewScanner(e.stdin)
	for in.Scan() {
		if in.Text() == "heap" {
			fmt.Fprintln(e.stdout, heapInUse())
		}
	}
	return nil
}
