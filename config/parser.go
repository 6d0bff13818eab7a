package config

import (
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The keys of each block. They are a public interface: documented, in the
// example, and in users' files.
var (
	topKeys = []string{"database", "target_percent", "cloud", "authority_host", "graph_url", "graph_scope",
		"app", "concurrency", "timeout", "listen", "schedule", "log_level", "write_back", "tenants",
		"public_url"}
	appKeys    = []string{"client_id", "certificate", "certificate_password_env", "client_secret_env", "client_secret_file"}
	tenantKeys = []string{"name", "tenant_id", "target_percent", "app", "cloud", "authority_host", "graph_url", "graph_scope", "write_back",
		"report_to"}
)

// parser collects the problems of one file as it walks the YAML nodes.
type parser struct {
	path      string // for messages, as given
	dir       string // absolute folder of the config file
	getenv    func(string) string
	now       time.Time
	readFile  func(string) ([]byte, error)
	problems  []Problem
	warnings  []Problem
	deferred  []deferred         // problems with secrets, for Config.Require
	secretUse Use                // while loading secrets: what they are for
	certs     map[string]*loaded // by absolute path and password variable, so a file is read once
	// defaultApp is the file's app:, for graph_mail channels; appUse, when
	// set, is what the app being read is for (UseGraph otherwise).
	defaultApp *App
	appUse     Use
}

func (p *parser) fail(line int, what, fix string) {
	p.problems = append(p.problems, Problem{Path: p.path, Line: line, What: what, Fix: fix})
}

func (p *parser) warn(line int, what, fix string) {
	p.warnings = append(p.warnings, Problem{Path: p.path, Line: line, What: what, Fix: fix})
}

// entry is one key: value pair; both are nil when the key is absent.
type entry struct {
	key, val *yaml.Node
}

// missing reports whether the key is absent or has no value (key: or key: ~).
func (e entry) missing() bool {
	return e.key == nil || (e.val.Kind == yaml.ScalarNode && e.val.Tag == "!!null")
}

func (e entry) line() int {
	if e.key == nil {
		return 0
	}
	return e.key.Line
}

// resolve follows YAML aliases (*name) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) config(data []byte) *Config {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.yamlError(data, err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.fail(0, "the file is empty", "write at least an app: block and a tenants: list (see the example config)")
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.fail(root.Line, "the file must be a mapping of keys (database:, app:, tenants: ...)",
			"start from the example config; every top-level key begins at the first column")
		return nil
	}
	top := p.mapping(root, "", append(append(slices.Clip(topKeys), alertingTopKeys...), "archive", "auth", "exceptions", "reports"))

	c := &Config{
		TargetPercent: DefaultTargetPercent,
		Concurrency:   DefaultConcurrency,
		Timeout:       DefaultTimeout,
		Listen:        DefaultListen,
		Schedule:      DefaultSchedule,
		LogLevel:      slog.LevelInfo,
	}
	c.Database = p.database(top["database"])
	if v, ok := p.percent(top["target_percent"]); ok {
		c.TargetPercent = v
	}
	c.Cloud = p.cloud(top)
	if v, ok := p.integer(top["concurrency"], 1, 256, "tenants collected at once", "8"); ok {
		c.Concurrency = v
	}
	if v, ok := p.timeout(top["timeout"]); ok {
		c.Timeout = v
	}
	if v, ok := p.listen(top["listen"]); ok {
		c.Listen = v
	}
	if v, ok := p.envListen(); ok {
		c.Listen = v
	}
	if v, ok := p.schedule(top["schedule"]); ok {
		c.Schedule = v
	}
	if v, ok := p.logLevel(top["log_level"]); ok {
		c.LogLevel = v
	}
	if v, ok := p.boolean(top["write_back"], "write_back: true (write exceptions to each tenant's Secure Score) or write_back: false (keep them in fleetscore only)"); ok {
		c.WriteBack = v
	}
	c.App = p.app(top["app"])
	c.Tenants = p.tenants(top["tenants"], c, !top["app"].missing())
	rules, over := p.alertsBlock(top["alerts"])
	c.DigestOver = over
	p.defaultApp = c.App // a graph_mail channel without app: uses it
	c.Channels, c.Alerts = p.alerting(top["channels"], rules)
	c.Archive = p.archive(top["archive"])
	c.Auth = p.auth(top["auth"])
	c.Exceptions = p.exceptions(top["exceptions"])
	c.PublicURL = p.publicURL(top["public_url"], c.Auth)
	c.Reports = p.reports(top["reports"], c.Channels)
	return c
}

