package archive

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/fleetscore/fleetscore"
)

// BlobOptions say which Azure Storage container to archive into and how to
// get in: a ConnectionString (with an account key or a SAS), or an AccountURL
// with either an AccountKey or a Credential (a managed or workload identity).
type BlobOptions struct {
	Container        string // 3-63 of a-z, 0-9 and single hyphens
	ConnectionString string
	AccountURL       string // https://{account}.blob.core.windows.net/
	AccountKey       string
	Credential       azcore.TokenCredential
	HTTPClient       *http.Client // nil: the SDK's own client
	MaxRetries       int          // 0: the SDK's default of 3; negative: none
}

// Container is an archive in an Azure Storage blob container, one block blob
// per tenant per day named BlobName, with content type application/json and
// the metadata tenant_id and tenant_name (URL-escaped).
// The identity needs read and write on blobs (the Storage Blob Data
// Contributor role, or a key, or a SAS with read, write and create) and, to
// create a missing container, on the account.
type Container struct {
	name    string
	client  *container.Client
	secrets []string // literal secrets to take out of any error text

	// lock guards ready; a channel so that a caller waiting for another's
	// slow check still gives up at its own deadline.
	lock  chan struct{}
	ready bool // the container is known to exist
}

// Blob opens a container archive. It does no network I/O: the container is
// checked, and created when missing, by the first Put or Has.
func Blob(o BlobOptions) (*Container, error) {
	if err := checkContainerName(o.Container); err != nil {
		return nil, err
	}
	c := &Container{name: o.Container, lock: make(chan struct{}, 1)}
	opts := &container.ClientOptions{}
	if o.HTTPClient != nil {
		opts.Transport = o.HTTPClient
	}
	switch {
	case o.MaxRetries < 0:
		opts.Retry = policy.RetryOptions{MaxRetries: -1}
	case o.MaxRetries > 0:
		opts.Retry = policy.RetryOptions{MaxRetries: int32(o.MaxRetries)}
	}

	ways := 0
	for _, set := range []bool{o.ConnectionString != "", o.AccountKey != "", o.Credential != nil} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return nil, openError("archive azblob needs exactly one of a connection string, an account key or a managed identity")
	}

	var err error
	if o.ConnectionString != "" {
		c.secrets = connectionStringSecrets(o.ConnectionString)
		c.client, err = container.NewClientFromConnectionString(o.ConnectionString, o.Container, opts)
		if err != nil {
			return nil, openError("the connection string is not one Azure Storage accepts (" + c.scrub(err.Error()) +
				"); copy it from the Azure portal: Storage account → Security + networking → Access keys")
		}
		return c, nil
	}

	u, err := parseAccountURL(o.AccountURL, o.Credential != nil)
	if err != nil {
		return nil, err
	}
	containerURL := runtime.JoinPaths(u.String(), o.Container)
	if o.AccountKey != "" {
		c.secrets = []string{o.AccountKey}
		name := accountName(u)
		if name == "" {
			return nil, openError(fmt.Sprintf("account_url %s names no storage account; use https://{account}.blob.core.windows.net/", u))
		}
		cred, err := azblobSharedKey(name, o.AccountKey)
		if err != nil {
			return nil, err
		}
		c.client, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
		if err != nil {
			return nil, openError(c.scrub(err.Error()))
		}
		return c, nil
	}
	c.client, err = container.NewClient(containerURL, o.Credential, opts)
	if err != nil {
		return nil, openError(c.scrub(err.Error()))
	}
	return c, nil
}

func azblobSharedKey(account, key string) (*container.SharedKeyCredential, error) {
	cred, err := container.NewSharedKeyCredential(account, key)
	if err != nil {
		// The SDK's text names only the offending byte, never the key.
		return nil, openError("the account key is not base64 (" + err.Error() + "); copy key1 or key2 from the Azure portal: Storage account → Access keys")
	}
	return cred, nil
}

