package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Slack posts to a Slack incoming webhook
// (https://api.slack.com/messaging/webhooks): a plain text for the
// notification and Block Kit blocks for the message itself. It is the
// reference channel: docs/alerts.md adds a channel by copying it.
type Slack struct {
	name   string
	url    func() string
	client *http.Client
}

var _ Channel = (*Slack)(nil)

// NewSlack returns a Slack channel. url returns the webhook URL (a secret:
// anyone who has it can post to the Slack channel); client nil means
// http.DefaultClient.
func NewSlack(name string, url func() string, client *http.Client) *Slack {
	return &Slack{name: name, url: url, client: client}
}

// Name is the channel's name in the config.
func (s *Slack) Name() string { return s.name }

// Type is "slack".
func (s *Slack) Type() string { return "slack" }

// String names the channel without its URL.
func (s *Slack) String() string { return "slack channel " + s.name }

// Send posts the message. Slack answers 200 "ok", or an error status with a
// word that says why (invalid_payload, no_service, channel_is_archived...).
func (s *Slack) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(slackPayload(m))
	if err != nil {
		return permanentError{fmt.Errorf("encode the slack message: %w", err)}
	}
	return postJSON(ctx, s.client, s.url, body, nil)
}

// The Block Kit shapes fleetscore uses (https://api.slack.com/reference/block-kit/blocks).
type (
	slackMessage struct {
		Text   string       `json:"text"` // the notification, and what clients without blocks show
		Blocks []slackBlock `json:"blocks"`
	}
	slackBlock struct {
		Type     string      `json:"type"`
		Text     *slackText  `json:"text,omitempty"`
		Fields   []slackText `json:"fields,omitempty"`
		Elements []any       `json:"elements,omitempty"` // a context's texts, an actions block's buttons
	}
	slackText struct {
		Type string `json:"type"` // plain_text or mrkdwn
		Text string `json:"text"`
	}
	slackButton struct {
		Type string    `json:"type"` // button
		Text slackText `json:"text"`
		URL  string    `json:"url"`
	}
)

// Slack's limits: a header's text, a section's fields and a field's text.
const (
	slackHeaderMax = 150
	slackFieldsMax = 10
	slackFieldMax  = 2000
)

func slackPayload(m Message) slackMessage {
	head := m.EventLabel() + " · " + m.Title
	out := slackMessage{
		Text: head + ": " + m.Summary,
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(head, slackHeaderMax)}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: slackEscape(m.Summary)}},
		},
	}
	if m.Reason != "" {
		out.Text += " Why: " + m.Reason
		out.Blocks = append(out.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn",
			Text: truncate("*Why:* "+slackEscape(m.Reason), slackFieldMax)}})
	}
	var fields []slackText
	for _, f := range m.Facts {
		fields = append(fields, slackText{Type: "mrkdwn", Text: truncate("*"+slackEscape(f.Name)+"*\n"+slackEscape(f.Value), slackFieldMax)})
	}
	for len(fields) > 0 {
		n := min(len(fields), slackFieldsMax)
		out.Blocks = append(out.Blocks, slackBlock{Type: "section", Fields: fields[:n]})
		fields = fields[n:]
	}
	if m.Link != "" {
		out.Blocks = append(out.Blocks, slackBlock{Type: "actions", Elements: []any{
			slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: linkText}, URL: m.Link}}})
	}
	out.Blocks = append(out.Blocks, slackBlock{Type: "context", Elements: []any{
		slackText{Type: "mrkdwn", Text: slackEscape(footer(m))}}})
	return out
}

// slackEscape escapes what mrkdwn gives a meaning to
// (https://api.slack.com/reference/surfaces/formatting#escaping).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// linkText is the label of the link to the control in Microsoft Defender.
const linkText = "Open in Microsoft Defender"

// footer says where a message comes from: the rule and the alert.
func footer(m Message) string {
	if m.Event == Test || m.Event == Digest {
		return "fleetscore · " + when(m.At)
	}
	s := fmt.Sprintf("fleetscore · rule %s (%s)", m.Rule, m.When)
	if m.AlertID != 0 {
		s += fmt.Sprintf(" · alert #%d", m.AlertID)
	}
	if m.Event == Resolved {
		s += " · open since " + when(m.OpenedAt)
	}
	return s + " · " + when(m.At)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
