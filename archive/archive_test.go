package archive_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/archive"
)

// The documented key of Azurite's development account; not a secret, but the
// tests treat it as one and check that no error text carries it.
const (
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	azuriteDefault = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + azuriteKey +
		";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)

var (
	day1 = fleetscore.MustDay("2026-11-26")
	day2 = fleetscore.MustDay("2026-11-27")
)

const (
	contosoID = "11111111-1111-1111-1111-111111111111"
	nobodyID  = "99999999-9999-9999-9999-999999999999"
)

func TestSafeName(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	for _, tc := range []struct{ in, want string }{
		{"Contoso", "Contoso"},
		{"Café Müller & Co.", "Café Müller & Co"},
		{"北京 科技 有限公司", "北京 科技 有限公司"},
		{"Contoso/EU", "Contoso_EU"},
		{`Contoso\EU`, "Contoso_EU"},
		{"../../etc/passwd", "_._etc_passwd"},
		{"..", "_"},
		{".", "_"},
		{"", "_"},
		{"   ", "_"},
		{".hidden", "hidden"},
		{"A..B...C", "A.B.C"},
		{"tab\there\nnew\x00nul\x7fdel", "tab_here_new_nul_del"},
		{`a<b>c:d"e|f?g*h`, "a_b_c_d_e_f_g_h"},
		{"  padded  ", "padded"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"100% (EU) #1 + more, ok; [x] {y} ~ ! @ $ ' =", "100% (EU) #1 + more, ok; [x] {y} ~ ! @ $ ' ="},
		{long, strings.Repeat("é", 100)},
	} {
		got := archive.SafeName(tc.in)
		if got != tc.want {
			t.Errorf("SafeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.ContainsAny(got, `/\`) || strings.Contains(got, "..") || len(got) > 200 {
			t.Errorf("SafeName(%q) = %q is not safe", tc.in, got)
		}
	}
}

func TestBlobName(t *testing.T) {
	for _, tc := range []struct {
		tenantID string
		day      fleetscore.Day
		want     string
	}{
		{"72f988bf-86f1-41af-91ab-2d7cd011db47", day2, "72f988bf-86f1-41af-91ab-2d7cd011db47/2026-11-27.json"},
		// Case variants and the braced form of one ID are one folder.
		{"72F988BF-86F1-41AF-91AB-2D7CD011DB47", day1, "72f988bf-86f1-41af-91ab-2d7cd011db47/2026-11-26.json"},
		{" {72f988bf-86F1-41af-91ab-2d7cd011db47} ", day1, "72f988bf-86f1-41af-91ab-2d7cd011db47/2026-11-26.json"},
		// Not a GUID (Put and Has refuse it): still one safe segment.
		{"../..", day1, "_/2026-11-26.json"},
		{"Contoso/EU", day1, "contoso_eu/2026-11-26.json"},
	} {
		if got := archive.BlobName(tc.tenantID, tc.day); got != tc.want {
			t.Errorf("BlobName(%q, %s) = %q, want %q", tc.tenantID, tc.day, got, tc.want)
		}
	}
}

func TestLegacyBlobName(t *testing.T) {
	for _, tc := range []struct {
		tenant string
		day    fleetscore.Day
		want   string
	}{
		{"Contoso", day2, "Contoso/2026-11-27.json"},
		{"Fabrikam Holdings GmbH", day1, "Fabrikam Holdings GmbH/2026-11-26.json"},
		{"Contoso/EU", day1, "Contoso_EU/2026-11-26.json"},
		{"..", day1, "_/2026-11-26.json"},
		// The collision the tenant-ID layout ends.
		{"Contoso Ltd.", day1, "Contoso Ltd/2026-11-26.json"},
		{"Contoso Ltd", day1, "Contoso Ltd/2026-11-26.json"},
	} {
		if got := archive.LegacyBlobName(tc.tenant, tc.day); got != tc.want {
			t.Errorf("LegacyBlobName(%q, %s) = %q, want %q", tc.tenant, tc.day, got, tc.want)
		}
	}
}

func TestCanonicalID(t *testing.T) {
	for in, want := range map[string]string{
		"72f988bf-86f1-41af-91ab-2d7cd011db47":    "72f988bf-86f1-41af-91ab-2d7cd011db47",
		"72F988BF-86F1-41AF-91AB-2D7CD011DB47":    "72f988bf-86f1-41af-91ab-2d7cd011db47",
		"{72f988bf-86f1-41af-91ab-2d7cd011db47}":  "72f988bf-86f1-41af-91ab-2d7cd011db47",
		"contoso.onmicrosoft.com":                 "",
		"72f988bf86f141af91ab2d7cd011db47":        "",
		"../72f988bf-86f1-41af-91ab-2d7cd011db47": "",
		"": "",
	} {
		got, ok := archive.CanonicalID(in)
		if got != want || ok != (want != "") {
			t.Errorf("CanonicalID(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// payload is JSON-looking bytes of about n bytes, different for every seed,
// with non-ASCII text so nothing on the way may re-encode it unnoticed.
func payload(seed string, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"value":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%s_%d","controlName":"MFARegistrationV2","score":%d.5,"title":"Ensure multifactor — “MFA” ✓ für alle"}`, seed, i, i%10)
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

func snapshots() []archive.Snapshot {
	return []archive.Snapshot{
		{TenantID: "11111111-1111-1111-1111-111111111111", TenantName: "Contoso", Day: day1, JSON: payload("c1", 100)},
		{TenantID: "11111111-1111-1111-1111-111111111111", TenantName: "Contoso", Day: day2, JSON: payload("c2", 100_000)},
		{TenantID: "22222222-2222-2222-2222-222222222222", TenantName: "Café Müller & Co", Day: day2, JSON: payload("m2", 100_000)},
		{TenantID: "33333333-3333-3333-3333-333333333333", TenantName: "Contoso/EU Ops", Day: day2, JSON: payload("e2", 120_000)},
		{TenantID: "44444444-4444-4444-4444-444444444444", TenantName: "北京 科技", Day: day2, JSON: payload("b2", 5_000)},
		{TenantID: "55555555-5555-5555-5555-555555555555", TenantName: "Empty", Day: day2, JSON: []byte{}},
	}
}

func TestFolderRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "archive")
	a, err := archive.Open(ctx, archive.Config{Kind: archive.KindFolder, Folder: dir}, noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	snaps := snapshots()
	for _, s := range snaps {
		if err := a.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range snaps {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(archive.BlobName(s.TenantID, s.Day))))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, s.JSON) {
			t.Errorf("%s %s: read back %d bytes that differ from the %d put", s.TenantName, s.Day, len(got), len(s.JSON))
		}
		checkHas(t, a, s.TenantID, s.Day, true)
		checkSidecar(t, dir, s.TenantID, s.TenantName)
	}
	checkHas(t, a, contosoID, day2.AddDays(1), false)
	checkHas(t, a, nobodyID, day2, false)

	// Every file is where BlobName says, 0640, and no temporary file is left.
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.Name() != "tenant.json" && !strings.HasPrefix(filepath.ToSlash(rel), archive.LatestFolder+"/") {
			files = append(files, filepath.ToSlash(rel))
		}
		if fi, _ := d.Info(); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s has mode %v, want 0640", rel, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkNames(t, files, snaps)

	// Overwrite: the same day again replaces the file.
	again := snaps[1]
	again.JSON = payload("c2-again", 90_000)
	if err := a.Put(ctx, again); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, contosoID, "2026-11-27.json"))
	if err != nil || !bytes.Equal(got, again.JSON) {
		t.Errorf("after overwrite: err %v, equal %v", err, bytes.Equal(got, again.JSON))
	}
}

func TestFolderStaysInside(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, "a", "archive")
	a, err := archive.Folder(dir)
	if err != nil {
		t.Fatal(err)
	}
	hostile := []string{"../..", "../../x", "..\\..\\y", "/abs", "\x00", ".", ""}
	for _, name := range hostile {
		// A hostile name is only ever a value in tenant.json.
		if err := a.Put(ctx, archive.Snapshot{TenantID: contosoID, TenantName: name, Day: day1, JSON: []byte("{}")}); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		checkSidecar(t, dir, contosoID, name)
		// A hostile ID is refused, and its Path still stays inside.
		err := a.Put(ctx, archive.Snapshot{TenantID: name, TenantName: "Contoso", Day: day1, JSON: []byte("{}")})
		if ae := asArchiveError(t, err); ae.Op != "put" || !strings.Contains(ae.Msg, "not a GUID") {
			t.Errorf("Put with tenant ID %q: %v", name, err)
		}
		if _, err := a.Has(ctx, name, day1); err == nil {
			t.Errorf("Has with tenant ID %q succeeded", name)
		}
		p := a.Path(name, day1)
		if rel, err := filepath.Rel(dir, p); err != nil || strings.HasPrefix(rel, "..") || strings.Count(filepath.ToSlash(rel), "/") != 1 {
			t.Errorf("%q is kept at %s, outside %s or not one folder deep", name, p, dir)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, "a"))
	if len(entries) != 1 {
		t.Errorf("files were written beside the archive folder: %v", entries)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 || entries[0].Name() != contosoID || entries[1].Name() != archive.LatestFolder {
		t.Errorf("the archive folder holds %v, want only %s and %s", entries, contosoID, archive.LatestFolder)
	}
}

// Concurrent Puts of one day leave one whole file, never a mix.
func TestFolderConcurrentPut(t *testing.T) {
	ctx := context.Background()
	a, err := archive.Folder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var bodies [][]byte
	for i := range 16 {
		body := payload(fmt.Sprint("w", i), 50_000+i*1000)
		bodies = append(bodies, body)
		wg.Go(func() {
			if err := a.Put(ctx, archive.Snapshot{TenantID: contosoID, TenantName: "Contoso", Day: day1, JSON: body}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := os.ReadFile(a.Path(contosoID, day1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(bodies, func(b []byte) bool { return bytes.Equal(b, got) }) {
		t.Errorf("the file (%d bytes) is none of the bodies put", len(got))
	}
	entries, _ := os.ReadDir(filepath.Dir(a.Path(contosoID, day1)))
	if len(entries) != 2 {
		t.Errorf("want only the day's file and tenant.json, have %v", entries)
	}
}

func TestFolderErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a, err := archive.Folder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := archive.Snapshot{TenantID: contosoID, TenantName: "Contoso", Day: day1, JSON: []byte("{}")}
	err = a.Put(ctx, s)
	ae := asArchiveError(t, err)
	if ae.Op != "put" || ae.TenantID != s.TenantID || ae.TenantName != "Contoso" || ae.Day != day1 || !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %#v", ae)
	}

	// A file where the tenant's folder should be.
	dir := t.TempDir()
	a, _ = archive.Folder(dir)
	if err := os.WriteFile(filepath.Join(dir, contosoID), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err = a.Put(context.Background(), s)
	if ae := asArchiveError(t, err); !strings.Contains(ae.Error(), "archive put Contoso 2026-11-26: ") {
		t.Errorf("error text %q", ae.Error())
	}
}

func TestOpenConfigErrors(t *testing.T) {
	env := map[string]string{"KEY": azuriteKey, "CS": azuriteDefault, "BADKEY": "not*base64*" + azuriteKey}
	getenv := func(k string) string { return env[k] }
	url := "https://acct.blob.core.windows.net/"
	for _, tc := range []struct {
		name string
		c    archive.Config
		want string
	}{
		{"no kind", archive.Config{}, `needs a kind`},
		{"unknown kind", archive.Config{Kind: "s3"}, `"s3" is not known`},
		{"folder without folder", archive.Config{Kind: "folder"}, "needs a folder"},
		{"no credential", archive.Config{Kind: "azblob", Container: "scores", AccountURL: url}, "exactly one of"},
		{"two credentials", archive.Config{Kind: "azblob", Container: "scores", AccountURL: url, AccountKeyEnv: "KEY", ManagedIdentity: true}, "exactly one of"},
		{"empty connection string", archive.Config{Kind: "azblob", Container: "scores", ConnectionStringEnv: "UNSET"}, "environment variable UNSET is empty"},
		{"empty key", archive.Config{Kind: "azblob", Container: "scores", AccountURL: url, AccountKeyEnv: "UNSET"}, "environment variable UNSET is empty"},
		{"key not base64", archive.Config{Kind: "azblob", Container: "scores", AccountURL: url, AccountKeyEnv: "BADKEY"}, "not base64"},
		{"key without url", archive.Config{Kind: "azblob", Container: "scores", AccountKeyEnv: "KEY"}, "needs account_url"},
		{"url with SAS", archive.Config{Kind: "azblob", Container: "scores", AccountURL: url + "?sv=1&sig=abcdefgh", AccountKeyEnv: "KEY"}, "bare account URL"},
		{"connection string and url", archive.Config{Kind: "azblob", Container: "scores", AccountURL: url, ConnectionStringEnv: "CS"}, "drop one"},
		{"identity over http", archive.Config{Kind: "azblob", Container: "scores", AccountURL: "http://acct.blob.core.windows.net/", ManagedIdentity: true}, "must be https"},
		{"identity without url", archive.Config{Kind: "azblob", Container: "scores", ManagedIdentity: true}, "needs account_url"},
		{"client id without identity", archive.Config{Kind: "azblob", Container: "scores", AccountURL: url, AccountKeyEnv: "KEY", ClientID: "x"}, "set managed_identity"},
		{"container upper case", archive.Config{Kind: "azblob", Container: "Scores", ConnectionStringEnv: "CS"}, "not a valid container name"},
		{"container double hyphen", archive.Config{Kind: "azblob", Container: "a--b", ConnectionStringEnv: "CS"}, "not a valid container name"},
		{"container too short", archive.Config{Kind: "azblob", Container: "ab", ConnectionStringEnv: "CS"}, "not a valid container name"},
		{"no container", archive.Config{Kind: "azblob", ConnectionStringEnv: "CS"}, "not a valid container name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := archive.Open(context.Background(), tc.c, getenv, nil)
			if err == nil {
				a.Close()
				t.Fatal("Open succeeded")
			}
			ae := asArchiveError(t, err)
			if ae.Op != "open" || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want op open and %q", err, tc.want)
			}
			noSecret(t, err.Error())
		})
	}
}

// The identity credentials make no request until a token is needed, so
// opening works anywhere; getting a token is left to a real Azure host.
func TestOpenManagedIdentity(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token", "AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111", "AZURE_CLIENT_ID": "22222222-2222-2222-2222-222222222222"},
	} {
		for _, clientID := range []string{"", "33333333-3333-3333-3333-333333333333"} {
			c := archive.Config{Kind: "azblob", Container: "secure-scores", AccountURL: "https://acct.blob.core.windows.net/", ManagedIdentity: true, ClientID: clientID}
			a, err := archive.Open(context.Background(), c, func(k string) string { return env[k] }, nil)
			if err != nil {
				t.Errorf("env %v, client id %q: %v", env, clientID, err)
				continue
			}
			if _, ok := a.(*archive.Container); !ok {
				t.Errorf("Open gave a %T", a)
			}
			a.Close()
		}
	}
}

func TestErrorText(t *testing.T) {
	e := &archive.Error{Op: "put", TenantID: "1111", TenantName: "Contoso", Day: day2, Msg: "Azure Storage answered 403 AuthenticationFailed"}
	if got, want := e.Error(), "archive put Contoso 2026-11-27: Azure Storage answered 403 AuthenticationFailed"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e = &archive.Error{Op: "open", Msg: "bad"}
	if got, want := e.Error(), "archive open: bad"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if errors.Unwrap(e) != nil {
		t.Errorf("Unwrap of a non-context error is %v", errors.Unwrap(e))
	}
}

// --- Azure Blob against Azurite ---

// azurite is the connection string of the Azurite the test script started; the
// test fails, never skips, when nothing answers there.
func azurite(t *testing.T) string {
	t.Helper()
	cs := os.Getenv("FLEETSCORE_TEST_AZURITE")
	if cs == "" {
		cs = azuriteDefault
	}
	endpoint := field(cs, "BlobEndpoint")
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		t.Fatalf("FLEETSCORE_TEST_AZURITE has no usable BlobEndpoint (%q)", endpoint)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Fatalf("Azurite does not answer at %s (%v): run scripts/test.sh, which installs Azurite (npm ci) and starts it, "+
			"or set FLEETSCORE_TEST_AZURITE to the connection string of a running one", u.Host, err)
	}
	conn.Close()
	return cs
}

func field(cs, key string) string {
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// testContainer is a fresh container name, deleted when the test ends.
func testContainer(t *testing.T, cs string) (string, *azblob.Client) {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "fleetscore-test-" + hex.EncodeToString(b)
	client, err := azblob.NewClientFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client.DeleteContainer(ctx, name, nil)
	})
	return name, client
}

func TestBlobAzurite(t *testing.T) {
	cs := azurite(t)
	ctx := context.Background()
	name, client := testContainer(t, cs)
	a, err := archive.Open(ctx, archive.Config{Kind: "azblob", Container: name, ConnectionStringEnv: "FLEETSCORE_ARCHIVE_CS"},
		func(k string) string { return map[string]string{"FLEETSCORE_ARCHIVE_CS": cs}[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	// Has creates the missing container and finds nothing in it.
	checkHas(t, a, contosoID, day1, false)

	snaps := snapshots()
	var wg sync.WaitGroup
	for _, s := range snaps {
		wg.Go(func() {
			if err := a.Put(ctx, s); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	checkBlobs(t, client, name, snaps)
	for _, s := range snaps {
		checkHas(t, a, s.TenantID, s.Day, true)
	}
	checkHas(t, a, contosoID, day2.AddDays(1), false)
	checkHas(t, a, nobodyID, day2, false)

	// Overwrite: the same tenant and day again replaces the blob.
	snaps[2].JSON = payload("m2-again", 80_000)
	if err := a.Put(ctx, snaps[2]); err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, client, name, snaps)

	// The container deleted between runs is created again by the next Put.
	if _, err := client.DeleteContainer(ctx, name, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := a.Put(ctx, snaps[0])
		if err == nil {
			break
		}
		// Azure (and Azurite) refuse to create a container while it is
		// being deleted; a later run succeeds.
		if !strings.Contains(err.Error(), "ContainerBeingDeleted") || time.Now().After(deadline) {
			t.Fatalf("Put after the container was deleted: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkBlobs(t, client, name, snaps[:1])
}

func TestBlobAzuriteAccountKey(t *testing.T) {
	cs := azurite(t)
	ctx := context.Background()
	name, client := testContainer(t, cs)
	env := map[string]string{"FLEETSCORE_ARCHIVE_KEY": field(cs, "AccountKey")}
	c := archive.Config{Kind: "azblob", Container: name, AccountURL: field(cs, "BlobEndpoint"), AccountKeyEnv: "FLEETSCORE_ARCHIVE_KEY"}
	a, err := archive.Open(ctx, c, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	snaps := snapshots()[1:4]
	for _, s := range snaps {
		if err := a.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
		checkHas(t, a, s.TenantID, s.Day, true)
	}
	checkBlobs(t, client, name, snaps)

	// A wrong key is refused with advice and without the key.
	wrong := "AAAA" + field(cs, "AccountKey")[4:]
	env["FLEETSCORE_ARCHIVE_KEY"] = wrong
	a, err = archive.Open(ctx, c, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Put(ctx, snaps[0])
	t.Logf("wrong key: %v", err)
	ae := asArchiveError(t, err)
	if !strings.Contains(ae.Msg, "answered 403 ") || !strings.Contains(ae.Msg, "account key") {
		t.Errorf("wrong key: %v", err)
	}
	noSecret(t, err.Error(), wrong)
}

func TestBlobUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing answers there now
	sas := "sv=2024-11-04&ss=b&srt=sco&sp=rwc&se=2030-01-01T00:00:00Z&sig=c2VjcmV0LXNhcy1zaWduYXR1cmUtdmFsdWU%3D"
	s := archive.Snapshot{TenantID: "11111111-1111-1111-1111-111111111111", TenantName: "Contoso", Day: day2, JSON: payload("u", 1000)}
	for _, tc := range []struct{ name, cs string }{
		{"key", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + azuriteKey + ";BlobEndpoint=http://" + addr + "/devstoreaccount1;"},
		{"sas", "BlobEndpoint=http://" + addr + "/devstoreaccount1;SharedAccessSignature=" + sas},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := archive.Blob(archive.BlobOptions{Container: "scores", ConnectionString: tc.cs, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			err = a.Put(context.Background(), s)
			ae := asArchiveError(t, err)
			if ae.Op != "put" || ae.TenantID != s.TenantID || ae.TenantName != "Contoso" || ae.Day != day2 || ae.Msg == "" {
				t.Errorf("Put: %#v", ae)
			}
			t.Logf("Put: %v", err)
			if !strings.Contains(ae.Msg, "connection refused") {
				t.Errorf("the message does not say why: %q", ae.Msg)
			}
			noSecret(t, err.Error(), "c2VjcmV0LXNhcy1zaWduYXR1cmUtdmFsdWU")
			_, err = a.Has(context.Background(), contosoID, day2)
			if ae := asArchiveError(t, err); ae.Op != "has" {
				t.Errorf("Has: %#v", ae)
			}
			noSecret(t, err.Error(), "c2VjcmV0LXNhcy1zaWduYXR1cmUtdmFsdWU")
		})
	}

	// With the SDK's retries, the caller's deadline ends the Put and is
	// reported as such.
	a, err := archive.Open(context.Background(), archive.Config{Kind: "azblob", Container: "scores", ConnectionStringEnv: "CS"},
		func(string) string {
			return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + azuriteKey + ";BlobEndpoint=http://" + addr + "/devstoreaccount1;"
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = a.Put(ctx, s)
	t.Logf("deadline: %v", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put past its deadline: %v, want DeadlineExceeded", err)
	}
	asArchiveError(t, err)
	noSecret(t, err.Error())
}

// --- helpers ---

func noEnv(string) string { return "" }

func checkHas(t *testing.T, a archive.Archiver, tenantID string, day fleetscore.Day, want bool) {
	t.Helper()
	got, err := a.Has(context.Background(), tenantID, day)
	if err != nil {
		t.Fatalf("Has(%q, %s): %v", tenantID, day, err)
	}
	if got != want {
		t.Errorf("Has(%q, %s) = %v, want %v", tenantID, day, got, want)
	}
}

func checkNames(t *testing.T, got []string, snaps []archive.Snapshot) {
	t.Helper()
	var want []string
	for _, s := range snaps {
		want = append(want, archive.BlobName(s.TenantID, s.Day))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
}

// checkBlobs lists the container and downloads every blob: the names are
// those of snaps, and every blob is its snapshot's JSON byte for byte.
func checkBlobs(t *testing.T, client *azblob.Client, container string, snaps []archive.Snapshot) {
	t.Helper()
	ctx := context.Background()
	var names []string
	pager := client.NewListBlobsFlatPager(container, &azblob.ListBlobsFlatOptions{Include: azblob.ListBlobsInclude{Metadata: true}})
	byName := map[string]archive.Snapshot{}
	for _, s := range snaps {
		byName[archive.BlobName(s.TenantID, s.Day)] = s
	}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			if strings.HasPrefix(*b.Name, archive.LatestFolder+"/") {
				continue // checked by TestLatestHoldsTheNewestDay
			}
			names = append(names, *b.Name)
			if ct := b.Properties.ContentType; ct == nil || *ct != "application/json" {
				t.Errorf("%s: content type %v", *b.Name, ct)
			}
			if s, ok := byName[*b.Name]; ok {
				id, name := blobTenant(b.Metadata)
				if id != s.TenantID || name != s.TenantName {
					t.Errorf("%s: metadata names tenant %q (%s), want %q (%s)", *b.Name, name, id, s.TenantName, s.TenantID)
				}
			}
		}
	}
	checkNames(t, names, snaps)
	for _, s := range snaps {
		name := archive.BlobName(s.TenantID, s.Day)
		resp, err := client.DownloadStream(ctx, container, name, nil)
		if err != nil {
			t.Fatalf("download %s: %v", name, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("download %s: %v", name, err)
		}
		if !bytes.Equal(got, s.JSON) {
			t.Errorf("%s: downloaded %d bytes that differ from the %d uploaded", name, len(got), len(s.JSON))
		}
	}
}

func asArchiveError(t *testing.T, err error) *archive.Error {
	t.Helper()
	var ae *archive.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *archive.Error", err, err)
	}
	return ae
}

// noSecret fails when text holds the Azurite key (also URL-encoded), an
// AccountKey or sig field with a value, or any of extra.
func noSecret(t *testing.T, text string, extra ...string) {
	t.Helper()
	for _, s := range append([]string{azuriteKey, url.QueryEscape(azuriteKey), azuriteKey[:20]}, extra...) {
		if strings.Contains(text, s) {
			t.Errorf("error text holds a secret (%.8s…): %s", s, text)
		}
	}
	for _, f := range []string{"AccountKey=", "sig=", "SharedAccessSignature="} {
		if i := strings.Index(text, f); i >= 0 && !strings.HasPrefix(text[i+len(f):], "REDACTED") {
			t.Errorf("error text holds %s with a value: %s", f, text)
		}
	}
}

// checkSidecar reads the folder archive's tenant.json of the tenant.
func checkSidecar(t *testing.T, dir, tenantID, wantName string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, tenantID, "tenant.json"))
	if err != nil {
		t.Errorf("tenant.json of %s: %v", tenantID, err)
		return
	}
	var got struct {
		ID   string `json:"tenant_id"`
		Name string `json:"tenant_name"`
	}
	if err := json.Unmarshal(data, &got); err != nil || got.ID != tenantID || got.Name != wantName {
		t.Errorf("tenant.json of %s is %s (%v), want tenant_id %s and tenant_name %q", tenantID, data, err, tenantID, wantName)
	}
}

// blobTenant is the tenant a blob's metadata names, its name URL-unescaped.
// Metadata keys come back in any case.
func blobTenant(md map[string]*string) (id, name string) {
	for k, v := range md {
		if v == nil {
			continue
		}
		switch strings.ToLower(k) {
		case "tenant_id":
			id = *v
		case "tenant_name":
			if n, err := url.PathUnescape(*v); err == nil {
				name = n
			} else {
				name = "undecodable " + *v
			}
		}
	}
	return id, name
}