// yamlError reports a syntax error at the line yaml names.
func (p *parser) yamlError(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := strings.Split(string(data), "\n")
	if strings.Contains(msg, "tab") {
		// yaml may name the line that opened the block; point at the tab.
		for i := max(line, 1); i <= len(lines); i++ {
			if indent := lines[i-1][:len(lines[i-1])-len(strings.TrimLeft(lines[i-1], " \t"))]; strings.Contains(indent, "\t") {
				line = i
				break
			}
		}
	}
	fix := "check the indentation, and quote values that contain ': ', ' #' or start with a special character such as * & ! { [ or %"
	if strings.Contains(msg, "tab") || (line > 0 && line <= len(lines) && strings.Contains(lines[line-1], "\t")) {
		fix = "YAML indents with spaces, not tabs: replace the tabs on this line with spaces"
	}
	if strings.Contains(msg, "anchor") {
		fix = "define the &anchor before the *alias that uses it"
	}
	p.fail(line, "YAML syntax error: "+msg, fix)
}

// mapping returns the known keys of a mapping node and reports unknown and
// repeated keys. section is "" at the top level, "app" or "tenant".
func (p *parser) mapping(n *yaml.Node, section string, known []string) map[string]entry {
	out := map[string]entry{}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.fail(k.Line, "a key must be a plain name", "write key: value, one a line")
			continue
		}
		name := k.Value
		if prev, dup := seen[name]; dup {
			p.fail(k.Line, fmt.Sprintf("%s is set twice, on lines %d and %d", name, prev, k.Line), "keep one of them")
			continue
		}
		seen[name] = k.Line
		if slices.Contains(known, name) {
			out[name] = entry{k, v}
			continue
		}
		p.unknownKey(k, section, known)
	}
	return out
}

func where(section string) string {
	switch section {
	case "":
		return "at the top level"
	case "app":
		return "in an app block"
	case "channel":
		return "in a channel"
	case "alert":
		return "in an alert rule"
	case "archive":
		return "in the archive block"
	case "auth":
		return "in the auth block"
	case "oidc", "oidc client":
		return "in the auth block's oidc"
	case "exceptions":
		return "in the exceptions block"
	case "exception template", "exception template item":
		return "in an exception template"
	default:
		return "in a tenant"
	}
}

// unknownKey reports a key that has no place in section, naming the fix. It
// never shows the value: an unknown key may well hold a secret.
func (p *parser) unknownKey(k *yaml.Node, section string, known []string) {
	name := k.Value
	norm := normalize(name)
	switch {
	case name == "<<":
		p.fail(k.Line, "YAML merge keys (<<) are not supported",
			"write the keys out, or reuse a whole block with an alias (app: *shared)")
		return
	case slices.Contains([]string{"clientsecret", "secret", "clientsecretvalue", "appsecret", "secretvalue"}, norm):
		p.fail(k.Line, name+": secrets are never written in the config",
			"put it in an environment variable and name it with client_secret_env, or in a file with client_secret_file")
		return
	case slices.Contains([]string{"password", "certificatepassword", "certpassword", "pfxpassword", "keypassword"}, norm):
		p.fail(k.Line, name+": passwords are never written in the config",
			"put it in an environment variable and name it with certificate_password_env")
		return
	}
	if s := suggest(name, known); s != "" {
		p.fail(k.Line, fmt.Sprintf("unknown key %s %s", name, where(section)), fmt.Sprintf("did you mean %s?", s))
		return
	}
	// A known key in the wrong block is usually an indentation slip.
	for _, other := range []struct {
		section string
		keys    []string
	}{{"app", appKeys}, {"tenant", tenantKeys}, {"", topKeys}} {
		if other.section != section && slices.Contains(other.keys, name) {
			fix := "move it there (check its indentation)"
			if other.section == "app" {
				fix = "indent it under an app: key"
			}
			p.fail(k.Line, fmt.Sprintf("%s belongs %s, not %s", name, where(other.section), where(section)), fix)
			return
		}
	}
	p.fail(k.Line, fmt.Sprintf("unknown key %s %s", name, where(section)),
		"the keys here are "+strings.Join(known, ", "))
}

