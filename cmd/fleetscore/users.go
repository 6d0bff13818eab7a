package main

// fleetscore user add|list|remove and fleetscore token create|list|revoke:
// the local accounts and API tokens, kept in the database so that every
// instance knows them.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
)

// listFlag is a repeatable flag: --tenant A --tenant B.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// authStore opens the config's database as an auth.Store.
func authStore(ctx context.Context, e env, cfgPath string) (auth.Store, func(), error) {
	cfg, err := loadConfig(e, cfgPath, 0)
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(ctx, cfg.Database)
	if err != nil {
		return nil, nil, err
	}
	as, ok := store.(auth.Store)
	if !ok {
		store.Close()
		return nil, nil, fmt.Errorf("database %s keeps no users", redactDSN(cfg.Database))
	}
	return as, func() { store.Close() }, nil
}

// roleAndTenants checks --role and --tenant together.
func roleAndTenants(role string, tenants []string) (auth.Role, []string, error) {
	r, err := auth.ParseRole(role)
	if err != nil {
		return "", nil, fmt.Errorf("--role: %w", err)
	}
	var ids []string
	for _, t := range tenants {
		id := strings.ToLower(strings.Trim(strings.TrimSpace(t), "{}"))
		if len(id) != 36 || strings.Count(id, "-") != 4 {
			return "", nil, fmt.Errorf("--tenant %q is not a tenant ID (a GUID)", t)
		}
		ids = append(ids, id)
	}
	switch {
	case r == auth.RoleClient && len(ids) == 0:
		return "", nil, errors.New("a client needs at least one --tenant: the tenants it may see")
	case r != auth.RoleClient && len(ids) > 0:
		return "", nil, fmt.Errorf("--tenant is for the client role; an %s sees every tenant", r)
	}
	return r, ids, nil
}

func subcommand(e env, name, synopsis string, args []string, subs map[string]func([]string) error, help string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlags(e, name, synopsis)
		fs.Usage = func() { fmt.Fprintf(e.stdout, "Usage: fleetscore %s %s\n\n%s", name, synopsis, help) }
		if done, err := parse(fs, args); done {
			return err
		}
		fs.Usage()
		return exitError{2}
	}
	if f, ok := subs[args[0]]; ok {
		return f(args[1:])
	}
	return fmt.Errorf("%s: unknown subcommand %q: use %s", name, args[0], synopsis)
}

func cmdUser(ctx context.Context, e env, args []string) error {
	return subcommand(e, "user", "add|list|remove", args, map[string]func([]string) error{
		"add":    func(a []string) error { return cmdUserAdd(ctx, e, a) },
		"list":   func(a []string) error { return cmdUserList(ctx, e, a) },
		"remove": func(a []string) error { return cmdUserRemove(ctx, e, a) },
	}, "  add NAME --role admin|analyst|client [--tenant ID...]   add a local user (or set a new password); the password is read from stdin\n"+
		"  list                                                   list the local users\n"+
		"  remove NAME                                            remove a user and end their sessions\n")
}

// nameFirst takes a leading NAME argument off args.
func nameFirst(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func cmdUserAdd(ctx context.Context, e env, args []string) error {
	name, args := nameFirst(args)
	fs := newFlags(e, "user add", "NAME --role ROLE [--tenant ID...] [--config PATH]")
	cfgPath := configFlag(fs, e)
	role := fs.String("role", "", "admin, analyst or client")
	var tenants listFlag
	fs.Var(&tenants, "tenant", "a tenant ID the client may see (repeat for several)")
	if done, err := parse(fs, args); done {
		return err
	}
	if name == "" {
		return errors.New("user add: give the user's name: fleetscore user add NAME --role ROLE")
	}
	r, ids, err := roleAndTenants(*role, tenants)
	if err != nil {
		return err
	}
	pw, err := readPassword(e)
	if err != nil {
		return err
	}
	if len([]rune(pw)) < auth.MinPasswordLength {
		return fmt.Errorf("the password must have at least %d characters", auth.MinPasswordLength)
	}
	store, done, err := authStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer done()
	if err := store.PutUser(ctx, auth.User{Name: name, Role: r, Tenants: ids, PasswordHash: auth.HashPassword(pw), CreatedAt: time.Now().UTC()}); err != nil {
		return err
	}
	// A changed role or password ends the sessions opened with the old one.
	if err := store.DeleteSessionsOf(ctx, name); err != nil {
		return err
	}
	svc := &auth.Service{Store: store}
	svc.Audit(ctx, "cli", "user.add", name+" as "+string(r), "")
	fmt.Fprintf(e.stdout, "user %s saved as %s; `fleetscore serve` now asks for sign-in and may listen on any address\n", name, r)
	return nil
}

// readPassword reads the password without echo from a terminal, or the
// first line of stdin otherwise (for scripts: echo "$PW" | fleetscore user add).
func readPassword(e env) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on stdin: pipe it in, or run the command in a terminal")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func cmdUserList(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "user list", "[--config PATH]")
	cfgPath := configFlag(fs, e)
	if done, err := parse(fs, args); done {
		return err
	}
	store, done, err := authStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer done()
	us, err := store.Users(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tTENANTS\tCREATED")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, strings.Join(u.Tenants, " "), u.CreatedAt.Format(time.DateOnly))
	}
	return tw.Flush()
}

