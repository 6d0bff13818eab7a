package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/archive"
)

// testArchive is an archive block for a test config and raw access to what
// the archive holds.
type testArchive struct {
	yaml  string
	env   map[string]string
	write func(t *testing.T, name string, data []byte)
	read  func(t *testing.T, name string) ([]byte, bool)
}

func folderTestArchive(t *testing.T) testArchive {
	dir := filepath.Join(t.TempDir(), "archive")
	path := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	return testArchive{
		yaml: "archive:\n  folder: " + dir + "\n",
		write: func(t *testing.T, name string, data []byte) {
			t.Helper()
			os.MkdirAll(filepath.Dir(path(name)), 0o750)
			if err := os.WriteFile(path(name), data, 0o640); err != nil {
				t.Fatal(err)
			}
		},
		read: func(t *testing.T, name string) ([]byte, bool) {
			t.Helper()
			data, err := os.ReadFile(path(name))
			if errors.Is(err, fs.ErrNotExist) {
				return nil, false
			}
			if err != nil {
				t.Fatal(err)
			}
			return data, true
		},
	}
}

// blobTestArchive is a fresh container in the Azurite the test script
// started; the test fails, never skips, when nothing answers there.
func blobTestArchive(t *testing.T) testArchive {
	cs := os.Getenv("FLEETSCORE_TEST_AZURITE")
	if cs == "" {
		t.Fatal("FLEETSCORE_TEST_AZURITE is not set: run scripts/test.sh, which starts Azurite, or set it to a running one's connection string")
	}
	var endpoint string
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(k, "BlobEndpoint") {
			endpoint = v
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		t.Fatalf("FLEETSCORE_TEST_AZURITE has no usable BlobEndpoint (%q)", endpoint)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Fatalf("Azurite does not answer at %s: %v", u.Host, err)
	}
	conn.Close()
	client, err := azblob.NewClientFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "fleetscore-cmd-" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := client.CreateContainer(ctx, name, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.DeleteContainer(context.Background(), name, nil) })
	return testArchive{
		yaml: "archive:\n  container: " + name + "\n  connection_string_env: TEST_ARCHIVE_CS\n",
		env:  map[string]string{"TEST_ARCHIVE_CS": cs},
		write: func(t *testing.T, blobName string, data []byte) {
			t.Helper()
			if _, err := client.UploadBuffer(ctx, name, blobName, data, nil); err != nil {
				t.Fatal(err)
			}
		},
		read: func(t *testing.T, blobName string) ([]byte, bool) {
			t.Helper()
			resp, err := client.DownloadStream(ctx, name, blobName, nil)
			if bloberror.HasCode(err, bloberror.BlobNotFound) {
				return nil, false
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return data, true
		},
	}
}

