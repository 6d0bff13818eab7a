package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Teams posts an Adaptive Card to a Microsoft Teams channel through a
// workflow ("Post to a channel when a webhook request is received", Power
// Automate). The Office 365 connectors' incoming webhooks it replaces are
// retired. A workflow answers 202 Accepted.
type Teams struct {
	name   string
	url    func() string
	client *http.Client
}

var _ Channel = (*Teams)(nil)

// NewTeams returns a Teams channel. url returns the workflow's URL (a
// secret: it carries the signature that lets anyone post); client nil means
// http.DefaultClient.
func NewTeams(name string, url func() string, client *http.Client) *Teams {
	return &Teams{name: name, url: url, client: client}
}

// Name is the channel's name in the config.
func (t *Teams) Name() string { return t.name }

// Type is "teams".
func (t *Teams) Type() string { return "teams" }

// String names the channel without its URL.
func (t *Teams) String() string { return "teams channel " + t.name }

// Send posts the message as an Adaptive Card.
func (t *Teams) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(teamsPayload(m))
	if err != nil {
		return permanentError{fmt.Errorf("encode the teams card: %w", err)}
	}
	return postJSON(ctx, t.client, t.url, body, nil)
}

// The Adaptive Card shapes fleetscore uses. Version 1.4 is the newest that
// Teams renders everywhere (https://adaptivecards.io/explorer/).
type (
	teamsMessage struct {
		Type        string            `json:"type"` // message
		Attachments []teamsAttachment `json:"attachments"`
	}
	teamsAttachment struct {
		ContentType string    `json:"contentType"` // application/vnd.microsoft.card.adaptive
		ContentURL  *string   `json:"contentUrl"`  // null, as the workflow's sample sends
		Content     teamsCard `json:"content"`
	}
	teamsCard struct {
		Schema  string         `json:"$schema"`
		Type    string         `json:"type"` // AdaptiveCard
		Version string         `json:"version"`
		MSTeams map[string]any `json:"msteams"`
		Body    []teamsElement `json:"body"`
		Actions []teamsAction  `json:"actions,omitempty"`
	}
	teamsElement struct {
		Type     string      `json:"type"` // TextBlock or FactSet
		Text     string      `json:"text,omitempty"`
		Weight   string      `json:"weight,omitempty"`
		Size     string      `json:"size,omitempty"`
		Color    string      `json:"color,omitempty"`
		IsSubtle bool        `json:"isSubtle,omitempty"`
		Wrap     bool        `json:"wrap,omitempty"`
		Facts    []teamsFact `json:"facts,omitempty"`
	}
	teamsFact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	teamsAction struct {
		Type  string `json:"type"` // Action.OpenUrl
		Title string `json:"title"`
		URL   string `json:"url"`
	}
)

// Teams refuses a card over about 28 KB (of the JSON posted); a card is
// kept under teamsMaxBytes by showing only the facts that fit, then "… and
// N more". Each text is cut first, so that one huge name cannot fill it.
const (
	teamsMaxBytes = 27 * 1024
	teamsTitleMax = 400
	teamsTextMax  = 3000
	teamsNameMax  = 200  // a fact's title
	teamsValueMax = 1000 // a fact's value
)

func teamsPayload(m Message) teamsMessage {
	facts := make([]teamsFact, len(m.Facts))
	for i, f := range m.Facts {
		facts[i] = teamsFact{Title: clip(f.Name, teamsNameMax, teamsEscaper), Value: clip(f.Value, teamsValueMax, teamsEscaper)}
	}
	fits := func(n int) bool {
		b, err := json.Marshal(teamsCardOf(m, facts, n))
		return err == nil && len(b) <= teamsMaxBytes
	}
	n := len(facts)
	if !fits(n) {
		// The largest number of facts that fits (a card grows with each).
		n = max(sort.Search(len(facts)+1, func(k int) bool { return !fits(k) })-1, 0)
	}
	return teamsCardOf(m, facts, n)
}

// teamsCardOf is the card of m showing the first n of its facts.
func teamsCardOf(m Message, facts []teamsFact, n int) teamsMessage {
	color := "Accent"
	switch m.Event {
	case Firing:
		color = "Attention"
	case Resolved:
		color = "Good"
	}
	card := teamsCard{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: "1.4",
		MSTeams: map[string]any{"width": "Full"},
		Body: []teamsElement{
			{Type: "TextBlock", Text: m.EventLabel(), Weight: "Bolder", Size: "Small", Color: color},
			{Type: "TextBlock", Text: clip(m.Title, teamsTitleMax, teamsEscaper), Weight: "Bolder", Size: "Medium", Wrap: true},
			{Type: "TextBlock", Text: clip(m.Summary, teamsTextMax, teamsEscaper), Wrap: true},
		},
	}
	if m.Reason != "" {
		card.Body = append(card.Body, teamsElement{Type: "TextBlock", Text: "Why: " + clip(m.Reason, teamsTextMax, teamsEscaper), Wrap: true})
	}
	if n > 0 {
		card.Body = append(card.Body, teamsElement{Type: "FactSet", Facts: facts[:n]})
	}
	if rest := len(facts) - n; rest > 0 {
		card.Body = append(card.Body, teamsElement{Type: "TextBlock", Wrap: true, Text: more(rest, m.Page, func(text, url string) string {
			return "[" + text + "](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(url) + ")"
		})})
	}
	card.Body = append(card.Body, teamsElement{Type: "TextBlock", Text: clip(footer(m), teamsTextMax, teamsEscaper), Size: "Small", IsSubtle: true, Wrap: true})
	for _, a := range []struct{ title, url string }{{linkText, m.Link}, {pageText, m.Page}} {
		if a.url != "" {
			card.Actions = append(card.Actions, teamsAction{Type: "Action.OpenUrl", Title: a.title, URL: a.url})
		}
	}
	return teamsMessage{Type: "message", Attachments: []teamsAttachment{
		{ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}
