// Package deploy holds the systemd units and the Grafana dashboard; its
// tests check the units with systemd-analyze and the Dockerfile against
// the config's environment.
package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/config"
)

var units = []string{"fleetscore.service", "fleetscore-collect.service", "fleetscore-collect.timer"}

// installed copies the units to a temporary folder with ExecStart naming
// an executable that exists (systemd-analyze verify checks it): this test's
// own binary, for /usr/local/bin/fleetscore.
func installed(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		if strings.HasSuffix(u, ".service") {
			if !strings.Contains(s, "\nExecStart=/usr/local/bin/fleetscore ") {
				t.Fatalf("%s: ExecStart does not run /usr/local/bin/fleetscore", u)
			}
			s = strings.ReplaceAll(s, "\nExecStart=/usr/local/bin/fleetscore ", "\nExecStart="+exe+" ")
		}
		if err := os.WriteFile(filepath.Join(dir, u), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (scripts/test.sh installs Debian's systemd)")
	}
	return path
}

// verify runs systemd-analyze verify on files: nil output and no error is clean.
func verify(t *testing.T, sa string, files ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, files...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestUnitsVerify: systemd-analyze verify says nothing about the units (it
// would about an unknown key, as the broken unit shows).
func TestUnitsVerify(t *testing.T) {
	sa := systemdAnalyze(t)
	dir := installed(t)
	var files []string
	for _, u := range units {
		files = append(files, filepath.Join(dir, u))
	}
	if out, err := verify(t, sa, files...); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	broken := filepath.Join(dir, "broken.service")
	if err := os.WriteFile(broken, []byte("[Service]\nExecStart=/bin/true\nProtectSystm=strict\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := verify(t, sa, broken); !strings.Contains(out, "ProtectSystm") {
		t.Errorf("systemd-analyze verify passed a unit with an unknown key: %q", out)
	}
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// TestUnitsSecurity: systemd-analyze security rates both services 2.5 or
// better ("OK" is below 4.0; the collect timer of before rated 8.5).
func TestUnitsSecurity(t *testing.T) {
	sa := systemdAnalyze(t)
	// --offline= came with systemd 250 (Debian 12 has 252).
	v, _ := exec.Command(sa, "--version").Output()
	if m := regexp.MustCompile(`^systemd (\d+)`).FindSubmatch(v); m == nil {
		t.Fatalf("systemd-analyze --version: %q", v)
	} else if n, _ := strconv.Atoi(string(m[1])); n < 250 {
		t.Skipf("systemd %d has no systemd-analyze security --offline (250 or newer: scripts/test.sh on Debian 12)", n)
	}
	dir := installed(t)
	for _, u := range units[:2] {
		out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", filepath.Join(dir, u)).CombinedOutput()
		m := exposure.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			t.Fatalf("systemd-analyze security %s: %v\n%s", u, err, out)
		}
		score, _ := strconv.ParseFloat(m[1], 64)
		t.Logf("%s: exposure %.1f", u, score)
		if score > 2.5 {
			t.Errorf("%s: exposure %.1f, want 2.5 or better:\n%s", u, score, out)
		}
	}
}

// TestUnitsShareState: both services run as the same dynamic user with the
// same state directory, whose $STATE_DIRECTORY the config's default
// database follows, read the config from their credentials; and the timer
// never runs next to serve.
func TestUnitsShareState(t *testing.T) {
	for _, u := range units[:2] {
		keys := unitKeys(t, u)
		for k, want := range map[string]string{
			"DynamicUser": "yes", "User": "fleetscore", "StateDirectory": "fleetscore", "StateDirectoryMode": "0700", "UMask": "0077",
			"LoadCredential": "fleetscore.yaml:/etc/fleetscore/fleetscore.yaml", "Environment": "FLEETSCORE_CONFIG=%d/fleetscore.yaml",
			"CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		} {
			if !contains(keys[k], want) {
				t.Errorf("%s: %s=%s missing (has %q)", u, k, want, keys[k])
			}
		}
		if slices.ContainsFunc(keys["Environment"], func(v string) bool { return strings.HasPrefix(v, config.EnvData+"=") }) {
			t.Errorf("%s sets %s: the database would not follow %s", u, config.EnvData, config.EnvStateDirectory)
		}
	}
	if !contains(unitKeys(t, "fleetscore-collect.timer")["Conflicts"], "fleetscore.service") {
		t.Error("fleetscore-collect.timer does not conflict with fleetscore.service: both would collect into one database")
	}
}

// unitKeys reads a unit's assignments, every value of each key.
func unitKeys(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		keys[k] = append(keys[k], v)
	}
	return keys
}

func contains(vs []string, want string) bool { return slices.Contains(vs, want) }

// TestDockerfile: the image serves on the port it exposes, keeps the
// database in its volume through the config's environment variables, runs
// as nonroot, checks its health with fleetscore healthcheck, and names every
// base image by digest or says how to pin it.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Continuation lines joined, so that each instruction is one line.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	has := func(prefix string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
	}
	for _, want := range []string{
		"ENV FLEETSCORE_CONFIG=/etc/fleetscore/fleetscore.yaml " + config.EnvData + "=/var/lib/fleetscore " + config.EnvListen + "=:8080",
		`VOLUME ["/var/lib/fleetscore"]`,
		"EXPOSE 8080",
		"USER nonroot:nonroot",
		`CMD ["serve"]`,
		`ENTRYPOINT ["/usr/local/bin/fleetscore"]`,
		"COPY --from=build --chown=65532:65532 /rootfs/var/lib/ /var/lib/",
	} {
		if !has(want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "HEALTHCHECK ") && strings.Contains(l, `CMD ["/usr/local/bin/fleetscore", "healthcheck"`)
	}) {
		t.Error("Dockerfile's HEALTHCHECK does not run fleetscore healthcheck")
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "FROM ") || strings.Contains(l, "@sha256:") {
			continue
		}
		// A tag not yet pinned needs the comment above it saying how.
		j := i - 1
		for j >= 0 && strings.HasPrefix(lines[j], "#") && !strings.HasPrefix(lines[j], "# pin:") {
			j--
		}
		if j < 0 || !strings.HasPrefix(lines[j], "# pin:") {
			t.Errorf("Dockerfile:%d: %q is not pinned by digest and has no # pin: comment", i+1, l)
		}
	}
}
