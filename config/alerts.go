package config

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Channel types: a channel's type:.
const (
	ChannelTeams   = "teams"   // a Microsoft Teams workflow webhook (Adaptive Card)
	ChannelSlack   = "slack"   // a Slack incoming webhook
	ChannelWebhook = "webhook" // any URL, JSON signed with HMAC-SHA256
	ChannelEmail   = "email"   // SMTP with STARTTLS, or implicit TLS (465)
	// ChannelGraphMail is mail sent with Microsoft Graph's sendMail as a
	// mailbox of the MSSP's own tenant (application permission Mail.Send):
	// no SMTP at all.
	ChannelGraphMail = "graph_mail"
)

// E-mail logins: an email channel's auth:.
const (
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthXOAUTH2 = "xoauth2" // OAuth 2.0 (Exchange Online), with the app's token
)

// E-mail security modes: an email channel's security:.
const (
	SecuritySTARTTLS = "starttls" // the default, except on port 465
	SecurityTLS      = "tls"      // implicit TLS, the default on port 465
)

// Alert conditions: a rule's when:. The alert package evaluates them.
const (
	WhenBelowTarget       = "below_target"
	WhenScoreDrop         = "score_drop"
	WhenControlRegressed  = "control_regressed"
	WhenCollectionFailing = "collection_failing"
	WhenNewAction         = "new_action"
	WhenExceptionReview   = "exception_review"
	WhenExceptionDrift    = "exception_drift"
	WhenCampaignOverdue   = "campaign_overdue"
	WhenCampaignRegressed = "campaign_regressed"
)

// Defaults of the alert rules' optional keys.
const (
	DefaultAlertDays = 7 // score_drop, control_regressed, new_action
	// DefaultReviewDays is exception_review's days: how long before an
	// exception's review date it fires.
	DefaultReviewDays = 14
	DefaultAlertRuns  = 3 // collection_failing
	// DefaultRegressedPoints is control_regressed's points: the fall, in
	// Secure Score points, of a met control that fires.
	DefaultRegressedPoints = 1.0
	// DefaultDigestOver is alerts.digest_over: a run that would send a
	// channel more messages than this sends it one digest instead.
	DefaultDigestOver = 5
)

// The keys of the alerting blocks; like the others, a public interface.
var (
	alertingTopKeys = []string{"channels", "alerts"}
	channelKeys     = []string{"name", "type", "url_env", "url_file", "secret_env", "secret_file",
		"smtp", "from", "to", "username", "password_env", "password_file", "ca_file", "security",
		"tenant_id", "app", "sender", "auth"}
	ruleKeys = []string{"name", "when", "points", "percent", "days", "runs", "tenants", "channels"}
	// alertsKeys are the keys of alerts: written as a mapping (the list of
	// rules alone is the older form, still read).
	alertsKeys = []string{"digest_over", "rules"}
)

// channelTypeKeys are the keys each channel type takes besides name and type.
func channelTypeKeys(typ string) []string {
	switch typ {
	case ChannelTeams, ChannelSlack:
		return []string{"url_env", "url_file"}
	case ChannelWebhook:
		return []string{"url_env", "url_file", "secret_env", "secret_file"}
	case ChannelEmail:
		return []string{"smtp", "from", "to", "username", "password_env", "password_file", "ca_file", "security", "auth", "tenant_id", "app"}
	case ChannelGraphMail:
		return []string{"tenant_id", "app", "sender", "to"}
	}
	return nil
}

// ruleWhenKeys are the keys each condition takes besides name, when and channels.
func ruleWhenKeys(when string) []string {
	switch when {
	case WhenScoreDrop:
		return []string{"points", "percent", "days"}
	case WhenControlRegressed:
		return []string{"points", "days"}
	case WhenCollectionFailing:
		return []string{"runs"}
	case WhenNewAction:
		return []string{"tenants", "days"}
	case WhenExceptionReview:
		return []string{"days"}
	}
	return nil
}

// Channel is one place alerts go. Its URL, signing secret and password are
// loaded from the environment or files and print as REDACTED.
type Channel struct {
	Name string
	Type string // ChannelTeams, ChannelSlack, ChannelWebhook, ChannelEmail or ChannelGraphMail
	// URL is where teams, slack and webhook channels post: a secret, since
	// whoever has a Teams or Slack webhook URL can post to the channel.
	URL    Secret
	Secret Secret // webhook: the key of the HMAC-SHA256 signature
	// Email: the SMTP server (host:port), the sender and the recipients
	// (addresses as written, validated), and the login when Username is set.
	SMTP     string
	From     string
	To       []string
	Username string
	Password Secret
	// RootCAs are the CAs of ca_file, which the SMTP server's certificate
	// must chain to; nil means the system's.
	RootCAs *x509.CertPool
	CAFile  string
	// Security is the email channel's SecuritySTARTTLS or SecurityTLS, as
	// written or by the port (SecurityTLS on 465).
	Security string
	// Auth is the email channel's login: "" (PLAIN, or LOGIN when the
	// server offers only that), AuthPlain, AuthLogin or AuthXOAUTH2, which
	// logs in as Username with a token of App in TenantID.
	Auth string
	// graph_mail, and email with auth: xoauth2: the MSSP's own tenant, the app that sends (its own app:,
	// or the file's), and the mailbox it sends as. To holds the recipients.
	TenantID string
	App      *App
	Sender   string
	// Source names where the URL (or password) came from without showing
	// it: "url from $FLEETSCORE_TEAMS_URL", "password from file smtp.txt".
	Source string
	Line   int // line of the channel's list item
}