// scalar returns the single value of e. It is false when e is missing, and
// when e holds a list or mapping, which it reports; want completes "must be".
func (p *parser) scalar(e entry, want, example string) (string, bool) {
	if e.missing() {
		return "", false
	}
	switch e.val.Kind {
	case yaml.ScalarNode:
		return strings.TrimSpace(e.val.Value), true
	case yaml.MappingNode:
		p.fail(e.key.Line, fmt.Sprintf("%s must be %s, not a mapping", e.key.Value, want), "write it like "+example)
	case yaml.SequenceNode:
		p.fail(e.key.Line, fmt.Sprintf("%s must be %s, not a list", e.key.Value, want), "write it like "+example)
	}
	return "", false
}

func (p *parser) database(e entry) string {
	v, ok := p.scalar(e, "a database URL", "database: sqlite:data/fleetscore.db")
	if !ok {
		if !e.missing() {
			return ""
		}
		v = p.defaultDatabase()
	}
	line := e.line()
	switch {
	case strings.HasPrefix(v, "sqlite:"):
		file, query, hasQuery := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//"), "?")
		if file == "" {
			p.fail(line, "database sqlite: names no file", "write it like database: sqlite:data/fleetscore.db")
			return ""
		}
		if file != ":memory:" && !filepath.IsAbs(file) {
			file = filepath.Join(p.dir, file)
		}
		if hasQuery {
			file += "?" + query
		}
		return "sqlite:" + file
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		// url.Parse's error repeats the URL, password and all: never show it.
		u, err := url.Parse(v)
		if err != nil {
			p.fail(line, "database is not a valid postgres URL", "write it like database: postgres://fleetscore@db.example.com:5432/fleetscore")
			return ""
		}
		if _, has := u.User.Password(); has || u.Query().Has("password") {
			p.fail(line, "the database URL holds a password: secrets are never written in the config",
				"remove it from the URL and set PGPASSWORD in fleetscore's environment (or use a .pgpass file)")
			return ""
		}
		return v
	}
	p.fail(line, "database must start with sqlite: or postgres://",
		"for a SQLite file beside the config write database: sqlite:data/fleetscore.db")
	return ""
}

// percent reads a target_percent; false when absent or wrong.
func (p *parser) percent(e entry) (float64, bool) {
	v, ok := p.scalar(e, "a number", "target_percent: 75")
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "%")), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.fail(e.key.Line, fmt.Sprintf("target_percent must be a number, not %q", v),
			"write it like target_percent: 75 (a percentage above 0 and at most 100)")
		return 0, false
	}
	if f <= 0 || f > 100 {
		p.fail(e.key.Line, fmt.Sprintf("target_percent %g is out of range", f),
			"it is a percentage of the maximum score: above 0 and at most 100, e.g. 75")
		return 0, false
	}
	if f < 1 {
		p.warn(e.key.Line, fmt.Sprintf("target_percent %g is below 1%%", f),
			"it is a percentage, not a fraction: 75% is written 75")
	}
	return f, true
}

func (p *parser) integer(e entry, lo, hi int, meaning, example string) (int, bool) {
	name := ""
	if e.key != nil {
		name = e.key.Value
	}
	v, ok := p.scalar(e, "a whole number", name+": "+example)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(e.key.Line, fmt.Sprintf("%s must be a whole number, not %q", name, v),
			fmt.Sprintf("write it like %s: %s (%s, %d to %d)", name, example, meaning, lo, hi))
		return 0, false
	}
	if n < lo || n > hi {
		p.fail(e.key.Line, fmt.Sprintf("%s %d is out of range", name, n),
			fmt.Sprintf("it is the number of %s: %d to %d, e.g. %s", meaning, lo, hi, example))
		return 0, false
	}
	return n, true
}

