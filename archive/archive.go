// Package archive keeps each tenant's raw Microsoft Graph JSON, one file per
// tenant per day, outside the database: in a local folder or in an Azure
// Storage blob container. The database holds the compact history; the archive
// holds what Graph actually sent, for audits and for re-deriving figures later.
//
// A day is kept at "{tenant ID}/{YYYY-MM-DD}.json" (BlobName), the tenant ID
// being its lower-case GUID, so two tenants never share a folder and renaming
// a tenant keeps its folder. The tenant's display name is kept beside the
// days: in a folder archive in "{tenant ID}/tenant.json", in a container as
// the metadata tenant_name (URL-escaped) of every blob.
//
// Earlier versions kept days at "{SafeName(tenant name)}/{date}.json"
// (LegacyBlobName), where "Contoso Ltd." and "Contoso Ltd" shared a folder and
// overwrote each other's days. Migrate moves such folders to the new layout
// for the configured tenants, once, and leaves (and reports) any folder it
// cannot attribute to a single tenant.
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
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fleetscore/fleetscore"
)

// Snapshot is one tenant's raw Graph JSON of one day. TenantID must be a
// GUID (any case, braces allowed); TenantName is kept beside the days.
type Snapshot struct {
	TenantID   string
	TenantName string
	Day        fleetscore.Day
	JSON       []byte
}

// Archiver keeps snapshots. Implementations are safe for concurrent use.
type Archiver interface {
	// Put stores the snapshot at BlobName(s.TenantID, s.Day), replacing
	// what was there, so it is idempotent, and records s.TenantName as the
	// tenant's name. When s.Day is the newest day the tenant has, it also
	// replaces LatestName(s.TenantID) with the snapshot. A failure (also a
	// TenantID that is not a GUID) is an *Error.
	Put(ctx context.Context, s Snapshot) error
	// Has reports whether the tenant's day is archived. A failure is an *Error.
	Has(ctx context.Context, tenantID string, day fleetscore.Day) (bool, error)
	Close() error
}

var (
	_ Archiver = (*Dir)(nil)
	_ Archiver = (*Container)(nil)
)

// maxNameBytes keeps a tenant's folder name within what every file system
// (255 bytes a name) and Azure (254 characters a path segment) accept.
const maxNameBytes = 200

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// CanonicalID is a tenant ID as the archive keys it: the GUID in lower case,
// without braces or surrounding spaces, so that case variants of one ID name
// one folder. ok is false when id is not a GUID.
func CanonicalID(id string) (canonical string, ok bool) {
	id = strings.TrimSpace(id)
	if strings.HasPrefix(id, "{") && strings.HasSuffix(id, "}") {
		id = id[1 : len(id)-1]
	}
	if !guidPattern.MatchString(id) {
		return "", false
	}
	return strings.ToLower(id), true
}

// BlobName is where a tenant's day is kept: "{tenant ID}/{YYYY-MM-DD}.json",
// both as a blob name and as a path (with "/") below the archive folder. The
// tenant ID is CanonicalID's form.
//
// Put and Has refuse an ID that is not a GUID; BlobName still gives such an
// ID a safe single segment (SafeName of it in lower case), never a path out.
func BlobName(tenantID string, day fleetscore.Day) string {
	return folderOf(tenantID) + "/" + day.String() + ".json"
}

func folderOf(tenantID string) string {
	if id, ok := CanonicalID(tenantID); ok {
		return id
	}
	return SafeName(strings.ToLower(tenantID))
}

// LatestName is where the tenant's newest snapshot is kept besides its day:
// "latest/{tenant ID}.json", one blob (or file) per client that Power BI can
// read as the old runbooks' report did. Put replaces it whenever the day it
// stores is the tenant's newest (never with an older day, such as a retried
// one), in one upload or one rename, so a reader sees the old snapshot or
// the new one, never a mix.
func LatestName(tenantID string) string {
	return LatestFolder + "/" + folderOf(tenantID) + ".json"
}

// LatestFolder is the folder (prefix) of LatestName.
const LatestFolder = "latest"

// LegacyBlobName is where versions before the tenant-ID layout kept a
// tenant's day: "{SafeName(tenant name)}/{YYYY-MM-DD}.json". Migrate moves
// such days to BlobName.
func LegacyBlobName(tenantName string, day fleetscore.Day) string {
	return SafeName(tenantName) + "/" + day.String() + ".json"
}

// sidecarName is the folder archive's record of a tenant's name, beside its
// days: "{tenant ID}/tenant.json".
const sidecarName = "tenant.json"

// Blob metadata keys of every day's blob. The name is URL-escaped
// (url.PathEscape) because metadata travels as HTTP headers, which take
// ASCII only and would trim spaces.
const (
	metaTenantID   = "tenant_id"
	metaTenantName = "tenant_name"
	metaDay        = "day" // of the latest/ blob: the day it holds
)

// checkID is the snapshot's canonical tenant ID, or the *Error refusing it.
func checkID(op string, s Snapshot) (string, error) {
	id, ok := CanonicalID(s.TenantID)
	if !ok {
		return "", newError(op, s, fmt.Sprintf("tenant ID %q is not a GUID; the archive keeps each tenant under its Directory (tenant) ID", s.TenantID), nil)
	}
	return id, nil
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
	Op         string         // "open", "put", "has" or "migrate"
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
	switch {
	case e.TenantName != "":
		fmt.Fprintf(&b, " %s", e.TenantName)
	case e.TenantID != "":
		fmt.Fprintf(&b, " %s", e.TenantID)
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
			return nil, openError("archive kind folder needs a folder: the directory to write {tenant ID}/{date}.json files into")
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