// String describes the channel without its secrets.
func (c Channel) String() string {
	s := c.Type + " channel " + c.Name
	if c.Source != "" {
		s += " (" + c.Source + ")"
	}
	return s
}

// LogValue logs the channel without its secrets.
func (c Channel) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", c.Name), slog.String("type", c.Type), slog.String("source", c.Source))
}

var (
	_ fmt.Stringer   = Channel{}
	_ slog.LogValuer = Channel{}
)

// AlertRule is one alert rule: a condition and the channels it tells.
type AlertRule struct {
	Name string
	When string // one of the When* conditions
	// Points or Percent is score_drop's threshold: a fall of that many
	// Secure Score points, or percentage points of the score's percentage.
	// Points is also control_regressed's: how far a met control's score
	// must fall to fire (default DefaultRegressedPoints).
	Points, Percent float64
	Days            int // score_drop, control_regressed, new_action: the window in days
	Runs            int // collection_failing: failed collections in a row
	Tenants         int // new_action: at how many tenants at least
	Channels        []string
	Line            int // line of the rule's list item
}

var alertName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

const alertNameFix = "use letters, digits, dots, dashes and underscores, like soc-teams or big-drop"

// alertsBlock reads alerts:, either the list of rules or a mapping of
// digest_over: and rules: (the list); it returns the rules' entry and the
// digest_over (DefaultDigestOver unless set; 0 turns the digest off).
func (p *parser) alertsBlock(e entry) (entry, int) {
	if e.missing() || e.val.Kind != yaml.MappingNode {
		return e, DefaultDigestOver
	}
	if !slices.ContainsFunc(alertsKeys, func(k string) bool { return hasKey(e.val, k) }) {
		p.fail(e.key.Line, "alerts must be a list of rules, or a mapping of digest_over: and rules:",
			"start each rule with a dash: - name: below-target, or put the list under rules:")
		return entry{}, DefaultDigestOver
	}
	m := p.mapping(e.val, "alerts", alertsKeys)
	over := DefaultDigestOver
	if !m["digest_over"].missing() {
		if n, ok := p.integer(m["digest_over"], 0, 10000, "messages one run may send a channel before it sends one digest instead (0: never)", "5"); ok {
			over = n
		}
	}
	rules := m["rules"]
	if rules.missing() {
		p.fail(e.key.Line, "alerts: has no rules:", "list the alert rules under rules:, like rules: then - name: below-target, indented")
		return entry{}, over
	}
	return rules, over
}

// alerting reads the channels: and alerts: lists; every rule must name
// channels that exist, and every channel should be used.
func (p *parser) alerting(chs, rules entry) ([]Channel, []AlertRule) {
	channels := p.channels(chs)
	out := p.alertRules(rules, channels, !chs.missing())
	used := map[string]bool{}
	for _, r := range out {
		for _, c := range r.Channels {
			used[c] = true
		}
	}
	for _, c := range channels {
		if c.Name != "" && !used[c.Name] {
			p.warn(c.Line, fmt.Sprintf("channel %s is used by no alert rule", c.Name),
				"add it to the channels: of a rule under alerts:, or remove it")
		}
	}
	return channels, out
}

// list checks that e is a non-empty list; what is "channels" or "alerts".
func (p *parser) list(e entry, what, example string) ([]*yaml.Node, bool) {
	if e.missing() {
		return nil, false
	}
	if e.val.Kind != yaml.SequenceNode {
		p.fail(e.key.Line, what+" must be a list", "start each item with a dash: "+example)
		return nil, false
	}
	if len(e.val.Content) == 0 {
		p.fail(e.key.Line, "the "+what+" list is empty", "add an item, like "+example+", or remove "+what+":")
		return nil, false
	}
	return e.val.Content, true
}

// name reads the name: of a channel or rule, unique among seen.
func (p *parser) alertItemName(m map[string]entry, line int, what string, seen map[string]int) string {
	v, ok := p.scalar(m["name"], "a name", "name: soc-teams")
	switch {
	case !ok && !m["name"].missing():
		return ""
	case !ok || v == "":
		p.fail(line, "the "+what+" has no name", "add name: (the rules name channels by it, and messages show rule names); "+alertNameFix)
		return ""
	case !alertName.MatchString(v):
		p.fail(m["name"].key.Line, fmt.Sprintf("%s name %q has characters that are not allowed", what, v), alertNameFix)
		return ""
	}
	key := strings.ToLower(v)
	if prev, dup := seen[key]; dup {
		p.fail(m["name"].key.Line, fmt.Sprintf("%s name %s is used twice, on lines %d and %d", what, v, prev, m["name"].key.Line),
			"give each "+what+" its own name")
		return ""
	}
	seen[key] = m["name"].key.Line
	return v
}

