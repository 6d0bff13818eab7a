package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestEnvironment: $FLEETSCORE_LISTEN overrides listen:, and the default
// database lives in $FLEETSCORE_DATA, else systemd's $STATE_DIRECTORY, else
// data/ beside the config; a database: key wins over both.
func TestEnvironment(t *testing.T) {
	secrets := []string{"FLEETSCORE_CLIENT_SECRET", theSecret, "FLEETSCORE_CERT_PASSWORD", pfxPassword}
	with := func(kv ...string) func(string) string { return env(append(kv, secrets...)...) }
	base := okApp + okTenants + "listen: 127.0.0.1:9000\n"
	for _, c := range []struct {
		name, yaml string
		env        func(string) string
		db, listen string
	}{
		{"nothing set", base, with(), "sqlite:" + filepath.Join(fx.dir, "data", "fleetscore.db"), "127.0.0.1:9000"},
		{"FLEETSCORE_LISTEN", base, with(EnvListen, ":8080"), "sqlite:" + filepath.Join(fx.dir, "data", "fleetscore.db"), ":8080"},
		{"FLEETSCORE_DATA", base, with(EnvData, "/var/lib/fleetscore", EnvStateDirectory, "/var/lib/other"),
			"sqlite:/var/lib/fleetscore/fleetscore.db", "127.0.0.1:9000"},
		{"STATE_DIRECTORY", base, with(EnvStateDirectory, "/var/lib/fleetscore:/var/lib/second"),
			"sqlite:/var/lib/fleetscore/fleetscore.db", "127.0.0.1:9000"},
		{"relative STATE_DIRECTORY ignored", base, with(EnvStateDirectory, "state"),
			"sqlite:" + filepath.Join(fx.dir, "data", "fleetscore.db"), "127.0.0.1:9000"},
		{"database key wins", base + "database: sqlite:/srv/fs.db\n", with(EnvData, "/var/lib/fleetscore"),
			"sqlite:/srv/fs.db", "127.0.0.1:9000"},
	} {
		cfg, err := parseAll(fx.path(), []byte(c.yaml), c.env)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if cfg.Database != c.db || cfg.Listen != c.listen {
			t.Errorf("%s: database %q listen %q, want %q %q", c.name, cfg.Database, cfg.Listen, c.db, c.listen)
		}
	}
	for _, c := range []struct {
		env   func(string) string
		words []string
	}{
		{with(EnvListen, "8080"), []string{"$FLEETSCORE_LISTEN", `"8080" is not host:port`, ":8080"}},
		{with(EnvListen, ":http-alt"), []string{"$FLEETSCORE_LISTEN", "no valid port"}},
		{with(EnvData, "data"), []string{"$FLEETSCORE_DATA", "not an absolute path", "FLEETSCORE_DATA=/var/lib/fleetscore"}},
	} {
		_, err := parseAll(fx.path(), []byte(base), c.env)
		if err == nil {
			t.Errorf("%v: no error", c.words)
			continue
		}
		for _, w := range c.words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
}
