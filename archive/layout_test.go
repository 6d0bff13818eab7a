package archive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/archive"
)

// backend is one kind of archive with raw access to what it holds, so a
// test can lay down files as an earlier version wrote them and read back
// exactly what is there.
type backend struct {
	arc   archive.Archiver
	write func(t *testing.T, name string, data []byte) // name with "/", as BlobName gives
	read  func(t *testing.T, name string) ([]byte, bool)
	names func(t *testing.T) []string // every day file, sorted; not tenant.json nor latest/
	// tenant is the name recorded beside the tenant's day (tenant.json, or
	// the day's blob metadata).
	tenant func(t *testing.T, tenantID string, day fleetscore.Day) string
}

// eachBackend runs f against a fresh folder archive and a fresh container
// in Azurite.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("folder", func(t *testing.T) { f(t, folderBackend(t)) })
	t.Run("azblob", func(t *testing.T) { f(t, blobBackend(t)) })
}

func folderBackend(t *testing.T) backend {
	dir := t.TempDir()
	a, err := archive.Folder(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	return backend{
		arc: a,
		write: func(t *testing.T, name string, data []byte) {
			t.Helper()
			if err := os.MkdirAll(filepath.Dir(path(name)), 0o750); err != nil {
				t.Fatal(err)
			}
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
		names: func(t *testing.T) []string {
			t.Helper()
			var out []string
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() == "tenant.json" {
					return err
				}
				if rel, _ := filepath.Rel(dir, p); !strings.HasPrefix(filepath.ToSlash(rel), archive.LatestFolder+"/") {
					out = append(out, filepath.ToSlash(rel))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(out)
			return out
		},
		tenant: func(t *testing.T, tenantID string, _ fleetscore.Day) string {
			t.Helper()
			data, err := os.ReadFile(filepath.Join(dir, tenantID, "tenant.json"))
			if err != nil {
				t.Errorf("tenant.json of %s: %v", tenantID, err)
				return ""
			}
			var sc struct {
				ID   string `json:"tenant_id"`
				Name string `json:"tenant_name"`
			}
			if err := json.Unmarshal(data, &sc); err != nil || sc.ID != tenantID {
				t.Errorf("tenant.json of %s: %s (%v)", tenantID, data, err)
			}
			return sc.Name
		},
	}
}

func blobBackend(t *testing.T) backend {
	cs := azurite(t)
	ctx := context.Background()
	name, client := testContainer(t, cs)
	a, err := archive.Blob(archive.BlobOptions{Container: name, ConnectionString: cs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateContainer(ctx, name, nil); err != nil {
		t.Fatal(err)
	}
	return backend{
		arc: a,
		write: func(t *testing.T, blobName string, data []byte) {
			t.Helper()
			// As the earlier version uploaded: no metadata.
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
		names: func(t *testing.T) []string {
			t.Helper()
			var out []string
			pager := client.NewListBlobsFlatPager(name, nil)
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range page.Segment.BlobItems {
					if !strings.HasPrefix(*b.Name, archive.LatestFolder+"/") {
						out = append(out, *b.Name)
					}
				}
			}
			slices.Sort(out)
			return out
		},
		tenant: func(t *testing.T, tenantID string, day fleetscore.Day) string {
			t.Helper()
			props, err := client.ServiceClient().NewContainerClient(name).NewBlobClient(archive.BlobName(tenantID, day)).GetProperties(ctx, nil)
			if err != nil {
				t.Errorf("properties of %s: %v", archive.BlobName(tenantID, day), err)
				return ""
			}
			id, n := blobTenant(props.Metadata)
			if id != tenantID {
				t.Errorf("%s: metadata tenant_id %q", archive.BlobName(tenantID, day), id)
			}
			return n
		},
	}
}

const (
	dotID   = "0c0a7e55-1111-4aaa-8bbb-000000000001" // "Contoso Ltd."
	noDotID = "0c0a7e55-2222-4aaa-8bbb-000000000002" // "Contoso Ltd"
)

// TestTrailingDotTenantsKeepTheirDays is issue 11: "Contoso Ltd." and
// "Contoso Ltd" were one folder, so each tenant's Put replaced the other's
// day. Keyed by tenant ID, both keep every day, byte for byte.
func TestTrailingDotTenantsKeepTheirDays(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		var snaps []archive.Snapshot
		for i := range 5 {
			day := day1.AddDays(i)
			snaps = append(snaps,
				archive.Snapshot{TenantID: dotID, TenantName: "Contoso Ltd.", Day: day, JSON: payload("dot"+day.String(), 2000)},
				archive.Snapshot{TenantID: noDotID, TenantName: "Contoso Ltd", Day: day, JSON: payload("nodot"+day.String(), 3000)})
		}
		for _, s := range snaps {
			if err := b.arc.Put(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		var want []string
		for _, s := range snaps {
			want = append(want, archive.BlobName(s.TenantID, s.Day))
			got, ok := b.read(t, archive.BlobName(s.TenantID, s.Day))
			if !ok || !bytes.Equal(got, s.JSON) {
				t.Errorf("%q %s: found %v, same bytes %v", s.TenantName, s.Day, ok, bytes.Equal(got, s.JSON))
			}
			checkHas(t, b.arc, s.TenantID, s.Day, true)
			if name := b.tenant(t, s.TenantID, s.Day); name != s.TenantName {
				t.Errorf("%s %s is recorded as tenant %q, want %q", s.TenantID, s.Day, name, s.TenantName)
			}
		}
		slices.Sort(want)
		if got := b.names(t); !slices.Equal(got, want) {
			t.Errorf("the archive holds %d day files %q, want the %d put", len(got), got, len(want))
		}
	})
}

// TestTenantNameRecorded: the name is kept beside the days and follows a
// rename, which keeps the folder; an upper-case ID is the same folder, and
// names of any script survive the blob metadata's ASCII.
func TestTenantNameRecorded(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		put := func(id, name string, day fleetscore.Day) {
			t.Helper()
			if err := b.arc.Put(ctx, archive.Snapshot{TenantID: id, TenantName: name, Day: day, JSON: payload(name, 100)}); err != nil {
				t.Fatal(err)
			}
		}
		put(dotID, "Contoso Ltd.", day1)
		put(strings.ToUpper(dotID), "Contoso Holdings Ltd", day2) // renamed
		if got := b.tenant(t, dotID, day2); got != "Contoso Holdings Ltd" {
			t.Errorf("after the rename the name is %q", got)
		}
		checkHas(t, b.arc, dotID, day1, true)
		checkHas(t, b.arc, "{"+strings.ToUpper(dotID)+"}", day2, true)
		const odd = "  Café Müller & Co. — 北京/科技 100% ü\t "
		put(noDotID, odd, day1)
		if got := b.tenant(t, noDotID, day1); got != odd {
			t.Errorf("the name is recorded as %q, want %q", got, odd)
		}
		want := []string{archive.BlobName(dotID, day1), archive.BlobName(dotID, day2), archive.BlobName(noDotID, day1)}
		slices.Sort(want)
		if got := b.names(t); !slices.Equal(got, want) {
			t.Errorf("the archive holds %q, want %q", got, want)
		}
	})
}

// TestMigrate reads back an archive the name-keyed layout wrote: each
// configured tenant's old folder moves to its ID folder; a day the new layout
// has differently is left and reported; a folder two tenants share is left
// and reported naming both; a second run moves nothing.
func TestMigrate(t *testing.T) {
	const (
		fabrikamID  = "fab00000-0000-4000-8000-00000000000f"
		northwindID = "00000000-4e00-4000-8000-00000000000e"
		removedName = "Old Client Gone"
	)
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		old := map[string][]byte{}
		lay := func(name string, data []byte) {
			b.write(t, name, data)
			old[name] = data
		}
		// Fabrikam: three old days; the new layout already has day2 with
		// other bytes (collected after an upgrade whose migration failed).
		for i := range 3 {
			lay(archive.LegacyBlobName("Fabrikam", day1.AddDays(i)), payload("fab-old"+day1.AddDays(i).String(), 4000))
		}
		newer := payload("fab-new", 4100)
		b.write(t, archive.BlobName(fabrikamID, day2), newer)
		// Northwind: a migration cut short after the copy, before the
		// delete: the old day and the same bytes at the new name.
		lay(archive.LegacyBlobName("Northwind.", day1), payload("nw", 1000))
		b.write(t, archive.BlobName(northwindID, day1), old[archive.LegacyBlobName("Northwind.", day1)])
		// The shared folder of "Contoso Ltd." and "Contoso Ltd".
		lay(archive.LegacyBlobName("Contoso Ltd", day1), payload("shared1", 1000))
		lay(archive.LegacyBlobName("Contoso Ltd.", day2), payload("shared2", 1000))
		// A tenant no longer configured, and a stray file in an old folder.
		lay(archive.LegacyBlobName(removedName, day1), payload("gone", 500))
		lay("Fabrikam/notes.txt", []byte("kept by hand"))

		tenants := []archive.TenantRef{
			{ID: strings.ToUpper(fabrikamID), Name: "Fabrikam"},
			{ID: dotID, Name: "Contoso Ltd."},
			{ID: noDotID, Name: "Contoso Ltd"},
			{ID: northwindID, Name: "Northwind."},
		}
		// Unmigratable only looks.
		before := b.names(t)
		um, err := archive.Unmigratable(ctx, b.arc, tenants)
		if err != nil || len(um) != 1 || um[0].Folder != "Contoso Ltd" || um[0].Days != 2 || len(um[0].Tenants) != 2 {
			t.Errorf("Unmigratable: %+v, %v; want the folder \"Contoso Ltd\" with 2 days of both Contoso tenants", um, err)
		}
		if got := b.names(t); !slices.Equal(got, before) {
			t.Errorf("Unmigratable changed the archive: %q, was %q", got, before)
		}

		r, err := archive.Migrate(ctx, b.arc, tenants)
		if err != nil {
			t.Fatal(err)
		}
		moved := func(ms []archive.Move) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.From+" -> "+m.To)
			}
			return out
		}
		wantMoved := []string{
			"Fabrikam/2026-11-26.json -> " + fabrikamID + "/2026-11-26.json",
			"Fabrikam/2026-11-28.json -> " + fabrikamID + "/2026-11-28.json",
			"Northwind/2026-11-26.json -> " + northwindID + "/2026-11-26.json",
		}
		if got := moved(r.Moved); !slices.Equal(got, wantMoved) {
			t.Errorf("moved %q, want %q", got, wantMoved)
		}
		if got, want := moved(r.Kept), []string{"Fabrikam/2026-11-27.json -> " + fabrikamID + "/2026-11-27.json"}; !slices.Equal(got, want) {
			t.Errorf("kept %q, want %q", got, want)
		}
		if len(r.Unmigrated) != 1 || r.Unmigrated[0].Folder != "Contoso Ltd" || r.Unmigrated[0].Days != 2 ||
			len(r.Unmigrated[0].Tenants) != 2 || r.Unmigrated[0].Tenants[0].ID != dotID || r.Unmigrated[0].Tenants[1].ID != noDotID {
			t.Errorf("unmigrated %+v, want folder \"Contoso Ltd\" with 2 days of both Contoso tenants", r.Unmigrated)
		}
		warnings := strings.Join(r.Warnings(), "\n")
		t.Logf("warnings:\n%s", warnings)
		for _, w := range []string{
			`folder "Contoso Ltd"`, `"Contoso Ltd." (` + dotID + `)`, `"Contoso Ltd" (` + noDotID + `)`,
			"cannot be attributed automatically", "by hand into " + dotID + "/ or " + noDotID + "/", "azureTenantId",
			"Fabrikam/2026-11-27.json", "already holds a different snapshot",
		} {
			if !strings.Contains(warnings, w) {
				t.Errorf("the warnings lack %q", w)
			}
		}

		// Every old day is readable where it now is, with its bytes.
		for i := range 3 {
			d := day1.AddDays(i)
			want := old[archive.LegacyBlobName("Fabrikam", d)]
			if d == day2 {
				want = newer // the new one wins
			}
			if got, ok := b.read(t, archive.BlobName(fabrikamID, d)); !ok || !bytes.Equal(got, want) {
				t.Errorf("Fabrikam %s: found %v, right bytes %v", d, ok, bytes.Equal(got, want))
			}
			checkHas(t, b.arc, fabrikamID, d, true)
		}
		if got := b.tenant(t, fabrikamID, day1); got != "Fabrikam" {
			t.Errorf("the moved day names tenant %q", got)
		}
		wantNames := []string{
			"Contoso Ltd/2026-11-26.json", "Contoso Ltd/2026-11-27.json", // left as they were
			"Fabrikam/2026-11-27.json", "Fabrikam/notes.txt", // the conflict, and not a day
			removedName + "/2026-11-26.json", // no configured tenant's
			archive.BlobName(fabrikamID, day1), archive.BlobName(fabrikamID, day2), archive.BlobName(fabrikamID, day2.AddDays(1)),
			archive.BlobName(northwindID, day1),
		}
		slices.Sort(wantNames)
		after := b.names(t)
		if !slices.Equal(after, wantNames) {
			t.Errorf("after the migration the archive holds\n%q\nwant\n%q", after, wantNames)
		}
		for _, name := range []string{"Contoso Ltd/2026-11-26.json", "Contoso Ltd/2026-11-27.json", "Fabrikam/2026-11-27.json"} {
			if got, _ := b.read(t, name); !bytes.Equal(got, old[name]) {
				t.Errorf("%s was changed", name)
			}
		}

		// Idempotent: the second run moves nothing and reports the same.
		r2, err := archive.Migrate(ctx, b.arc, tenants)
		if err != nil {
			t.Fatal(err)
		}
		if len(r2.Moved) != 0 || len(r2.Kept) != 1 || len(r2.Unmigrated) != 1 {
			t.Errorf("second run: moved %d, kept %d, unmigrated %d; want 0, 1, 1", len(r2.Moved), len(r2.Kept), len(r2.Unmigrated))
		}
		if got := b.names(t); !slices.Equal(got, after) {
			t.Errorf("the second run changed the archive:\n%q\nwas\n%q", got, after)
		}
	})
}

