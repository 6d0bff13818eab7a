package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetscore/fleetscore/collect"

	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/graph"
)

func cmdDemo(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "demo", "[--dir DIR] [--tenants N] [--seed N] [--fresh] [--listen ADDR] [--no-serve] [--day-every D] [--verbose]")
	dir := fs.String("dir", filepath.Join("data", "demo"), "folder for the demo's config, certificate and database")
	tenants := fs.Int("tenants", 25, "emulated client tenants")
	seed := fs.Int64("seed", 1, "seed of the emulated tenants")
	fresh := fs.Bool("fresh", false, "start from an empty database (otherwise a second run collects only what is new)")
	verbose := fs.Bool("verbose", false, "log every request and retry")
	listen := fs.String("listen", "127.0.0.1:8080", "address of the dashboard")
	noServe := fs.Bool("no-serve", false, "collect, print the fleet and exit instead of serving the dashboard")
	dayEvery := fs.Duration("day-every", 2*time.Minute, "while serving, the emulator adds a day this often and fleetscore collects it")
	if done, err := parse(fs, args); done {
		return err
	}
	if *tenants < 1 {
		return fmt.Errorf("demo: --tenants must be at least 1")
	}
	if *fresh {
		for _, f := range []string{"fleetscore.db", "fleetscore.db-wal", "fleetscore.db-shm"} {
			_ = os.Remove(filepath.Join(*dir, f))
		}
	}
	secret, err := randomSecret()
	if err != nil {
		return err
	}
	secretTenants := min(2, *tenants/5)
	em, err := startEmulated(emulatedOptions{
		dir: *dir, tenants: *tenants, seed: *seed,
		secretTenants: secretTenants, secret: secret,
	})
	if err != nil {
		return err
	}
	defer em.Close()
	fmt.Fprintf(e.stdout, "Graph and Entra emulator with %d client tenants at %s\n", *tenants, em.emu.URL())

	// A few tenants misbehave on purpose, so the demo shows what a failure
	// looks like and that it never stops the other tenants.
	ts := em.emu.Tenants()
	faults := map[int]emulator.Faults{
		3:  {RevokeConsent: true},
		7:  {NotConsented: true},
		11: {Throttle: 1, RetryAfter: "1.5"},
		13: {Unavailable: 2, UnavailableStatus: 503},
	}
	for i, f := range faults {
		if i < len(ts) {
			em.emu.SetFaults(ts[i].ID, f)
		}
	}

	cfg, err := config.Load(em.configPath, e.getenv)
	if err == nil {
		err = cfg.Require(config.UseAll)
	}
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	level := slog.LevelWarn + 4 // the table says it all
	if *verbose {
		level = slog.LevelDebug
	}
	hc := graph.NewHTTPClient(em.emu.CACertPEM())
	if err := collectOnce(ctx, e, cfg, hc, newLogger(e.stderr, level)); err != nil && ctx.Err() != nil {
		return err
	}

	rows, err := tenantRows(ctx, cfg.Database)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	printTenants(e.stdout, rows)
	fmt.Fprintf(e.stdout, "\nThe failed tenants fail on purpose (revoked consent, an app never consented) to show the advice fleetscore gives.\n")
	fmt.Fprintf(e.stdout, "The history is in %s; see it again with:\n  go run ./cmd/fleetscore tenants --config %s [--json]\n", cfg.Database, em.configPath)
	if *noServe {
		return nil
	}
	if *dayEvery < time.Second {
		return fmt.Errorf("demo: --day-every must be at least 1s")
	}
	// The emulated tenants move on: a new day every dayEvery, collected as
	// it comes, so the pages can be seen to change.
	go func() {
		t := time.NewTicker(*dayEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				em.offset.Add(1)
			}
		}
	}()
	cfg.Listen = *listen
	fmt.Fprintln(e.stdout)
	sched := collect.Schedule{Interval: *dayEvery}
	fmt.Fprintf(e.stdout, "The emulated tenants gain a day every %s, so their dates run ahead of today's; the pages are dated by the emulated day.\n", *dayEvery)
	err = serveFleet(ctx, e, cfg, hc, newLogger(e.stderr, level), serveOptions{schedule: &sched, dataNow: em.now,
		afterRun: func(s collect.Summary) {
			fmt.Fprintf(e.stdout, "%s collection: %d of %d tenants ok, %d days written in %s\n", time.Now().UTC().Format("15:04:05"),
				s.OK, len(s.Results), s.Days, s.Duration.Round(time.Millisecond))
		}})
	if err == nil && ctx.Err() != nil {
		fmt.Fprintf(e.stdout, "\nstopped; the history stays in %s (run the demo again to carry on)\n", cfg.Database)
	}
	return err
}

func randomSecret() (string, error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