// Put uploads the snapshot as one block blob, replacing any blob of the same
// name, with its MD5 so the service rejects a body damaged on the way.
func (c *Container) Put(ctx context.Context, s Snapshot) error {
	id, err := checkID("put", s)
	if err != nil {
		return err
	}
	s.TenantID = id
	if err := c.ensure(ctx, false); err != nil {
		return c.fail("put", s, err)
	}
	err = c.upload(ctx, s, nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		// Deleted since it was checked: create it again, once.
		if err = c.ensure(ctx, true); err == nil {
			err = c.upload(ctx, s, nil)
		}
	}
	if err != nil {
		return c.fail("put", s, err)
	}
	if err := c.putLatest(ctx, s); err != nil {
		e := c.fail("put", s, err)
		e.Msg = "replace " + LatestName(s.TenantID) + ": " + e.Msg
		return e
	}
	return nil
}

// putLatest replaces latest/{id}.json with the snapshot unless that blob
// holds a newer day (its metadata day). The upload is conditional on the
// blob read (its ETag, or none there), so of two writers the one with the
// newer day wins; a writer that loses reads again.
func (c *Container) putLatest(ctx context.Context, s Snapshot) error {
	b := c.client.NewBlobClient(LatestName(s.TenantID))
	for range 3 {
		props, err := b.GetProperties(ctx, nil)
		var re *azcore.ResponseError
		mac := &blob.ModifiedAccessConditions{}
		switch {
		case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
			none := azcore.ETagAny
			mac.IfNoneMatch = &none
		case err != nil:
			return err
		default:
			if have, ok := latestDay(props.Metadata); ok && have.After(s.Day) {
				return nil
			}
			mac.IfMatch = props.ETag
		}
		err = c.uploadAt(ctx, LatestName(s.TenantID), s, &blob.AccessConditions{ModifiedAccessConditions: mac})
		if !bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) {
			return err
		}
	}
	return fmt.Errorf("%s changed under every one of 3 tries; the next run tries again", LatestName(s.TenantID))
}

// latestDay is the day a latest/ blob's metadata says it holds. Metadata
// keys come back in any case.
func latestDay(md map[string]*string) (fleetscore.Day, bool) {
	for k, v := range md {
		if strings.EqualFold(k, metaDay) && v != nil {
			d, err := fleetscore.ParseDay(*v)
			return d, err == nil
		}
	}
	return fleetscore.Day{}, false
}

// upload writes s at BlobName(s.TenantID, s.Day); with cond, only as cond
// allows (a migration's If-None-Match: *).
func (c *Container) upload(ctx context.Context, s Snapshot, cond *blob.AccessConditions) error {
	return c.uploadAt(ctx, BlobName(s.TenantID, s.Day), s, cond)
}

// uploadAt writes s's JSON as the block blob name, with its tenant and day
// as metadata.
func (c *Container) uploadAt(ctx context.Context, blobName string, s Snapshot, cond *blob.AccessConditions) error {
	sum := md5.Sum(s.JSON)
	contentType := "application/json"
	id, name, day := s.TenantID, url.PathEscape(s.TenantName), s.Day.String()
	_, err := c.client.NewBlockBlobClient(blobName).Upload(ctx,
		streaming.NopCloser(bytes.NewReader(s.JSON)),
		&blockblob.UploadOptions{
			HTTPHeaders:             &blob.HTTPHeaders{BlobContentType: &contentType, BlobContentMD5: sum[:]},
			TransactionalValidation: blob.TransferValidationTypeMD5(sum[:]),
			Metadata:                map[string]*string{metaTenantID: &id, metaTenantName: &name, metaDay: &day},
			AccessConditions:        cond,
		})
	return err
}

// Has reports whether the tenant's day has a blob.
func (c *Container) Has(ctx context.Context, tenantID string, day fleetscore.Day) (bool, error) {
	s := Snapshot{TenantID: tenantID, Day: day}
	id, err := checkID("has", s)
	if err != nil {
		return false, err
	}
	if err := c.ensure(ctx, false); err != nil {
		return false, c.fail("has", s, err)
	}
	_, err = c.client.NewBlobClient(BlobName(id, day)).GetProperties(ctx, nil)
	var re *azcore.ResponseError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		return false, nil
	}
	return false, c.fail("has", s, err)
}

// Close does nothing: every Put is complete when it returns.
func (c *Container) Close() error { return nil }