// boolean reads true or false (YAML's yes/no and on/off too); false when
// absent or wrong. example is the fix shown for a wrong value.
func (p *parser) boolean(e entry, example string) (bool, bool) {
	v, ok := p.scalar(e, "true or false", example)
	if !ok {
		return false, false
	}
	switch strings.ToLower(v) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	p.fail(e.key.Line, fmt.Sprintf("%s must be true or false, not %q", e.key.Value, v), "write "+example)
	return false, false
}

// duration parses a Go duration such as 5m or 1h30m, explaining the usual slips.
func duration(s string) (time.Duration, string) {
	d, err := time.ParseDuration(s)
	if err == nil {
		return d, ""
	}
	if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
		return 0, "needs a unit"
	}
	return 0, "is not a duration"
}

func (p *parser) timeout(e entry) (time.Duration, bool) {
	const fix = "write a Go duration like timeout: 5m, 90s or 1h30m (the deadline for one tenant's collection)"
	v, ok := p.scalar(e, "a duration", "timeout: 5m")
	if !ok {
		return 0, false
	}
	d, bad := duration(v)
	switch {
	case bad != "":
		p.fail(e.key.Line, fmt.Sprintf("timeout %q %s", v, bad), fix)
		return 0, false
	case d <= 0 || d > 24*time.Hour:
		p.fail(e.key.Line, fmt.Sprintf("timeout %s is out of range", v), "it must be above 0 and at most 24h; "+fix)
		return 0, false
	}
	return d, true
}

func (p *parser) listen(e entry) (string, bool) {
	v, ok := p.scalar(e, "host:port", "listen: 127.0.0.1:8080")
	if !ok {
		return "", false
	}
	if what, fix := listenProblem(v); what != "" {
		p.fail(e.key.Line, "listen "+what, fix)
		return "", false
	}
	return v, true
}

func (p *parser) schedule(e entry) (string, bool) {
	const fix = "write daily HH:MM (like daily 02:00) or every <duration> (like every 6h)"
	v, ok := p.scalar(e, "a schedule", "schedule: daily 02:00")
	if !ok {
		return "", false
	}
	f := strings.Fields(v)
	if len(f) == 2 {
		switch strings.ToLower(f[0]) {
		case "daily":
			if len(f[1]) == 5 {
				if _, err := time.Parse("15:04", f[1]); err == nil {
					return "daily " + f[1], true
				}
			}
			p.fail(e.key.Line, fmt.Sprintf("schedule %q has no valid time of day", v), "write the time as HH:MM from 00:00 to 23:59, like daily 02:00")
			return "", false
		case "every":
			d, bad := duration(f[1])
			if bad != "" || d <= 0 {
				p.fail(e.key.Line, fmt.Sprintf("schedule %q has no valid interval", v), "write a Go duration, like every 6h or every 30m (a day is every 24h)")
				return "", false
			}
			if d < time.Hour {
				p.warn(e.key.Line, fmt.Sprintf("schedule %q collects more than once an hour", v),
					"Secure Score changes about once a day; collecting more often only spends Graph quota")
			}
			return "every " + f[1], true
		}
	}
	p.fail(e.key.Line, fmt.Sprintf("schedule %q is not understood", v), fix)
	return "", false
}

func (p *parser) logLevel(e entry) (slog.Level, bool) {
	v, ok := p.scalar(e, "a log level", "log_level: info")
	if !ok {
		return 0, false
	}
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	p.fail(e.key.Line, fmt.Sprintf("log_level %q is not a level", v), "use debug, info, warn or error")
	return 0, false
}

func (p *parser) cloud(top map[string]entry) Cloud {
	return p.cloudIn(top, clouds[DefaultCloud])
}

// tenantCloud is a tenant's own cloud: the file's (with its endpoints) when
// the tenant names none or the same one, else the named cloud's Microsoft
// endpoints; a tenant's authority_host, graph_url and graph_scope override
// either.
func (p *parser) tenantCloud(m map[string]entry, file Cloud) Cloud {
	base := file
	if v, ok := p.scalar(m["cloud"], "a cloud name", "cloud: usgov"); ok {
		if named, known := clouds[strings.ToLower(v)]; known && named.Name != file.Name {
			base = named
		}
	}
	return p.cloudIn(m, base)
}

