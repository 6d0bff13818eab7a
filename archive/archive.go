// Package archive keeps each tenant's raw Microsoft Graph JSON, one file per
// tenant per day, outside the database: in a local folder or in an Azure
// Storage blob container. The database holds the compact history; the archive
// holds what Graph actually sent, for audits and for re-deriving figures later.
//
// The archive is optional and never in the way of the database: the collector
// saves a tenant's batch first and archives its days afterwards. A Put that
// fails returns an *Error naming the tenant and day; the collector reports it
// and keeps the (tenant, day) on a pending list, and at the next run it fetches
// those days from Graph again (Graph keeps about 90 days) and retries the Put.
// Put overwrites, so retrying a day that did reach the archive is harmless, and
// Has tells whether a day is already there.
package archive

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fleetscore/fleetscore"
)

// Snapshot is one tenant's raw Graph JSON of one day.
type Snapshot struct {
	TenantID   string
	TenantName string
	Day        fleetscore.Day
	JSON       []byte
}

// Archiver keeps snapshots. Implementations are safe for concurrent use.
type Archiver interface {
	// Put stores the snapshot at BlobName(s.TenantName, s.Day), replacing
	// what was there, so it is idempotent. A failure is an *Error.
	Put(ctx context.Context, s Snapshot) error
	// Has reports whether the tenant's day is archived. A failure is an *Error.
	Has(ctx context.Context, tenantName string, day fleetscore.Day) (bool, error)
	Close() error
}

var (
	_ Archiver = (*Dir)(nil)
	_ Archiver = (*Container)(nil)
)

// maxNameBytes keeps a tenant's folder name within what every file system
// (255 bytes a name) and Azure (254 characters a path segment) accept.
const maxNameBytes = 200

// BlobName is where a tenant's day is kept: "{tenant name}/{YYYY-MM-DD}.json",
// both as a blob name and as a path (with "/") below the archive folder.
//
// The tenant name is made safe by SafeName.
func BlobName(tenantName string, day fleetscore.Day) string {
	return SafeName(tenantName) + "/" + day.String() + ".json"
}

// SafeName is a tenant name as a single blob-name segment and folder name.
// The rule, applied in this order:
//
//   - invalid UTF-8 becomes U+FFFD;
//   - "/", "\", control characters and the characters Windows forbids in
//     file names (< > : " | ? *) each become "_";
//   - a run of dots becomes a single dot, so ".." never appears;
//   - the name is cut to 200 bytes on a character boundary;
//   - leading and trailing spaces and dots are removed (no hidden folders, and
//     Azure advises against names ending in a dot);
//   - an empty result is "_".
//
// Everything else is kept as it is: spaces, other punctuation, and letters of
// any script, so "Café Müller & Co." is "Café Müller & Co". Two tenant names
// that differ only in replaced characters ("A/B" and "A_B") share a folder.
func SafeName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	var b strings.Builder
	b.Grow(len(name))
	prevDot := false
	for _, r := range name {
		switch {
		case r == '/' || r == '\\' || unicode.IsControl(r) || strings.ContainsRune(`<>:"|?*`, r):
			r = '_'
		case r == '.' && prevDot:
			continue
		}
		prevDot = r == '.'
		if b.Len()+utf8.RuneLen(r) > maxNameBytes {
			break
		}
		b.WriteRune(r)
	}
	s := strings.Trim(b.String(), " .")
	if s == "" {
		return "_"
	}
	return s
}

// Error is a failed archive operation. Its text is safe to show and log: it
// never holds an account key, a SAS signature or a token.
type Error struct {
	Op         string         // "open", "put" or "has"
	TenantID   string         // "" for open
	TenantName string         // "" for open
	Day        fleetscore.Day // zero for open
	Msg        string         // what went wrong and, where known, the fix
	kind       error          // context.Canceled or context.DeadlineExceeded, else nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("archive ")
	b.WriteString(e.Op)
	if e.TenantName != "" {
		fmt.Fprintf(&b, " %s", e.TenantName)
	}
	if !e.Day.IsZero() {
		fmt.Fprintf(&b, " %s", e.Day)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap gives context.Canceled or context.DeadlineExceeded when the operation
// ended because its context did, so errors.Is works for them. The underlying
// error is not kept: its text may hold a secret.
func (e *Error) Unwrap() error { return e.kind }

// newError makes an *Error for a snapshot-level operation; msg must already
// be safe.
func newError(op string, s Snapshot, msg string, cause error) *Error {
	e := &Error{Op: op, TenantID: s.TenantID, TenantName: s.TenantName, Day: s.Day, Msg: msg}
	switch {
	case errors.Is(cause, context.Canceled):
		e.kind = context.Canceled
	case errors.Is(cause, context.DeadlineExceeded):
		e.kind = context.DeadlineExceeded
	}
	return e
}

// Kinds of archive for Config.Kind.
const (
	KindFolder = "folder"
	KindAzblob = "azblob"
)

// Config is the `archive:` block of the config file.
type Config struct {
	Kind string // KindFolder or KindAzblob

	// Folder is the archive directory for KindFolder (the config package
	// resolves it relative to the config file).
	Folder string

	// For KindAzblob: the container (created when missing) and exactly one
	// way in: ConnectionStringEnv; AccountURL with AccountKeyEnv; or
	// AccountURL with ManagedIdentity (ClientID picks a user-assigned one).
	Container           string
	AccountURL          string // https://{account}.blob.core.windows.net/
	ConnectionStringEnv string // names the variable holding the connection string
	AccountKeyEnv       string // names the variable holding the account key
	ManagedIdentity     bool
	ClientID            string // user-assigned managed identity, optional
}

// Open opens the archive c describes. Secrets are read through getenv, never
// from c. hc carries the requests to Azure (nil: the SDK's own client).
//
// Open does no network I/O: an Azure container is checked, and created when
// missing, by the first Put or Has, so an unreachable account never stops a
// collection; it shows as a Put error per tenant and day. A wrong config is an
// *Error with Op "open".
func Open(ctx context.Context, c Config, getenv func(string) string, hc *http.Client) (Archiver, error) {
	_ = ctx // reserved: no kind needs setup I/O yet
	switch c.Kind {
	case KindFolder:
		if c.Folder == "" {
			return nil, openError("archive kind folder needs a folder: the directory to write {tenant}/{date}.json files into")
		}
		return Folder(c.Folder)
	case KindAzblob:
		o, err := blobOptions(c, getenv, hc)
		if err != nil {
			return nil, err
		}
		return Blob(o)
	case "":
		return nil, openError(`archive needs a kind: "folder" or "azblob"`)
	default:
		return nil, openError(fmt.Sprintf(`archive kind %q is not known; use "folder" or "azblob"`, c.Kind))
	}
}

func openError(msg string) *Error { return &Error{Op: "open", Msg: msg} }
