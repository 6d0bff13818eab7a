package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// The environment variables that complete the file, for a container or a
// systemd unit (README "Running in a container"):
//
//   - $FLEETSCORE_LISTEN overrides listen: (serve's --listen overrides both);
//   - the default database (no database: key) is fleetscore.db in the data
//     folder: $FLEETSCORE_DATA, else systemd's $STATE_DIRECTORY (its first
//     folder), else data/ beside the config file.
const (
	EnvListen = "FLEETSCORE_LISTEN"
	EnvData   = "FLEETSCORE_DATA"
	// EnvStateDirectory is set by systemd for a unit with StateDirectory=.
	EnvStateDirectory = "STATE_DIRECTORY"
)

// defaultDatabase is the database when the file names none.
func (p *parser) defaultDatabase() string {
	if d := strings.TrimSpace(p.getenv(EnvData)); d != "" {
		if !filepath.IsAbs(d) {
			p.fail(0, fmt.Sprintf("$%s %q is not an absolute path", EnvData, d),
				"set it to the folder of the database, like "+EnvData+"=/var/lib/fleetscore")
			return DefaultDatabase
		}
		return "sqlite:" + filepath.Join(d, "fleetscore.db")
	}
	// systemd sets absolute folders, separated by colons.
	if d, _, _ := strings.Cut(p.getenv(EnvStateDirectory), ":"); filepath.IsAbs(d) {
		return "sqlite:" + filepath.Join(d, "fleetscore.db")
	}
	return DefaultDatabase
}

// envListen is $FLEETSCORE_LISTEN, checked as listen: is.
func (p *parser) envListen() (string, bool) {
	v := strings.TrimSpace(p.getenv(EnvListen))
	if v == "" {
		return "", false
	}
	if what, fix := listenProblem(v); what != "" {
		p.fail(0, "$"+EnvListen+" "+what, fix)
		return "", false
	}
	return v, true
}

// listenProblem says what is wrong with a listen address, or "".
func listenProblem(v string) (what, fix string) {
	fix = "write host:port, like listen: 127.0.0.1:8080 (this machine only) or listen: :8080 (every interface)"
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", v), fix
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q has no valid port", v), "the port is a number from 0 to 65535; " + fix
	}
	return "", ""
}