// cloudIn reads cloud, authority_host, graph_url and graph_scope from m on
// top of base.
func (p *parser) cloudIn(top map[string]entry, base Cloud) Cloud {
	c := base
	if v, ok := p.scalar(top["cloud"], "a cloud name", "cloud: global"); ok {
		named, known := clouds[strings.ToLower(v)]
		if !known {
			what, fix := cloudFix(v)
			p.fail(top["cloud"].key.Line, what, fix)
		} else if named.Name != base.Name {
			c = named
		}
	}
	if v, ok := p.scalar(top["authority_host"], "a URL", "authority_host: https://login.example.test/"); ok {
		if u, bad := endpoint(v); bad != "" {
			p.fail(top["authority_host"].key.Line, "authority_host "+bad,
				"write the Entra ID host as an https URL, like https://login.microsoftonline.com/, or remove it to use the cloud's")
		} else {
			c.AuthorityHost = strings.TrimSuffix(u.String(), "/") + "/"
			c.Custom = true
		}
	}
	if v, ok := p.scalar(top["graph_url"], "a URL", "graph_url: https://graph.example.test"); ok {
		if u, bad := endpoint(v); bad != "" {
			p.fail(top["graph_url"].key.Line, "graph_url "+bad,
				"write Microsoft Graph's address as an https URL, like https://graph.microsoft.com, or remove it to use the cloud's")
		} else {
			c.GraphURL = strings.TrimRight(u.String(), "/")
		}
	}
	if v, ok := p.scalar(top["graph_scope"], "a scope", "graph_scope: https://graph.microsoft.com/.default"); ok {
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" || !strings.HasSuffix(v, "/.default") {
			p.fail(top["graph_scope"].key.Line, fmt.Sprintf("graph_scope %q is not a resource's /.default scope", v),
				"write it like https://graph.microsoft.com/.default, or remove it to use the cloud's")
		} else {
			c.GraphScope = v
		}
	}
	return c
}

