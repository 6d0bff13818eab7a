package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// nasty is a name that means something to Slack's mrkdwn and to Markdown.
const nasty = "*bold* <http://x|y> & _i_"

// capture is a webhook receiver that keeps the bodies it took. (An internal
// test cannot use alerttest, which imports this package.)
func capture(t *testing.T) (url func() string, bodies func() [][]byte) {
	t.Helper()
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return func() string { return srv.URL }, func() [][]byte { mu.Lock(); defer mu.Unlock(); return got }
}

// digestOf200 is the digest the engine builds of 200 queued alert
// messages, each about a tenant with a long, nasty name, with its page set
// as Engine.send sets it.
func digestOf200() Message {
	at := time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)
	var list []Delivery
	for i := range 200 {
		name := fmt.Sprintf("%s Tenant %03d %s", nasty, i, strings.Repeat("Ltd. ", 40))
		list = append(list, Delivery{ID: int64(i + 1), AlertID: int64(i + 1), Channel: "soc", CreatedAt: at, Message: Message{
			Event: Firing, Rule: "below-target", When: "below_target", TenantID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Tenant: name,
			Title: "below-target: " + name, Summary: name + "'s Secure Score is 41.3% (388.83 / 941 points), below its 75% target.", OpenedAt: at, At: at}})
	}
	m := digest(list, at).Message
	e := &Engine{PublicURL: "https://fleetscore.example.com/"}
	m.Page = e.page(m)
	return m
}

// hugeAlert is one alert whose tenant name and reason are far over every
// limit, with nasty characters throughout.
func hugeAlert() Message {
	at := time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)
	name := strings.Repeat(nasty+" ", 1000) // 26,000 characters, most of them escaped
	m := Message{AlertID: 7, Event: Firing, Rule: "big-drop", When: "score_drop", TenantID: "11111111-1111-1111-1111-111111111111",
		Tenant: name, Title: "big-drop: " + name, Summary: name + "'s Secure Score fell 10.00 points within 7 days.",
		Reason: strings.Repeat("<Require MFA> regressed −10 pts; ", 1000),
		Facts:  []Fact{{"Tenant", name}, {name, "10.00 points"}, {"Tenant ID", "11111111-1111-1111-1111-111111111111"}},
		Link:   "https://security.microsoft.com/securescore?viewid=actions", OpenedAt: at, At: at}
	e := &Engine{PublicURL: "https://fleetscore.example.com"}
	m.Page = e.page(m)
	return m
}

// slackPosted is the Block Kit message as posted, decoded.
type slackPosted struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type     string            `json:"type"`
		Text     *slackText        `json:"text"`
		Fields   []slackText       `json:"fields"`
		Elements []json.RawMessage `json:"elements"`
	} `json:"blocks"`
}

// checkSlack asserts Slack's limits on a posted message
// (https://api.slack.com/reference/block-kit/blocks) and returns every
// mrkdwn text in it.
func checkSlack(t *testing.T, body []byte) (slackPosted, []string) {
	t.Helper()
	var p slackPosted
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if n := textLen(p.Text); n > slackTextMax {
		t.Errorf("top-level text of %d characters; capped at %d", n, slackTextMax)
	}
	if len(p.Blocks) > 50 {
		t.Errorf("%d blocks; Slack takes 50", len(p.Blocks))
	}
	texts := []string{p.Text}
	for i, b := range p.Blocks {
		switch b.Type {
		case "header":
			if n := textLen(b.Text.Text); n > slackHeaderMax || b.Text.Type != "plain_text" {
				t.Errorf("block %d: header of %d characters (%s)", i, n, b.Text.Type)
			}
		case "section":
			if b.Text != nil {
				if n := textLen(b.Text.Text); n > slackTextMax {
					t.Errorf("block %d: section text of %d characters; Slack refuses over %d", i, n, slackTextMax)
				}
				texts = append(texts, b.Text.Text)
			}
			if len(b.Fields) > slackFieldsMax {
				t.Errorf("block %d: %d fields", i, len(b.Fields))
			}
			for _, f := range b.Fields {
				if n := textLen(f.Text); n > slackFieldMax {
					t.Errorf("block %d: field of %d characters; Slack refuses over %d", i, n, slackFieldMax)
				}
				texts = append(texts, f.Text)
			}
		case "context", "actions":
			for _, e := range b.Elements {
				var el struct{ Type, Text, URL string }
				var btn struct {
					Text slackText
					URL  string
				}
				_ = json.Unmarshal(e, &el)
				_ = json.Unmarshal(e, &btn)
				if el.Type == "mrkdwn" {
					if n := textLen(el.Text); n > slackTextMax {
						t.Errorf("block %d: context text of %d characters", i, n)
					}
					texts = append(texts, el.Text)
				}
				if el.Type == "button" && (textLen(btn.Text.Text) > 75 || len(btn.URL) > slackURLMax) {
					t.Errorf("block %d: button %q to %d characters of URL", i, btn.Text.Text, len(btn.URL))
				}
			}
		}
	}
	return p, texts
}