func TestMigrateRefusesBadIDs(t *testing.T) {
	a, err := archive.Folder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = archive.Migrate(context.Background(), a, []archive.TenantRef{{ID: "contoso.onmicrosoft.com", Name: "Contoso"}})
	if ae := asArchiveError(t, err); ae.Op != "migrate" || !strings.Contains(ae.Msg, "not a GUID") {
		t.Errorf("Migrate with a domain for an ID: %v", err)
	}
}

func TestLegacyCollisions(t *testing.T) {
	got, err := archive.LegacyCollisions([]archive.TenantRef{
		{ID: dotID, Name: "Contoso Ltd."},
		{ID: "aaaaaaaa-0000-4000-8000-000000000001", Name: "Fabrikam"},
		{ID: strings.ToUpper(noDotID), Name: "Contoso Ltd"},
		{ID: "aaaaaaaa-0000-4000-8000-000000000002", Name: "A/B"},
		{ID: "aaaaaaaa-0000-4000-8000-000000000003", Name: "A_B"},
		{ID: "aaaaaaaa-0000-4000-8000-000000000004", Name: "Northwind"},
		{ID: "aaaaaaaa-0000-4000-8000-000000000004", Name: "Northwind."}, // the same tenant twice is no collision
	})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, c := range got {
		var ids []string
		for _, t := range c.Tenants {
			ids = append(ids, t.ID)
		}
		s = append(s, c.Folder+": "+strings.Join(ids, " "))
	}
	want := []string{"Contoso Ltd: " + dotID + " " + noDotID, "A_B: aaaaaaaa-0000-4000-8000-000000000002 aaaaaaaa-0000-4000-8000-000000000003"}
	if !slices.Equal(s, want) {
		t.Errorf("collisions %q, want %q", s, want)
	}
}