// notFor reports keys that the item's kind does not take.
func (p *parser) notFor(m map[string]entry, common, taken []string, kind string, takers func(string) string) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if slices.Contains(common, k) || slices.Contains(taken, k) {
			continue
		}
		p.fail(m[k].key.Line, fmt.Sprintf("%s is not used by a %s", k, kind), "remove it; "+takers(k))
	}
}

// inlineSecrets reports keys that would write a channel's URL, secret or
// password into the file, never showing the value, and returns the node
// without them.
func (p *parser) inlineSecrets(n *yaml.Node) *yaml.Node {
	var kept []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		name := normalize(k.Value)
		var base, what string
		switch name {
		case "url", "webhookurl", "webhook", "uri", "endpoint", "hook", "hookurl":
			base, what = "url", "a webhook URL is a secret (whoever has it can post to the channel) and"
		case "secret", "signingsecret", "hmacsecret", "hmackey", "key", "token":
			base, what = "secret", "a signing secret"
		case "password", "smtppassword", "pass", "pwd":
			base, what = "password", "a password"
		}
		if base == "" {
			kept = append(kept, k, n.Content[i+1])
			continue
		}
		p.fail(k.Line, fmt.Sprintf("%s: %s is never written in the config", k.Value, what),
			fmt.Sprintf("put it in an environment variable and name it with %s_env, or in a file with %s_file", base, base))
	}
	c := *n
	c.Content = kept
	return &c
}

// hints are the keys that the unknown keys of n look like misspellings of:
// those keys are not also reported missing.
func hints(n *yaml.Node, known []string) map[string]bool {
	out := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !slices.Contains(known, k) {
			if s := suggest(k, known); s != "" {
				out[s] = true
			}
		}
	}
	return out
}

// secretOf loads the secret named by base_env or base_file; ok is false
// when neither is set or it could not be loaded (reported).
func (p *parser) secretOf(m map[string]entry, base, holds string) (s Secret, source string, ok bool) {
	p.secrets(UseChannels, func() { s, source, ok = p.loadSecret(m, base, holds) })
	return s, source, ok
}

func (p *parser) loadSecret(m map[string]entry, base, holds string) (Secret, string, bool) {
	envE, fileE := m[base+"_env"], m[base+"_file"]
	switch {
	case !envE.missing() && !fileE.missing():
		p.fail(fileE.key.Line, fmt.Sprintf("%s_env and %s_file are both set", base, base), "keep one of them")
	case !envE.missing():
		if name, v, ok := p.env(envE, holds); ok {
			return Secret(strings.TrimSpace(v)), base + " from $" + name, true
		}
	case !fileE.missing():
		written, ok := p.scalar(fileE, "a file path", base+"_file: secrets/"+base+".txt")
		if !ok {
			return "", "", false
		}
		data, ok := p.read(fileE.key.Line, holds, written)
		if !ok {
			return "", "", false
		}
		s := strings.TrimSpace(string(data))
		switch {
		case s == "":
			p.fail(fileE.key.Line, fmt.Sprintf("%s file %s is empty", holds, written), "put the value in it, alone on one line")
		case strings.Contains(s, "\n"):
			p.fail(fileE.key.Line, fmt.Sprintf("%s file %s has more than one line", holds, written), "put only the value in it, alone on one line")
		default:
			return Secret(s), base + " from file " + written, true
		}
	}
	return "", "", false
}

var channelTypeAliases = map[string]string{
	"msteams": ChannelTeams, "microsoftteams": ChannelTeams, "teamsworkflow": ChannelTeams, "teamsworkflows": ChannelTeams, "workflow": ChannelTeams,
	"mail": ChannelEmail, "smtp": ChannelEmail, "e-mail": ChannelEmail, "smtps": ChannelEmail,
	"graphmail": ChannelGraphMail, "graph": ChannelGraphMail, "sendmail": ChannelGraphMail, "msgraph": ChannelGraphMail,
	"exchange": ChannelGraphMail, "exchangeonline": ChannelGraphMail, "outlook": ChannelGraphMail, "microsoft365": ChannelGraphMail,
	"http": ChannelWebhook, "https": ChannelWebhook, "json": ChannelWebhook, "generic": ChannelWebhook, "custom": ChannelWebhook,
	"slackwebhook": ChannelSlack,
}