// ourLinks are the only <...> a message may hold: fleetscore's own link.
var ourLinks = regexp.MustCompile(`<https://fleetscore\.example\.com/[^|<>]*\|[^<>]*>`)

// checkSlackEscaped asserts that no text holds an unescaped <, > or &
// except fleetscore's own link and Slack's escapes.
func checkSlackEscaped(t *testing.T, texts []string) {
	t.Helper()
	for _, s := range texts {
		s = ourLinks.ReplaceAllString(s, "")
		s = strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "").Replace(s)
		if strings.ContainsAny(s, "<>&") {
			t.Errorf("unescaped <, > or & in %.200q", s)
		}
	}
}

func TestSlackDigestOf200StaysUnderTheLimits(t *testing.T) {
	url, bodies := capture(t)
	m := digestOf200()
	if err := NewSlack("s", url, nil).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p, texts := checkSlack(t, bodies()[0])
	checkSlackEscaped(t, texts)
	t.Logf("Slack digest of 200: %d bytes, %d blocks", len(bodies()[0]), len(p.Blocks))
	fields := 0
	for _, b := range p.Blocks {
		fields += len(b.Fields)
	}
	want := fmt.Sprintf("… and %d more: <https://fleetscore.example.com/alerts|see them all in fleetscore>.", 200-fields)
	if fields == 0 || fields >= 200 || !slices.Contains(texts, want) {
		t.Errorf("%d of 200 alerts shown; want the rest as %q", fields, want)
	}
	for _, b := range p.Blocks {
		for _, f := range b.Fields {
			if !strings.HasPrefix(f.Text, "*FIRING below-target: *bold* &lt;http://x|y&gt; &amp; _i_ Tenant") {
				t.Fatalf("field %.300q: the name is not escaped as Slack says", f.Text)
			}
		}
	}
}

func TestSlackHugeAlertStaysUnderTheLimits(t *testing.T) {
	url, bodies := capture(t)
	if err := NewSlack("s", url, nil).Send(context.Background(), hugeAlert()); err != nil {
		t.Fatal(err)
	}
	p, texts := checkSlack(t, bodies()[0])
	checkSlackEscaped(t, texts)
	if !strings.HasPrefix(p.Text, "FIRING · big-drop: *bold* &lt;http://x|y&gt; &amp; _i_ ") || !strings.HasSuffix(p.Text, "…") {
		t.Errorf("top-level text %.200q… %q: want it escaped and cut", p.Text, p.Text[len(p.Text)-20:])
	}
	if !strings.Contains(string(bodies()[0]), `"url":"https://fleetscore.example.com/tenants/11111111-1111-1111-1111-111111111111"`) {
		t.Error("no button to the tenant's page in fleetscore")
	}
}

// teamsPosted is the card as posted, decoded.
type teamsPosted struct {
	Attachments []struct {
		Content struct {
			Body []struct {
				Type, Text string
				Facts      []struct{ Title, Value string }
			}
			Actions []struct{ Type, Title, URL string }
		}
	}
}

func postTeams(t *testing.T, m Message) (teamsPosted, []byte) {
	t.Helper()
	url, bodies := capture(t)
	if err := NewTeams("t", url, nil).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	body := bodies()[0]
	if len(body) >= 28*1024 {
		t.Errorf("card of %d bytes; Teams refuses about 28 KB", len(body))
	}
	var p teamsPosted
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p, body
}

