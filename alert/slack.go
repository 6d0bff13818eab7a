package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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

// Slack's limits (https://api.slack.com/reference/block-kit/blocks): a
// header's text, a section's fields and a field's text, a section's text
// and a button's URL. The top-level text is held to a section's limit too
// (Slack cuts it only at 40,000), so the notification says what the
// message says. A message shows at most slackFactsMax facts (a digest's
// alerts), then "… and N more".
const (
	slackHeaderMax = 150
	slackFieldsMax = 10
	slackFieldMax  = 2000
	slackTextMax   = 3000
	slackURLMax    = 3000
	slackFactsMax  = 30
	slackNameMax   = 200 // a fact's name, of its field's slackFieldMax
)

func slackPayload(m Message) slackMessage {
	head := m.EventLabel() + " · " + m.Title
	text := head + ": " + m.Summary
	if m.Reason != "" {
		text += " Why: " + m.Reason
	}
	out := slackMessage{
		Text: clip(text, slackTextMax, slackEscaper),
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: clip(head, slackHeaderMax, plain)}},
			slackSection(clip(m.Summary, slackTextMax, slackEscaper)),
		},
	}
	if m.Reason != "" {
		const why = "*Why:* "
		out.Blocks = append(out.Blocks, slackSection(why+clip(m.Reason, slackTextMax-len(why), slackEscaper)))
	}
	shown := m.Facts[:min(len(m.Facts), slackFactsMax)]
	var fields []slackText
	for _, f := range shown {
		name := "*" + clip(f.Name, slackNameMax, slackEscaper) + "*\n"
		fields = append(fields, slackText{Type: "mrkdwn", Text: name + clip(f.Value, slackFieldMax-textLen(name), slackEscaper)})
	}
	for len(fields) > 0 {
		n := min(len(fields), slackFieldsMax)
		out.Blocks = append(out.Blocks, slackBlock{Type: "section", Fields: fields[:n]})
		fields = fields[n:]
	}
	if rest := len(m.Facts) - len(shown); rest > 0 {
		out.Blocks = append(out.Blocks, slackSection(more(rest, m.Page, func(text, url string) string {
			return "<" + escape(url, slackEscaper) + "|" + text + ">"
		})))
	}
	var buttons []any
	for _, b := range []struct{ text, url string }{{linkText, m.Link}, {pageText, m.Page}} {
		if b.url != "" && len(b.url) <= slackURLMax {
			buttons = append(buttons, slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: b.text}, URL: b.url})
		}
	}
	if len(buttons) > 0 {
		out.Blocks = append(out.Blocks, slackBlock{Type: "actions", Elements: buttons})
	}
	out.Blocks = append(out.Blocks, slackBlock{Type: "context", Elements: []any{
		slackText{Type: "mrkdwn", Text: clip(footer(m), slackTextMax, slackEscaper)}}})
	return out
}

func slackSection(mrkdwn string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: mrkdwn}}
}

// linkText is the label of the link to the control in Microsoft Defender,
// pageText that of the link to fleetscore's page (Message.Page).
const (
	linkText = "Open in Microsoft Defender"
	pageText = "Open in fleetscore"
)

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