func (p *parser) channels(e entry) []Channel {
	items, ok := p.list(e, "channels", "- name: soc-teams")
	if !ok {
		return nil
	}
	var out []Channel
	seen := map[string]int{}
	types := []string{ChannelTeams, ChannelSlack, ChannelWebhook, ChannelEmail, ChannelGraphMail}
	for _, item := range items {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			p.fail(item.Line, "a channel must be a mapping with name: and type:",
				"write it like - name: soc-teams, and type: teams on the next line, indented")
			continue
		}
		m := p.mapping(p.inlineSecrets(item), "channel", channelKeys)
		c := Channel{Line: item.Line, Name: p.alertItemName(m, item.Line, "channel", seen)}
		label := c.Name
		if label == "" {
			label = fmt.Sprintf("on line %d", c.Line)
		}
		// A channel is kept even when broken, so that the rules naming it
		// are not also told it does not exist.
		v, ok := p.scalar(m["type"], "a channel type", "type: teams")
		switch {
		case !ok && m["type"].missing():
			p.fail(c.Line, fmt.Sprintf("channel %s has no type", label), "add type: teams, slack, webhook, email or graph_mail")
			out = append(out, c)
			continue
		case !ok:
			out = append(out, c)
			continue
		}
		typ := strings.ToLower(v)
		if a, alias := channelTypeAliases[normalize(typ)]; alias && !slices.Contains(types, typ) {
			p.fail(m["type"].key.Line, fmt.Sprintf("channel type %q is not known", v), fmt.Sprintf("did you mean type: %s?", a))
			out = append(out, c)
			continue
		}
		if !slices.Contains(types, typ) {
			p.fail(m["type"].key.Line, fmt.Sprintf("channel type %q is not known", v), "use teams, slack, webhook, email or graph_mail")
			out = append(out, c)
			continue
		}
		c.Type = typ
		p.notFor(m, []string{"name", "type"}, channelTypeKeys(typ), typ+" channel", func(k string) string {
			var users []string
			for _, t := range types {
				if slices.Contains(channelTypeKeys(t), k) {
					users = append(users, t)
				}
			}
			return k + " is for " + strings.Join(users, " and ") + " channels"
		})
		hinted := hints(item, channelKeys)
		switch typ {
		case ChannelEmail:
			p.emailChannel(&c, m, label, hinted)
		case ChannelGraphMail:
			p.graphMailChannel(&c, m, label, hinted)
		default:
			p.webhookChannel(&c, m, label, hinted)
		}
		out = append(out, c)
	}
	return out
}

// webhookChannel reads the URL (and, for webhook, the secret) of a teams,
// slack or webhook channel.
func (p *parser) webhookChannel(c *Channel, m map[string]entry, label string, hinted map[string]bool) {
	where := map[string]string{
		ChannelTeams:   "the URL of the Teams workflow (Workflows in the channel's ... menu, \"Post to a channel when a webhook request is received\")",
		ChannelSlack:   "the Slack incoming webhook URL (api.slack.com/apps, Incoming Webhooks)",
		ChannelWebhook: "the URL to post to",
	}[c.Type]
	u, src, ok := p.secretOf(m, "url", "the webhook URL")
	if !ok && m["url_env"].missing() && m["url_file"].missing() && !hinted["url_env"] && !hinted["url_file"] {
		p.fail(c.Line, fmt.Sprintf("%s channel %s has no URL", c.Type, label),
			"add url_env: with the name of an environment variable holding "+where+" (or url_file: with a file holding it)")
	}
	if ok {
		line := m["url_env"].line()
		if line == 0 {
			line = m["url_file"].line()
		}
		// The URL is never shown: it is the secret.
		pu, err := url.Parse(u.Reveal())
		switch {
		case err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http"):
			p.fail(line, fmt.Sprintf("the %s is not a URL (it is not shown: it is a secret)", src),
				"set it to "+where+", starting with https://")
			ok = false
		case pu.Scheme == "http" && !loopback(pu.Hostname()):
			p.fail(line, fmt.Sprintf("the %s is not https", src),
				"use the https URL: plain http would send the alerts, and the URL itself, readable on the way (http is allowed only to this machine)")
			ok = false
		case c.Type == ChannelTeams && (strings.HasSuffix(pu.Hostname(), "webhook.office.com") || pu.Hostname() == "outlook.office.com"):
			p.warn(line, fmt.Sprintf("the %s is an Office 365 connector's incoming webhook, which Microsoft retired", src),
				"create a workflow in Teams (\"Post to a channel when a webhook request is received\") and use its URL")
		}
		if ok {
			c.URL, c.Source = u, src
		}
	}
	if c.Type != ChannelWebhook {
		return
	}
	s, _, ok := p.secretOf(m, "secret", "the webhook signing secret")
	switch {
	case !ok && m["secret_env"].missing() && m["secret_file"].missing() && !hinted["secret_env"] && !hinted["secret_file"]:
		p.fail(c.Line, fmt.Sprintf("webhook channel %s has no signing secret", label),
			"add secret_env: with the name of an environment variable holding a secret the receiver shares (make one with openssl rand -hex 32)")
	case ok && len(s.Reveal()) < 16:
		line := m["secret_env"].line()
		if line == 0 {
			line = m["secret_file"].line()
		}
		p.fail(line, fmt.Sprintf("the signing secret of webhook channel %s is shorter than 16 characters", label),
			"use a long random one, e.g. from openssl rand -hex 32")
	case ok:
		c.Secret = s
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p *parser) emailChannel(c *Channel, m map[string]entry, label string, hinted map[string]bool) {
	if v, ok := p.scalar(m["smtp"], "host:port", "smtp: smtp.example.com:587"); ok {
		host, port, err := net.SplitHostPort(v)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil && !strings.Contains(v, ":"):
			p.fail(m["smtp"].key.Line, fmt.Sprintf("smtp %q has no port", v), fmt.Sprintf("write host:port, like smtp: %s:587 (the submission port, with STARTTLS)", v))
		case err != nil || host == "" || perr != nil || n < 1 || n > 65535:
			p.fail(m["smtp"].key.Line, fmt.Sprintf("smtp %q is not host:port", v), "write it like smtp: smtp.example.com:587")
		default:
			c.SMTP = v
			c.Security = SecuritySTARTTLS
			if n == 465 {
				c.Security = SecurityTLS
			}
		}
	} else if m["smtp"].missing() && !hinted["smtp"] {
		p.fail(c.Line, fmt.Sprintf("email channel %s has no smtp server", label), "add smtp: with the mail server's host:port, like smtp.example.com:587")
	}
	if v, ok := p.scalar(m["from"], "an e-mail address", "from: fleetscore@example.com"); ok {
		if a, err := mail.ParseAddress(v); err != nil {
			p.fail(m["from"].key.Line, fmt.Sprintf("from %q is not an e-mail address", v), "write it like from: fleetscore@example.com")
		} else {
			c.From = a.String()
		}
	} else if m["from"].missing() && !hinted["from"] {
		p.fail(c.Line, fmt.Sprintf("email channel %s has no from address", label), "add from: with the sender's address, one the server lets this login send as")
	}
	p.security(c, m)
	if !hinted["to"] {
		c.To = p.addresses(m["to"], c.Line, "email channel "+label)
	}
	if v, ok := p.scalar(m["username"], "a user name", "username: fleetscore@example.com"); ok {
		c.Username = v
	}
	if !p.emailAuth(c, m, label, hinted) {
		p.emailPassword(c, m, label, hinted)
	}
	p.caFile(c, m)
}

