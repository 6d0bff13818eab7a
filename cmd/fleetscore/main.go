// Command fleetscore collects Microsoft Secure Score for every client tenant
// of an MSSP, keeps the history, and shows it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "fleetscore:", err)
		os.Exit(1)
	}
}

// env is what a command gets from its surroundings; tests pass their own.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	hidden  bool
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{name: "collect", summary: "collect every tenant's Secure Score once, then exit", run: cmdCollect},
		{name: "tenants", summary: "list tenants with their latest score and last collection", run: cmdTenants},
		{name: "serve", summary: "collect on the schedule and serve the dashboard, the API and metrics", run: cmdServe},
		{name: "healthcheck", summary: "exit 0 when the server of the config answers /healthz, else 1 (the container's HEALTHCHECK)", run: cmdHealthcheck},
		{name: "check", summary: "validate the config and get a token for every tenant; writes nothing", run: cmdCheck},
		{name: "alerts", summary: "send a test message to every alert channel (test), or show open alerts (list)", run: cmdAlerts},
		{name: "exceptions", summary: "apply an exception (third party, accepted risk, reviewed) at tenants (add), or list the register (list)", run: cmdExceptions},
		{name: "campaigns", summary: "list the campaigns (one action rolled out to many tenants) with their progress", run: cmdCampaigns},
		{name: "report", summary: "write a client's report for a month or quarter (PDF or HTML), or mail them all (send)", run: cmdReport},
		{name: "user", summary: "add, list or remove the local users who sign in to the dashboard", run: cmdUser},
		{name: "token", summary: "create, list or revoke API tokens", run: cmdToken},
		{name: "demo", summary: "run everything against emulated tenants: the one command to see fleetscore work", run: cmdDemo},
		{name: "bench", summary: "benchmark a backfill and daily collections against emulated tenants", run: cmdBench},
		{name: "migrate", summary: "copy a whole history to another database (SQLite to PostgreSQL), verified", run: cmdMigrate},
		{name: "emulator", summary: "serve the Graph and Entra emulator on its own (for tests and trials)", run: cmdEmulator},
		{name: "version", summary: "print the version", run: cmdVersion},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	usage(stderr)
	fmt.Fprintf(stderr, "\nfleetscore: unknown command %q\n", args[0])
	return exitError{2} // a usage error, as no command is
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "fleetscore: Microsoft Secure Score for every client tenant.")
	fmt.Fprintln(w, "\nUsage: fleetscore COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintln(w, "\nRun 'fleetscore COMMAND --help' for a command's flags.")
	fmt.Fprintln(w, "The config file is --config PATH, or $FLEETSCORE_CONFIG, or fleetscore.yaml.")
}

// newFlags returns a flag set that prints its usage to stdout on --help.
func newFlags(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: fleetscore %s %s\n\n", name, synopsis)
		printDefaults(e.stdout, fs)
	}
	return fs
}

// printDefaults lists the flags as they are written everywhere else:
// --name, with their default.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// parse parses flags; --help is a success with no further work (done=true).
func parse(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, exitError{2}
	}
	if fs.NArg() > 0 {
		return true, fmt.Errorf("%s: unexpected argument %q", fs.Name(), strings.Join(fs.Args(), " "))
	}
	return false, nil
}

// configFlag adds --config with its default from $FLEETSCORE_CONFIG.
func configFlag(fs *flag.FlagSet, e env) *string {
	def := e.getenv("FLEETSCORE_CONFIG")
	if def == "" {
		def = "fleetscore.yaml"
	}
	return fs.String("config", def, "config file (env FLEETSCORE_CONFIG)")
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func cmdVersion(_ context.Context, e env, args []string) error {
	fs := newFlags(e, "version", "")
	if done, err := parse(fs, args); done {
		return err
	}
	fmt.Fprintln(e.stdout, "fleetscore", version)
	return nil
}