func TestTeamsDigestOf200StaysUnderTheLimits(t *testing.T) {
	p, body := postTeams(t, digestOf200())
	card := p.Attachments[0].Content
	shown := 0
	var last string
	for _, b := range card.Body {
		shown += len(b.Facts)
		if b.Type == "TextBlock" && strings.HasPrefix(b.Text, "… and ") {
			last = b.Text
		}
	}
	want := fmt.Sprintf("… and %d more: [see them all in fleetscore](https://fleetscore.example.com/alerts).", 200-shown)
	if shown == 0 || shown >= 200 || last != want {
		t.Errorf("%d of 200 alerts shown, then %q; want %q", shown, last, want)
	}
	t.Logf("Teams digest of 200: %d bytes, %d alerts shown", len(body), shown)
	// The card is filled: one more fact would not fit.
	if len(body) < teamsMaxBytes-2*(teamsNameMax+teamsValueMax)*6 {
		t.Errorf("card of %d bytes holds %d facts; more would fit under %d", len(body), shown, teamsMaxBytes)
	}
	for _, b := range card.Body {
		for _, f := range b.Facts {
			if !strings.Contains(f.Title, `\*bold\* <http://x|y> & \_i\_ Tenant`) {
				t.Fatalf("fact title %q: Markdown not escaped", f.Title)
			}
		}
	}
	if a := card.Actions; len(a) != 1 || a[0].URL != "https://fleetscore.example.com/alerts" {
		t.Errorf("actions %+v; want the alerts page", a)
	}
}

func TestTeamsHugeAlertStaysUnderTheLimits(t *testing.T) {
	p, body := postTeams(t, hugeAlert())
	t.Logf("Teams huge alert: %d bytes", len(body))
	card := p.Attachments[0].Content
	title := card.Body[1].Text
	if !strings.HasPrefix(title, `big-drop: \*bold\* <http://x|y> & \_i\_ `) || !strings.HasSuffix(title, "…") || textLen(title) > teamsTitleMax {
		t.Errorf("title %.100q (%d characters): want it escaped and cut to %d", title, textLen(title), teamsTitleMax)
	}
	if n := len(card.Body[4].Facts); n != 3 {
		t.Errorf("%d facts shown; all 3 fit once each is cut", n)
	}
	if a := card.Actions; len(a) != 2 || a[1].URL != "https://fleetscore.example.com/tenants/11111111-1111-1111-1111-111111111111" {
		t.Errorf("actions %+v; want Defender's and the tenant's page", a)
	}
}

func TestEscapers(t *testing.T) {
	for _, c := range []struct{ in, teams, slack string }{
		{nasty, `\*bold\* <http://x|y> & \_i\_`, "*bold* &lt;http://x|y&gt; &amp; _i_"},
		{"[Contoso](http://evil)", `\[Contoso\](http://evil)`, "[Contoso](http://evil)"},
		{"1. Contoso", `1\. Contoso`, "1. Contoso"},
		{"Score: 91.3% of 10.", "Score: 91.3% of 10.", "Score: 91.3% of 10."},
		{"- Contoso\n  + Fabrikam\n# x > y", "\\- Contoso\n  \\+ Fabrikam\n\\# x > y", "- Contoso\n  + Fabrikam\n# x &gt; y"},
		{"a - b + c # d", "a - b + c # d", "a - b + c # d"},
		{`back\slash`, `back\\slash`, `back\slash`},
	} {
		if got := escape(c.in, teamsEscaper); got != c.teams {
			t.Errorf("teams %q: %q; want %q", c.in, got, c.teams)
		}
		if got := escape(c.in, slackEscaper); got != c.slack {
			t.Errorf("slack %q: %q; want %q", c.in, got, c.slack)
		}
	}
	// A cut never splits an escape, and counts what is sent.
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"&&&&", 7, "&amp;…"},
		{"&&", 10, "&amp;&amp;"},
		{"ab", 2, "ab"},
		{"abc", 2, "a…"},
		{"😀😀😀", 5, "😀😀…"},
	} {
		if got := clip(c.in, c.max, slackEscaper); got != c.want || textLen(got) > c.max {
			t.Errorf("clip(%q, %d): %q; want %q", c.in, c.max, got, c.want)
		}
	}
}