// emailPassword reads an email channel's password_env or password_file.
func (p *parser) emailPassword(c *Channel, m map[string]entry, label string, hinted map[string]bool) {
	pw, src, ok := p.secretOf(m, "password", "the SMTP password")
	hasPW := !m["password_env"].missing() || !m["password_file"].missing()
	switch {
	case c.Username != "" && !hasPW && !hinted["password_env"] && !hinted["password_file"]:
		p.fail(m["username"].key.Line, fmt.Sprintf("email channel %s has a username but no password", label),
			"add password_env: with the name of an environment variable holding the password (or password_file:)")
	case c.Username == "" && hasPW && m["username"].missing():
		line := m["password_env"].line()
		if line == 0 {
			line = m["password_file"].line()
		}
		p.fail(line, fmt.Sprintf("email channel %s has a password but no username", label), "add username: with the login the password belongs to")
	case ok:
		c.Password, c.Source = pw, src
	}
}

// caFile reads an email channel's ca_file.
func (p *parser) caFile(c *Channel, m map[string]entry) {
	if written, ok := p.scalar(m["ca_file"], "a file path", "ca_file: secrets/smtp-ca.pem"); ok {
		if data, ok := p.read(m["ca_file"].key.Line, "certificate", written); ok {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(data) {
				p.fail(m["ca_file"].key.Line, fmt.Sprintf("ca_file %s holds no PEM certificate", written),
					"give the PEM file (-----BEGIN CERTIFICATE-----) of the CA that signed the SMTP server's certificate")
			} else {
				c.RootCAs, c.CAFile = pool, written
			}
		}
	}
}

// emailAuth reads an email channel's auth:, and for xoauth2 its tenant_id
// and app; it reports whether the login is xoauth2 (no password then).
func (p *parser) emailAuth(c *Channel, m map[string]entry, label string, hinted map[string]bool) bool {
	e := m["auth"]
	if v, ok := p.scalar(e, "plain, login or xoauth2", "auth: xoauth2"); ok {
		switch w := normalize(v); w {
		case AuthPlain, AuthLogin, AuthXOAUTH2:
			c.Auth = w
		case "oauth", "oauth2", "modern", "modernauth", "token":
			p.fail(e.key.Line, fmt.Sprintf("auth %q is not a login", v), "did you mean auth: xoauth2?")
		case "none":
			p.fail(e.key.Line, fmt.Sprintf("auth %q is not a login", v), "remove auth: and username: to send without logging in")
		default:
			p.fail(e.key.Line, fmt.Sprintf("auth %q is not a login", v), "use auth: plain, login or xoauth2 (leave it out for PLAIN, or LOGIN when the server offers only that)")
		}
	}
	if c.Auth != AuthXOAUTH2 {
		for _, k := range []string{"tenant_id", "app"} {
			if !m[k].missing() {
				p.fail(m[k].key.Line, fmt.Sprintf("%s is used by an email channel only with auth: xoauth2", k), "add auth: xoauth2, or remove "+k)
			}
		}
		return false
	}
	if c.Username == "" && !hinted["username"] {
		p.fail(e.key.Line, fmt.Sprintf("email channel %s logs in with xoauth2 but has no username", label),
			"add username: with the address of the mailbox the app sends as")
	}
	for _, k := range []string{"password_env", "password_file"} {
		if !m[k].missing() {
			p.fail(m[k].key.Line, fmt.Sprintf("email channel %s logs in with xoauth2, which takes no password", label),
				"remove "+k+": the login is the app's token for Exchange Online")
		}
	}
	p.channelTenant(c, m, label, hinted, "email", "the Directory (tenant) ID of the MSSP's own tenant, the one the mailbox is in")
	p.channelApp(c, m, label, hinted, "an app registered in the MSSP's tenant with the SMTP.SendAsApp permission (Office 365 Exchange Online)")
	return true
}