// TestLatestHoldsTheNewestDay: after each of two collections,
// latest/{tenant ID}.json holds the tenant's newest day, byte for byte,
// whatever order the collector puts the days in, and a day retried later
// (older) never replaces it; another tenant's latest is its own.
func TestLatestHoldsTheNewestDay(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		d := func(n int) fleetscore.Day { return day1.AddDays(n) }
		snap := func(id string, n int, seed string) archive.Snapshot {
			return archive.Snapshot{TenantID: id, TenantName: "Contoso", Day: d(n), JSON: payload(id[:4]+seed+d(n).String(), 2_000)}
		}
		latest := func(id string) []byte {
			t.Helper()
			data, ok := b.read(t, archive.LatestName(id))
			if !ok {
				t.Fatalf("no %s", archive.LatestName(id))
			}
			return data
		}
		put := func(s archive.Snapshot) {
			t.Helper()
			if err := b.arc.Put(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		// The first collection: a backfill, the newest day in the middle.
		first := []archive.Snapshot{snap(dotID, 1, "a"), snap(dotID, 3, "a"), snap(dotID, 0, "a"), snap(dotID, 2, "a")}
		for _, s := range first {
			put(s)
		}
		put(snap(noDotID, 1, "a"))
		if got := latest(dotID); !bytes.Equal(got, first[1].JSON) {
			t.Errorf("after the first collection latest/ holds %.60s…; want day %s", got, first[1].Day)
		}
		// The second collection: a new day, a day retried from the
		// backlog (older), and the new day collected again the same day.
		put(snap(dotID, 4, "a"))
		put(snap(dotID, 1, "retried"))
		newest := snap(dotID, 4, "again")
		put(newest)
		if got := latest(dotID); !bytes.Equal(got, newest.JSON) {
			t.Errorf("after the second collection latest/ holds %.60s…; want the newest day %s as last put", got, newest.Day)
		}
		if got, want := latest(noDotID), snap(noDotID, 1, "a").JSON; !bytes.Equal(got, want) {
			t.Errorf("the other tenant's latest/ holds %.60s…", got)
		}
		if got, ok := b.read(t, archive.BlobName(dotID, d(1))); !ok || !bytes.Equal(got, snap(dotID, 1, "retried").JSON) {
			t.Error("the retried day was not stored at its own name")
		}
		if names := b.names(t); len(names) != 6 {
			t.Errorf("day files %q; want the 6 days put", names)
		}
	})
}

func TestLatestName(t *testing.T) {
	if got := archive.LatestName("{72F988BF-86F1-41AF-91AB-2D7CD011DB47}"); got != "latest/72f988bf-86f1-41af-91ab-2d7cd011db47.json" {
		t.Errorf("LatestName = %q", got)
	}
	if got := archive.LatestName("../.."); got != "latest/_.json" {
		t.Errorf("LatestName of a hostile ID = %q; want one safe segment", got)
	}
}
