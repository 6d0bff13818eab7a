package report

import (
	"context"
	"errors"
	"time"
)

// Sent is one report a sender took: the row of the reports log.
type Sent struct {
	TenantID   string
	Period     string // Period.Key
	SentAt     time.Time
	Recipients []string
	Bytes      int    // of the PDF
	SHA256     string // of the PDF, hex
}

// ErrAlreadySent is RecordSent's answer for a tenant and period already
// recorded: a report is never sent twice for a period.
var ErrAlreadySent = errors.New("the report of this period was already sent")

// Log keeps the reports sent: the relational store implements it.
type Log interface {
	// RecordSent records a report sent; one already recorded for the
	// tenant and period is ErrAlreadySent (wrapped), and the record kept is
	// the first.
	RecordSent(ctx context.Context, s Sent) error
	// SentReports lists the reports sent for a period ("" for every
	// period), oldest first.
	SentReports(ctx context.Context, period string) ([]Sent, error)
}