// channelTenant reads a mail channel's tenant_id.
func (p *parser) channelTenant(c *Channel, m map[string]entry, label string, hinted map[string]bool, kind, what string) {
	if v, ok := p.scalar(m["tenant_id"], "a GUID", "tenant_id: 8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"); ok {
		if id, valid := guid(v); valid {
			c.TenantID = id
		} else {
			p.fail(m["tenant_id"].key.Line, fmt.Sprintf("tenant_id %q of %s channel %s is not a GUID", v, kind, label),
				"write "+what+" (Microsoft Entra admin center, Overview)")
		}
	} else if m["tenant_id"].missing() && !hinted["tenant_id"] {
		p.fail(c.Line, fmt.Sprintf("%s channel %s has no tenant_id", kind, label), "add tenant_id: with "+what)
	}
}

// channelApp reads a mail channel's app: (its secrets are for sending
// alerts), or takes the file's.
func (p *parser) channelApp(c *Channel, m map[string]entry, label string, hinted map[string]bool, what string) {
	switch ae := m["app"]; {
	case !ae.missing():
		prev := p.appUse
		p.appUse = UseChannels
		c.App = p.app(ae)
		p.appUse = prev
	case p.defaultApp != nil:
		c.App = p.defaultApp
	case !hinted["app"]:
		p.fail(c.Line, fmt.Sprintf("%s channel %s has no app, and there is no default app", c.Type, label),
			"add app: (client_id: and certificate:) under the channel, for "+what)
	}
	if c.App != nil {
		c.Source = "app " + c.App.ClientID
	}
}

// security reads an email channel's security: starttls or tls; without
// it the port decides (tls on 465). Nothing is ever sent unencrypted.
func (p *parser) security(c *Channel, m map[string]entry) {
	e := m["security"]
	v, ok := p.scalar(e, "starttls or tls", "security: starttls")
	if !ok {
		return
	}
	switch w := normalize(v); w {
	case SecuritySTARTTLS, SecurityTLS:
		c.Security = w
	case "ssl", "smtps", "implicit", "implicittls", "tlsimplicit", "ssltls":
		p.fail(e.key.Line, fmt.Sprintf("security %q is not a mode", v), "did you mean security: tls (TLS from the first byte, as on port 465)?")
		return
	case "none", "plain", "plaintext", "off", "false", "no", "insecure":
		p.fail(e.key.Line, fmt.Sprintf("security %q: fleetscore never sends mail or a password unencrypted", v),
			"use security: starttls (port 587) or security: tls (port 465)")
		return
	default:
		p.fail(e.key.Line, fmt.Sprintf("security %q is not a mode", v), "use security: starttls (port 587, the default) or security: tls (port 465)")
		return
	}
	_, port, _ := net.SplitHostPort(c.SMTP)
	switch {
	case port == "465" && c.Security == SecuritySTARTTLS:
		p.warn(e.key.Line, "smtp port 465 expects TLS from the first byte, but security is starttls", "write security: tls, or use the submission port 587")
	case port == "587" && c.Security == SecurityTLS:
		p.warn(e.key.Line, "smtp port 587 speaks STARTTLS, but security is tls (TLS from the first byte)", "write security: starttls, or use port 465")
	}
}

// graphMailChannel reads a graph_mail channel: the MSSP's tenant, the app
// (its own app: block, or the file's), the mailbox it sends as and the
// recipients.
func (p *parser) graphMailChannel(c *Channel, m map[string]entry, label string, hinted map[string]bool) {
	p.channelTenant(c, m, label, hinted, "graph_mail", "the Directory (tenant) ID of the MSSP's own tenant, the one the sending mailbox is in")
	if v, ok := p.scalar(m["sender"], "an e-mail address", "sender: fleetscore@mssp.example"); ok {
		if a, err := mail.ParseAddress(v); err != nil {
			p.fail(m["sender"].key.Line, fmt.Sprintf("sender %q is not an e-mail address", v), "write the mailbox's address, like sender: fleetscore@mssp.example")
		} else {
			c.Sender = a.Address
		}
	} else if m["sender"].missing() && !hinted["sender"] {
		p.fail(c.Line, fmt.Sprintf("graph_mail channel %s has no sender", label),
			"add sender: with the address of the mailbox (a user or shared mailbox in the tenant) the app sends as")
	}
	if !hinted["to"] {
		c.To = p.addresses(m["to"], c.Line, "graph_mail channel "+label)
	}
	p.channelApp(c, m, label, hinted, "an app registered in the MSSP's tenant with the Mail.Send application permission")
}