// TestArchiveTenantsByID is issue 11 through the binary's wiring: tenants
// "Contoso Ltd." and "Contoso Ltd", collected from the emulator, both keep
// every day in the archive; an archive the name-keyed layout wrote is moved
// to the ID folders by collect, except the folder the two share, which
// check and collect both report with the fix.
func TestArchiveTenantsByID(t *testing.T) {
	for kind, open := range map[string]func(*testing.T) testArchive{"folder": folderTestArchive, "azblob": blobTestArchive} {
		t.Run(kind, func(t *testing.T) {
			arc := open(t)
			path, ids := writeConfig(t, []tenantSpec{
				{name: "Contoso Ltd.", consent: true},
				{name: "Contoso Ltd", consent: true},
				{name: "Fabrikam", consent: true},
			})
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(arc.yaml)
			f.Close()
			getenv := func(k string) string { return arc.env[k] }

			// What the previous version left: a day of Fabrikam's long out
			// of Graph's window, and the folder both Contoso tenants wrote.
			oldDay := fleetscore.MustDay("2025-01-15")
			fabOld := []byte(`{"id":"` + ids[2] + `_2025-01-15","azureTenantId":"` + ids[2] + `"}`)
			arc.write(t, archive.LegacyBlobName("Fabrikam", oldDay), fabOld)
			sharedOld := []byte(`{"id":"` + ids[1] + `_2025-01-15","azureTenantId":"` + ids[1] + `"}`)
			arc.write(t, archive.LegacyBlobName("Contoso Ltd", oldDay), sharedOld)

			r := runCmd(t, getenv, "check", "--config", path)
			if r.err != nil {
				t.Fatalf("check: %v\n%s\n%s", r.err, r.stdout, r.stderr)
			}
			for _, w := range []string{`"Contoso Ltd." (` + path + `:10, ` + ids[0] + `)`, `"Contoso Ltd" (` + path + `:12, ` + ids[1] + `)`,
				`folder "Contoso Ltd"`, "1 day file,", "cannot be attributed automatically", "fix: move each Contoso Ltd/{date}.json by hand into " + ids[0] + "/ or " + ids[1] + "/"} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("check's warnings lack %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "Fabrikam") {
				t.Errorf("check warns of Fabrikam, whose old folder moves:\n%s", r.stderr)
			}

			r = runCmd(t, getenv, "collect", "--config", path)
			if r.err != nil {
				t.Fatalf("collect: %v\n%s\n%s", r.err, r.stdout, r.stderr)
			}
			t.Logf("collect's log:\n%s", r.stderr)
			if !strings.Contains(r.stderr, "moved days of the old name-keyed layout") || !strings.Contains(r.stderr, "cannot be attributed automatically") {
				t.Errorf("collect does not report the migration:\n%s", r.stderr)
			}
			for i, id := range ids {
				want, _ := shared.emu.Expected(id)
				if len(want) < 80 {
					t.Fatalf("the emulator has %d days of tenant %d", len(want), i)
				}
				for _, s := range want {
					data, ok := arc.read(t, archive.BlobName(id, s.Day))
					var snap struct {
						ID string `json:"id"`
					}
					if !ok || json.Unmarshal(data, &snap) != nil || snap.ID != id+"_"+s.Day.String() {
						t.Errorf("tenant %d (%s), %s: archived %v, snapshot id %q", i, id, s.Day, ok, snap.ID)
					}
				}
			}
			if got, ok := arc.read(t, archive.BlobName(ids[2], oldDay)); !ok || string(got) != string(fabOld) {
				t.Errorf("Fabrikam's old day was not moved: %v %q", ok, got)
			}
			if _, ok := arc.read(t, archive.LegacyBlobName("Fabrikam", oldDay)); ok {
				t.Error("Fabrikam's old day is still in the old folder")
			}
			if got, ok := arc.read(t, archive.LegacyBlobName("Contoso Ltd", oldDay)); !ok || string(got) != string(sharedOld) {
				t.Errorf("the shared folder was changed: %v %q", ok, got)
			}

			// The next run has nothing left to move.
			r = runCmd(t, getenv, "collect", "--config", path)
			if r.err != nil || strings.Contains(r.stderr, "moved days") {
				t.Errorf("second collect: %v\n%s", r.err, r.stderr)
			}
		})
	}
}

// TestCheckRefusesOneArchiveFolderTwice: two tenants share an ID folder only
// when they have one tenant ID, in any case or with braces; the config
// refuses that, naming both lines.
func TestCheckRefusesOneArchiveFolderTwice(t *testing.T) {
	path, ids := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("  - name: Contoso EU\n    tenant_id: '{" + strings.ToUpper(ids[0]) + "}'\narchive:\n  folder: archive\n")
	f.Close()
	r := runCmd(t, nil, "check", "--config", path)
	if exitCode(r.err) != 2 || !strings.Contains(r.stderr, path+":13:") ||
		!strings.Contains(r.stderr, "tenant_id "+ids[0]+" is listed twice, on lines 11 and 13") || !strings.Contains(r.stderr, "remove one") {
		t.Errorf("check: exit %d\n%s", exitCode(r.err), r.stderr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "archive")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("check made the archive folder (%v)", err)
	}
}