// ensure checks once that the container exists and creates it when it does
// not; again, when recheck says it has gone.
func (c *Container) ensure(ctx context.Context, recheck bool) error {
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.lock }()
	if recheck {
		c.ready = false
	}
	if c.ready {
		return nil
	}
	_, err := c.client.GetProperties(ctx, nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		_, err = c.client.Create(ctx, nil)
		if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	c.ready = true
	return nil
}

// fail turns an SDK error into an *Error whose text holds no secret.
func (c *Container) fail(op string, s Snapshot, err error) *Error {
	return newError(op, s, c.describe(err), err)
}

// describe says what went wrong for people: Azure's status and error code
// with the usual fix, or the network error, scrubbed. Azure's own multi-line
// text is not used: it is long, and it can echo the request.
func (c *Container) describe(err error) string {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		msg := c.scrub(oneLine(err.Error()))
		var ue *url.Error
		if errors.As(err, &ue) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			msg = "cannot reach Azure Storage: " + msg
		}
		return msg
	}
	what := fmt.Sprintf("Azure Storage answered %d %s", re.StatusCode, re.ErrorCode)
	if re.ErrorCode == "" {
		what = fmt.Sprintf("Azure Storage answered %d %s", re.StatusCode, http.StatusText(re.StatusCode))
	}
	switch bloberror.Code(re.ErrorCode) {
	case bloberror.AuthenticationFailed:
		return what + ": the account key or SAS is wrong, rotated or expired, or this machine's clock is off by more than 15 minutes"
	case bloberror.AuthorizationSourceIPMismatch:
		return what + ": the storage account's firewall does not admit this machine; add its address under Networking"
	case bloberror.AuthorizationPermissionMismatch, bloberror.AuthorizationResourceTypeMismatch, bloberror.InsufficientAccountPermissions:
		return what + ": " + c.permissionAdvice()
	case bloberror.AuthorizationFailure:
		// Azure says this for a firewall or SAS refusal, Azurite for a wrong key.
		return what + ": check that the account key or SAS is current, that the storage account's firewall admits this machine, and " +
			c.permissionAdvice()
	case bloberror.ContainerBeingDeleted:
		return what + ": the container is being deleted; the next run creates it again"
	case bloberror.ServerBusy, bloberror.OperationTimedOut, bloberror.InternalError:
		return what + ": Azure Storage is busy or failing; the next run retries"
	}
	if re.StatusCode == http.StatusNotFound {
		return what + ": the account URL or endpoint names no storage account here"
	}
	return what
}

var (
	// A URL's query may carry a SAS; the path and host are kept.
	urlQuery = regexp.MustCompile(`(https?://[^\s?"'<>]*)\?[^\s"'<>]*`)
	// Secret-bearing fields of connection strings and SAS tokens.
	secretField = regexp.MustCompile(`(?i)\b(AccountKey|SharedAccessSignature|sig)=[^;&\s"'<>]*`)
	bearer      = regexp.MustCompile(`(?i)\bBearer\s+[A-Za-z0-9._~+/-]+=*`)
)

// scrub takes every secret out of a text: the literal key or SAS this
// container was opened with (also URL-encoded), any URL query, and any
// AccountKey=, SharedAccessSignature= or sig= field.
func (c *Container) scrub(s string) string {
	for _, v := range c.secrets {
		if len(v) >= 8 {
			s = strings.ReplaceAll(s, v, "REDACTED")
			s = strings.ReplaceAll(s, url.QueryEscape(v), "REDACTED")
		}
	}
	s = urlQuery.ReplaceAllString(s, "$1?REDACTED")
	s = secretField.ReplaceAllString(s, "$1=REDACTED")
	return bearer.ReplaceAllString(s, "Bearer REDACTED")
}

func (c *Container) permissionAdvice() string {
	return fmt.Sprintf("that the identity has the Storage Blob Data Contributor role on container %q (or on the account, to let fleetscore create it), or that the SAS allows read, write and create", c.name)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = strings.ToValidUTF8(s[:600], "") + "…"
	}
	return s
}