// addresses reads to:, one address or a list of them.
func (p *parser) addresses(e entry, line int, label string) []string {
	if e.missing() {
		p.fail(line, fmt.Sprintf("%s has no recipients", label), "add to: [soc@example.com] with the addresses to mail")
		return nil
	}
	return p.addressList(e)
}

// addressList reads a key holding one e-mail address or a list of them
// (to:, report_to:), each validated.
func (p *parser) addressList(e entry) []string {
	key := e.key.Value
	var nodes []*yaml.Node
	switch e.val.Kind {
	case yaml.ScalarNode:
		nodes = []*yaml.Node{e.val}
	case yaml.SequenceNode:
		nodes = e.val.Content
	default:
		p.fail(e.key.Line, key+" must be a list of e-mail addresses", "write it like "+key+": [soc@example.com, noc@example.com]")
		return nil
	}
	if len(nodes) == 0 {
		p.fail(e.key.Line, "the "+key+" list is empty", "write it like "+key+": [soc@example.com]")
		return nil
	}
	var out []string
	for _, n := range nodes {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode {
			p.fail(n.Line, "an address in "+key+" must be a plain value", "write it like "+key+": [soc@example.com]")
			continue
		}
		a, err := mail.ParseAddress(strings.TrimSpace(n.Value))
		if err != nil {
			p.fail(n.Line, fmt.Sprintf("%s %q is not an e-mail address", key, n.Value), "write it like soc@example.com, or \"SOC <soc@example.com>\" in quotes")
			continue
		}
		out = append(out, a.String())
	}
	return out
}

var whenAliases = map[string]string{
	"below": WhenBelowTarget, "belowtarget": WhenBelowTarget, "target": WhenBelowTarget, "undertarget": WhenBelowTarget,
	"drop": WhenScoreDrop, "scoredrop": WhenScoreDrop, "fall": WhenScoreDrop, "decrease": WhenScoreDrop,
	"regression": WhenControlRegressed, "regressed": WhenControlRegressed, "controlregression": WhenControlRegressed,
	"failing": WhenCollectionFailing, "failed": WhenCollectionFailing, "collectionfailed": WhenCollectionFailing, "collectionfailure": WhenCollectionFailing,
	"new": WhenNewAction, "newaction": WhenNewAction, "newcontrol": WhenNewAction, "newrecommendation": WhenNewAction,
}

func (p *parser) alertRules(e entry, channels []Channel, wroteChannels bool) []AlertRule {
	items, ok := p.list(e, "alerts", "- name: below-target")
	if !ok {
		return nil
	}
	conditions := []string{WhenBelowTarget, WhenScoreDrop, WhenControlRegressed, WhenCollectionFailing, WhenNewAction, WhenExceptionReview, WhenExceptionDrift,
		WhenCampaignOverdue, WhenCampaignRegressed}
	known := map[string]bool{}
	var names []string
	for _, c := range channels {
		if c.Name != "" {
			known[c.Name] = true
			names = append(names, c.Name)
		}
	}
	var out []AlertRule
	seen := map[string]int{}
	for _, item := range items {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			p.fail(item.Line, "an alert rule must be a mapping with name:, when: and channels:",
				"write it like - name: below-target, then when: below_target and channels: [soc-teams], indented")
			continue
		}
		m := p.mapping(item, "alert", ruleKeys)
		hinted := hints(item, ruleKeys)
		r := AlertRule{Line: item.Line, Name: p.alertItemName(m, item.Line, "alert rule", seen)}
		label := r.Name
		if label == "" {
			label = fmt.Sprintf("on line %d", r.Line)
		}
		if !hinted["channels"] {
			r.Channels = p.ruleChannels(m["channels"], r.Line, label, known, names, wroteChannels)
		}
		v, ok := p.scalar(m["when"], "a condition", "when: below_target")
		if !ok {
			if m["when"].missing() && !hinted["when"] {
				p.fail(r.Line, fmt.Sprintf("alert rule %s has no when", label), "add when: with one of "+strings.Join(conditions, ", "))
			}
			continue
		}
		when := strings.ToLower(v)
		if !slices.Contains(conditions, when) {
			fix := "use one of " + strings.Join(conditions, ", ")
			if a, alias := whenAliases[normalize(when)]; alias {
				fix = "did you mean when: " + a + "?"
			} else if s := suggest(when, conditions); s != "" {
				fix = "did you mean when: " + s + "?"
			}
			p.fail(m["when"].key.Line, fmt.Sprintf("when %q is not a condition", v), fix)
			continue
		}
		r.When = when
		p.notFor(m, []string{"name", "when", "channels"}, ruleWhenKeys(when), when+" rule", func(k string) string {
			var users []string
			for _, c := range conditions {
				if slices.Contains(ruleWhenKeys(c), k) {
					users = append(users, c)
				}
			}
			return k + " is for " + strings.Join(users, " and ") + " rules"
		})
		if when == WhenExceptionReview {
			r.Days = DefaultReviewDays
			if n, ok := p.integer(m["days"], 1, 366, "days before an exception's review date the rule fires", "14"); ok {
				r.Days = n
			}
		} else if slices.Contains(ruleWhenKeys(when), "days") {
			r.Days = DefaultAlertDays
			if n, ok := p.integer(m["days"], 1, 90, "days the rule looks back (Graph keeps 90)", "7"); ok {
				r.Days = n
			}
		}
		switch when {
		case WhenScoreDrop:
			pts, pct := m["points"], m["percent"]
			switch {
			case !pts.missing() && !pct.missing():
				p.fail(pct.key.Line, fmt.Sprintf("alert rule %s has both points and percent", label),
					"keep one: points (Secure Score points) or percent (percentage points); write two rules for both")
			case !pts.missing():
				r.Points, _ = p.threshold(pts, 10000, "Secure Score points (currentScore) the score must fall by", "10")
			case !pct.missing():
				r.Percent, _ = p.threshold(pct, 100, "percentage points the score's percentage (current / max) must fall by", "5")
			case !hinted["points"] && !hinted["percent"]:
				p.fail(r.Line, fmt.Sprintf("alert rule %s says how far the score must fall in neither points nor percent", label),
					"add points: 10 (Secure Score points) or percent: 5 (percentage points of the score)")
			}
		case WhenControlRegressed:
			r.Points = DefaultRegressedPoints
			if pts := m["points"]; !pts.missing() {
				r.Points, _ = p.threshold(pts, 10000, "Secure Score points a met control's score must fall by to fire", "1")
			}
		case WhenCollectionFailing:
			r.Runs = DefaultAlertRuns
			if n, ok := p.integer(m["runs"], 1, 100, "failed collections in a row that fire the rule", "3"); ok {
				r.Runs = n
			}
		case WhenNewAction:
			if m["tenants"].missing() && !hinted["tenants"] {
				p.fail(r.Line, fmt.Sprintf("alert rule %s has no tenants", label),
					"add tenants: N, the number of tenants a new recommended action must be open at to fire, e.g. tenants: 5")
			} else if n, ok := p.integer(m["tenants"], 1, 100000, "tenants a new action must be open at", "5"); ok {
				r.Tenants = n
			}
		}
		out = append(out, r)
	}
	return out
}