// tenants reads the tenant list; wroteApp is whether the file has a default
// app block, valid or not, so a broken one is not also reported as missing.
func (p *parser) tenants(e entry, c *Config, wroteApp bool) []Tenant {
	const fix = "add a tenants: list with a - name: and a tenant_id: for each client tenant"
	if e.missing() {
		p.fail(e.line(), "there are no tenants", fix)
		return nil
	}
	if e.val.Kind != yaml.SequenceNode {
		p.fail(e.key.Line, "tenants must be a list", "start each tenant with a dash: - name: Contoso")
		return nil
	}
	if len(e.val.Content) == 0 {
		p.fail(e.key.Line, "the tenants list is empty", fix)
		return nil
	}
	var (
		out     []Tenant
		idLine  = map[string]int{}
		nameAt  = map[string]int{}
		ownApps int
	)
	for _, item := range e.val.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			p.fail(item.Line, "a tenant must be a mapping with name: and tenant_id:",
				"write it like - name: Contoso, and tenant_id: on the next line, indented")
			continue
		}
		m := p.mapping(item, "tenant", tenantKeys)
		t := Tenant{Line: item.Line, TargetPercent: c.TargetPercent, WriteBack: c.WriteBack}

		if v, ok := p.scalar(m["name"], "a name", "name: Contoso"); ok && v != "" {
			t.Name = v
			key := strings.ToLower(strings.Join(strings.Fields(v), " "))
			if prev, dup := nameAt[key]; dup {
				p.fail(m["name"].key.Line, fmt.Sprintf("tenant name %q is used twice, on lines %d and %d", v, prev, m["name"].key.Line),
					"give each tenant its own name: the dashboard tells tenants apart by name")
			} else {
				nameAt[key] = m["name"].key.Line
			}
		} else if m["name"].missing() || ok {
			p.fail(t.Line, "the tenant has no name", "add name: with the client's name as the dashboard should show it")
		}
		label := t.Name
		if label == "" {
			label = fmt.Sprintf("on line %d", t.Line)
		}

		if v, ok := p.scalar(m["tenant_id"], "a GUID", "tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47"); ok {
			if id, bad := tenantID(v); bad != "" {
				p.fail(m["tenant_id"].key.Line, bad, tenantIDFix)
			} else {
				t.ID = id
				if prev, dup := idLine[id]; dup {
					p.fail(m["tenant_id"].key.Line, fmt.Sprintf("tenant_id %s is listed twice, on lines %d and %d", id, prev, m["tenant_id"].key.Line),
						"each tenant appears once: remove one of them")
				} else {
					idLine[id] = m["tenant_id"].key.Line
				}
			}
		} else if m["tenant_id"].missing() {
			p.fail(t.Line, fmt.Sprintf("tenant %s has no tenant_id", label), "add tenant_id: with "+tenantIDWhere)
		}

		if v, ok := p.percent(m["target_percent"]); ok {
			t.TargetPercent = v
		}
		if v, ok := p.boolean(m["write_back"], "write_back: false (keep this tenant's exceptions in fleetscore only) or write_back: true"); ok {
			t.WriteBack = v
		}

		if !m["report_to"].missing() {
			t.ReportTo = p.addressList(m["report_to"])
		}
		t.Cloud = p.tenantCloud(m, c.Cloud)

		switch ae := m["app"]; {
		case !ae.missing():
			ownApps++
			t.App = p.app(ae)
		case c.App != nil && t.Cloud.Name != c.Cloud.Name:
			p.fail(m["cloud"].key.Line, fmt.Sprintf("tenant %s is in the %s cloud, but the default app is registered in %s", label, t.Cloud.Name, c.Cloud.Name),
				"an app registration signs in only in its own cloud: register one with SecurityEvents.Read.All in "+cloudPortal(t.Cloud.Name)+" and add it as app: under this tenant")
		case c.App != nil:
			t.App = c.App
		case !wroteApp:
			p.fail(t.Line, fmt.Sprintf("tenant %s has no app, and there is no default app", label),
				"add an app: block at the top of the file (the MSSP's multi-tenant app), or one under this tenant (its own app registration)")
		}
		out = append(out, t)
	}
	if c.App != nil && ownApps == len(out) {
		p.warn(c.App.Line, "the default app is not used: every tenant has its own app",
			"remove it, or remove the tenants' own app: blocks that are the same app")
	}
	return out
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// guid returns s as a lower-case GUID, accepting the {braced} form.
func guid(s string) (string, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if !guidPattern.MatchString(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

const (
	tenantIDWhere = "the client's Directory (tenant) ID, a GUID shown as Tenant ID on the Overview page of the Microsoft Entra admin center (entra.microsoft.com) of that tenant"
	tenantIDFix   = "write " + tenantIDWhere + "; domain names like contoso.onmicrosoft.com are not accepted"
)

// placeholderGUID reports a GUID of one hex digit repeated, such as the
// example's 11111111-1111-1111-1111-111111111111: no real tenant has one.
func placeholderGUID(id string) bool {
	d := strings.ReplaceAll(id, "-", "")
	return d != "" && strings.Count(d, d[:1]) == len(d)
}

// tenantID returns the lower-case tenant ID, or what is wrong with it.
func tenantID(v string) (string, string) {
	if id, ok := guid(v); ok {
		if id == zeroGUID {
			return "", "tenant_id is the all-zero placeholder from the example"
		}
		if placeholderGUID(id) {
			return "", fmt.Sprintf("tenant_id %s is a placeholder (one digit repeated, as in the example), not a real tenant's ID", id)
		}
		return id, ""
	}
	switch strings.ToLower(v) {
	case "common", "organizations", "consumers":
		return "", fmt.Sprintf("tenant_id %s is not a tenant but a sign-in audience", v)
	}
	if strings.Contains(v, ".") && !strings.ContainsAny(v, " \t/:@") {
		return "", fmt.Sprintf("tenant_id %s is a domain name, not the tenant's ID", v)
	}
	return "", "tenant_id is not a GUID"
}
