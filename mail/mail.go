// Package mail sends e-mail: the alerts' e-mail channels and the client
// reports share it. A Sender is one way out (SMTP, or Microsoft Graph's
// sendMail); callers build a Message and never see how it travels.
package mail

import (
	"context"
	"maps"
	"slices"
)

// Attachment is one file sent with a message (a report's PDF).
type Attachment struct {
	Name        string // the file name the recipient sees, e.g. "Contoso 2026-11.pdf"
	ContentType string // e.g. "application/pdf"
	Data        []byte
}

// Message is one e-mail. Text is required; HTML, when set, is sent as the
// alternative part beside it.
type Message struct {
	To          []string
	Subject     string
	Text        string
	HTML        string
	Attachments []Attachment
	// Headers are extra header fields, such as Auto-Submitted or
	// X-Fleetscore-Event. Graph's sendMail takes only those starting X-.
	Headers map[string]string
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// Sender delivers a Message. An error says why it was not taken, without
// any secret; the caller decides whether to try again.
type Sender interface {
	Send(ctx context.Context, m Message) error
}