// threshold reads a number above 0 and at most hi.
func (p *parser) threshold(e entry, hi float64, meaning, example string) (float64, bool) {
	name := e.key.Value
	v, ok := p.scalar(e, "a number", name+": "+example)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "%")), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.fail(e.key.Line, fmt.Sprintf("%s must be a number, not %q", name, v),
			fmt.Sprintf("write it like %s: %s (the %s)", name, example, meaning))
		return 0, false
	}
	if f <= 0 || f > hi {
		p.fail(e.key.Line, fmt.Sprintf("%s %g is out of range", name, f),
			fmt.Sprintf("it is the %s: above 0 and at most %g, e.g. %s: %s", meaning, hi, name, example))
		return 0, false
	}
	return f, true
}

// ruleChannels reads a rule's channels: names of channels defined under
// channels:.
func (p *parser) ruleChannels(e entry, line int, label string, known map[string]bool, names []string, wroteChannels bool) []string {
	if e.missing() {
		p.fail(line, fmt.Sprintf("alert rule %s has no channels", label), "add channels: [name] with the channels to tell, defined under channels:")
		return nil
	}
	var nodes []*yaml.Node
	switch e.val.Kind {
	case yaml.SequenceNode:
		nodes = e.val.Content
	case yaml.ScalarNode:
		nodes = []*yaml.Node{e.val}
	default:
		p.fail(e.key.Line, "channels must be a list of channel names", "write it like channels: [soc-teams, ops-mail]")
		return nil
	}
	if len(nodes) == 0 {
		p.fail(e.key.Line, fmt.Sprintf("alert rule %s has an empty channels list", label), "name at least one channel, like channels: [soc-teams]")
		return nil
	}
	var out []string
	for _, n := range nodes {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode {
			p.fail(n.Line, "a channel in channels must be a name", "write it like channels: [soc-teams, ops-mail]")
			continue
		}
		name := strings.TrimSpace(n.Value)
		switch {
		case known[name]:
			if slices.Contains(out, name) {
				p.fail(n.Line, fmt.Sprintf("channel %s is listed twice", name), "list each channel once")
				continue
			}
			out = append(out, name)
		case !wroteChannels:
			p.fail(n.Line, fmt.Sprintf("channel %s is not defined: there is no channels: list", name),
				"add a channels: list with a channel named "+name+" (its type and URL or SMTP server)")
		case len(names) > 0:
			fix := "the channels are " + strings.Join(names, ", ")
			if s := suggest(name, names); s != "" {
				fix = "did you mean " + s + "?"
			}
			p.fail(n.Line, fmt.Sprintf("channel %s is not defined under channels:", name), fix)
		}
		// A channel whose own definition failed was reported there.
	}
	return out
}

// hasKey reports whether mapping n has key k.
func hasKey(n *yaml.Node, k string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return true
		}
	}
	return false
}