// connectionStringSecrets is the account key and the SAS of a connection
// string, for scrub.
func connectionStringSecrets(cs string) []string {
	var out []string
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "accountkey", "sharedaccesssignature":
			out = append(out, v)
		}
	}
	return out
}

// parseAccountURL checks an account URL. A token credential is sent only
// over https (azcore refuses otherwise); a key may go to http://127.0.0.1 for
// the Azurite emulator.
func parseAccountURL(s string, token bool) (*url.URL, error) {
	if s == "" {
		return nil, openError("archive azblob with an account key or a managed identity needs account_url: https://{account}.blob.core.windows.net/")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, openError(fmt.Sprintf("account_url %q is not an http(s) URL; use https://{account}.blob.core.windows.net/", s))
	}
	if u.RawQuery != "" || u.User != nil {
		// Do not echo it: the query is likely a SAS.
		return nil, openError("account_url must be the bare account URL; for a SAS put a connection string with BlobEndpoint and SharedAccessSignature in connection_string_env")
	}
	if token && u.Scheme != "https" {
		return nil, openError(fmt.Sprintf("account_url %s must be https to use a managed identity", u))
	}
	u.Fragment = ""
	return u, nil
}

// accountName is the storage account an account URL names: the first label
// of {account}.blob.{suffix}, or the first path segment of an emulator's
// path-style URL (http://127.0.0.1:10000/devstoreaccount1).
func accountName(u *url.URL) string {
	host := u.Hostname()
	first, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	if strings.Contains(host, ".blob.") || first == "" {
		if net.ParseIP(host) != nil {
			return ""
		}
		label, _, _ := strings.Cut(host, ".")
		return label
	}
	return first
}

// checkContainerName applies Azure's rule for container names.
func checkContainerName(name string) error {
	ok := len(name) >= 3 && len(name) <= 63 && !strings.Contains(name, "--") &&
		name[0] != '-' && name[len(name)-1] != '-'
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			ok = false
		}
	}
	if !ok {
		return openError(fmt.Sprintf("container %q is not a valid container name: use 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit", name))
	}
	return nil
}

// blobOptions reads an azblob Config's secrets from the environment and makes
// its managed-identity credential.
func blobOptions(c Config, getenv func(string) string, hc *http.Client) (BlobOptions, error) {
	o := BlobOptions{Container: c.Container, AccountURL: c.AccountURL, HTTPClient: hc}
	ways := 0
	for _, set := range []bool{c.ConnectionStringEnv != "", c.AccountKeyEnv != "", c.ManagedIdentity} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return o, openError("archive azblob needs exactly one of connection_string_env, account_key_env (with account_url) or managed_identity (with account_url)")
	}
	if c.ClientID != "" && !c.ManagedIdentity {
		return o, openError("client_id is for a user-assigned managed identity; set managed_identity: true or drop client_id")
	}
	switch {
	case c.ConnectionStringEnv != "":
		if c.AccountURL != "" {
			return o, openError("account_url is not used with connection_string_env: the connection string names the account; drop one of them")
		}
		if o.ConnectionString = getenv(c.ConnectionStringEnv); o.ConnectionString == "" {
			return o, openError(fmt.Sprintf("environment variable %s is empty; set it to the storage account's connection string (Azure portal: Storage account → Access keys)", c.ConnectionStringEnv))
		}
	case c.AccountKeyEnv != "":
		if o.AccountKey = getenv(c.AccountKeyEnv); o.AccountKey == "" {
			return o, openError(fmt.Sprintf("environment variable %s is empty; set it to key1 or key2 of the storage account (Azure portal: Storage account → Access keys)", c.AccountKeyEnv))
		}
	default:
		if _, err := parseAccountURL(c.AccountURL, true); err != nil {
			return o, err
		}
		cred, err := identityCredential(c.ClientID, getenv, hc)
		if err != nil {
			return o, openError("managed identity: " + oneLine(err.Error()))
		}
		o.Credential = cred
	}
	return o, nil
}

