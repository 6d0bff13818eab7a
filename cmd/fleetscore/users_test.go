package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runWithStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), err}
}

// TestUsersAndTokens: serve refuses a non-loopback address until a user
// exists; users and tokens are added, listed and removed; a token is
// printed once and never listed.
func TestUsersAndTokens(t *testing.T) {
	cfg, ids := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}})
	r := runCmd(t, nil, "serve", "--config", cfg, "--listen", "0.0.0.0:0")
	if r.err == nil || !strings.Contains(r.err.Error(), "fleetscore user add") {
		t.Fatalf("serve on 0.0.0.0 with no user: %v; want a refusal saying how to add a user", r.err)
	}
	if r := runWithStdin(t, "short\n", "user", "add", "ann", "--config", cfg, "--role", "client", "--tenant", ids[0]); r.err == nil {
		t.Error("a short password was accepted")
	}
	if r := runWithStdin(t, "long enough password\n", "user", "add", "ann", "--config", cfg, "--role", "client"); r.err == nil {
		t.Error("a client without --tenant was accepted")
	}
	r = runWithStdin(t, "long enough password\n", "user", "add", "ann", "--config", cfg, "--role", "client", "--tenant", ids[0])
	if r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	r = runCmd(t, nil, "user", "list", "--config", cfg)
	if r.err != nil || !strings.Contains(r.stdout, "ann") || !strings.Contains(r.stdout, ids[0]) || strings.Contains(r.stdout, "argon2") {
		t.Errorf("user list: %v\n%s", r.err, r.stdout)
	}
	r = runCmd(t, nil, "token", "create", "--config", cfg, "--role", "analyst", "--expires", "30d")
	secret := strings.TrimSpace(r.stdout)
	if r.err != nil || !strings.HasPrefix(secret, "fs_") {
		t.Fatalf("token create: %v %q", r.err, r.stdout)
	}
	r = runCmd(t, nil, "token", "list", "--config", cfg)
	if r.err != nil || strings.Contains(r.stdout, secret) || !strings.Contains(r.stdout, "analyst") {
		t.Errorf("token list: %v\n%s", r.err, r.stdout)
	}
	id := strings.Fields(strings.Split(r.stdout, "\n")[1])[0]
	if r := runCmd(t, nil, "token", "revoke", id, "--config", cfg); r.err != nil {
		t.Errorf("token revoke: %v", r.err)
	}
	if r := runCmd(t, nil, "token", "list", "--config", cfg); !strings.Contains(r.stdout, "revoked") {
		t.Errorf("token list after revoke:\n%s", r.stdout)
	}
	if r := runCmd(t, nil, "user", "remove", "ann", "--config", cfg); r.err != nil {
		t.Errorf("user remove: %v", r.err)
	}
	if r := runCmd(t, nil, "user", "remove", "ann", "--config", cfg); r.err == nil {
		t.Error("removing a user twice succeeded")
	}
}