func cmdUserRemove(ctx context.Context, e env, args []string) error {
	name, args := nameFirst(args)
	fs := newFlags(e, "user remove", "NAME [--config PATH]")
	cfgPath := configFlag(fs, e)
	if done, err := parse(fs, args); done {
		return err
	}
	store, done, err := authStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer done()
	if err := store.RemoveUser(ctx, name); err != nil {
		if errors.Is(err, fleetscore.ErrNotFound) {
			return fmt.Errorf("there is no user %q (fleetscore user list shows them)", name)
		}
		return err
	}
	(&auth.Service{Store: store}).Audit(ctx, "cli", "user.remove", name, "")
	fmt.Fprintf(e.stdout, "user %s removed\n", name)
	return nil
}

func cmdToken(ctx context.Context, e env, args []string) error {
	return subcommand(e, "token", "create|list|revoke", args, map[string]func([]string) error{
		"create": func(a []string) error { return cmdTokenCreate(ctx, e, a) },
		"list":   func(a []string) error { return cmdTokenList(ctx, e, a) },
		"revoke": func(a []string) error { return cmdTokenRevoke(ctx, e, a) },
	}, "  create --role ROLE [--tenant ID...] [--expires 90d]   make an API token and print it, once\n"+
		"  list                                                 list the tokens (never their secrets)\n"+
		"  revoke ID                                            revoke a token\n")
}

// expiry reads --expires: "90d", a Go duration, or "never".
func expiry(s string) (time.Duration, error) {
	if s == "never" || s == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n > 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires %q: write a number of days (90d), a duration (12h) or never", s)
	}
	return d, nil
}

func cmdTokenCreate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "token create", "--role ROLE [--tenant ID...] [--expires 90d] [--config PATH]")
	cfgPath := configFlag(fs, e)
	role := fs.String("role", "", "admin, analyst or client")
	expires := fs.String("expires", "90d", "when the token stops working: 90d, 12h or never")
	var tenants listFlag
	fs.Var(&tenants, "tenant", "a tenant ID a client token may read (repeat for several)")
	if done, err := parse(fs, args); done {
		return err
	}
	r, ids, err := roleAndTenants(*role, tenants)
	if err != nil {
		return err
	}
	ttl, err := expiry(*expires)
	if err != nil {
		return err
	}
	store, done, err := authStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer done()
	secret, t, err := (&auth.Service{Store: store}).CreateToken(ctx, r, ids, ttl, "cli")
	if err != nil {
		return err
	}
	until := "never expires"
	if !t.ExpiresAt.IsZero() {
		until = "expires " + t.ExpiresAt.Format(time.DateOnly)
	}
	fmt.Fprintf(e.stderr, "token %s (%s, %s); it is shown once, only its hash is kept:\n", t.ID, r, until)
	fmt.Fprintln(e.stdout, secret)
	return nil
}

func cmdTokenList(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "token list", "[--config PATH]")
	cfgPath := configFlag(fs, e)
	if done, err := parse(fs, args); done {
		return err
	}
	store, done, err := authStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer done()
	ts, err := store.Tokens(ctx)
	if err != nil {
		return err
	}
	day := func(t time.Time, zero string) string {
		if t.IsZero() {
			return zero
		}
		return t.Format(time.DateOnly)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tTENANTS\tCREATED\tEXPIRES\tLAST USED\tSTATE")
	for _, t := range ts {
		state := "active"
		switch {
		case t.Revoked:
			state = "revoked"
		case !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, strings.Join(t.Tenants, " "), day(t.CreatedAt, ""),
			day(t.ExpiresAt, "never"), day(t.LastUsed, "never"), state)
	}
	return tw.Flush()
}

func cmdTokenRevoke(ctx context.Context, e env, args []string) error {
	id, args := nameFirst(args)
	fs := newFlags(e, "token revoke", "ID [--config PATH]")
	cfgPath := configFlag(fs, e)
	if done, err := parse(fs, args); done {
		return err
	}
	store, done, err := authStore(ctx, e, *cfgPath)
	if err != nil {
		return err
	}
	defer done()
	if err := store.RevokeToken(ctx, id); err != nil {
		if errors.Is(err, fleetscore.ErrNotFound) {
			return fmt.Errorf("there is no token %q (fleetscore token list shows them)", id)
		}
		return err
	}
	(&auth.Service{Store: store}).Audit(ctx, "cli", "token.revoke", id, "")
	fmt.Fprintf(e.stdout, "token %s revoked\n", id)
	return nil
}

var _ flag.Value = (*listFlag)(nil)