// identityCredential is a workload identity when the Kubernetes webhook set
// AZURE_FEDERATED_TOKEN_FILE, else the host's managed identity (system
// assigned, or the user-assigned one clientID names). Neither makes a request
// until a token is needed.
func identityCredential(clientID string, getenv func(string) string, hc *http.Client) (azcore.TokenCredential, error) {
	var co azcore.ClientOptions
	if hc != nil {
		co.Transport = hc
	}
	if file := getenv("AZURE_FEDERATED_TOKEN_FILE"); file != "" {
		if clientID == "" {
			clientID = getenv("AZURE_CLIENT_ID")
		}
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co,
			ClientID:      clientID,
			TenantID:      getenv("AZURE_TENANT_ID"),
			TokenFilePath: file,
		})
	}
	o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
	if clientID != "" {
		o.ID = azidentity.ClientID(clientID)
	}
	return azidentity.NewManagedIdentityCredential(o)
}

// folders lists the container's top-level prefixes ("{folder}/"). A missing
// container has none.
func (c *Container) folders(ctx context.Context) ([]string, error) {
	var out []string
	pager := c.client.NewListBlobsHierarchyPager("/", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, c.fail("migrate", Snapshot{}, err)
		}
		for _, p := range page.Segment.BlobPrefixes {
			if p.Name != nil {
				out = append(out, strings.TrimSuffix(*p.Name, "/"))
			}
		}
	}
	return out, nil
}

func (c *Container) legacyDays(ctx context.Context, folder string) ([]fleetscore.Day, error) {
	var out []fleetscore.Day
	prefix := folder + "/"
	pager := c.client.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, c.fail("migrate", Snapshot{}, err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name == nil {
				continue
			}
			if day, ok := parseDayFile(strings.TrimPrefix(*b.Name, prefix)); ok {
				out = append(out, day)
			}
		}
	}
	return out, nil
}

// moveDay copies the old blob to its new name (only if that name is free),
// checks that the service holds the copy's MD5, and then deletes the old
// blob, only if it has not changed since it was read. A crash in between
// leaves both, which the next run sees as the same bytes and finishes.
func (c *Container) moveDay(ctx context.Context, folder string, t TenantRef, day fleetscore.Day) (bool, error) {
	s := Snapshot{TenantID: t.ID, TenantName: t.Name, Day: day}
	from := folder + "/" + day.String() + ".json"
	body, etag, err := c.download(ctx, from)
	if err != nil {
		return false, c.fail("migrate", s, err)
	}
	s.JSON = body
	sum := md5.Sum(body)
	noneMatch := azcore.ETagAny
	err = c.upload(ctx, s, &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &noneMatch}})
	switch {
	case bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet):
		have, _, err := c.download(ctx, BlobName(t.ID, day))
		if err != nil {
			return false, c.fail("migrate", s, err)
		}
		if !bytes.Equal(have, body) {
			return false, nil
		}
	case err != nil:
		return false, c.fail("migrate", s, err)
	default:
		props, err := c.client.NewBlobClient(BlobName(t.ID, day)).GetProperties(ctx, nil)
		if err != nil {
			return false, c.fail("migrate", s, err)
		}
		if !bytes.Equal(props.ContentMD5, sum[:]) {
			return false, newError("migrate", s, fmt.Sprintf("the copy at %s does not hold the MD5 of %s; both are kept, the next run tries again", BlobName(t.ID, day), from), nil)
		}
	}
	del := &blob.DeleteOptions{}
	if etag != "" {
		del.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &etag}}
	}
	_, err = c.client.NewBlobClient(from).Delete(ctx, del)
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return false, c.fail("migrate", s, err)
	}
	return true, nil
}

// download reads a whole blob and its ETag.
func (c *Container) download(ctx context.Context, name string) ([]byte, azcore.ETag, error) {
	resp, err := c.client.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if len(resp.ContentMD5) > 0 {
		if sum := md5.Sum(body); !bytes.Equal(resp.ContentMD5, sum[:]) {
			return nil, "", fmt.Errorf("%s was damaged on the way: its MD5 does not match", name)
		}
	}
	var etag azcore.ETag
	if resp.ETag != nil {
		etag = *resp.ETag
	}
	return body, etag, nil
}

// finish has nothing to do: a prefix goes with its last blob, and every
// copied blob carries the tenant's name.
func (c *Container) finish(context.Context, string, TenantRef) error { return nil }
