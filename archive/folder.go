package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/fleetscore/fleetscore"
)

// File modes of the archive: the JSON is the client's security posture, so
// it is readable by the service's group at most.
const (
	fileMode = 0o640
	dirMode  = 0o750
)

// Dir is an archive in a local folder: {dir}/{tenant ID}/{YYYY-MM-DD}.json,
// and the tenant's name in {dir}/{tenant ID}/tenant.json.
type Dir struct {
	dir string

	mu    sync.Mutex
	names map[string]string // tenant ID -> the name its tenant.json holds

	latestMu sync.Mutex // one look at the newest day and write of latest/ at a time
}

// sidecar is the content of a tenant's tenant.json.
type sidecar struct {
	TenantID   string `json:"tenant_id"`
	TenantName string `json:"tenant_name"`
}

// Folder opens (and creates when missing) an archive folder.
func Folder(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, openError("create the archive folder: " + err.Error())
	}
	return &Dir{dir: dir, names: map[string]string{}}, nil
}

// Path is the file a tenant's day is kept in.
func (d *Dir) Path(tenantID string, day fleetscore.Day) string {
	return filepath.Join(d.dir, filepath.FromSlash(BlobName(tenantID, day)))
}

// NamePath is the file that records the tenant's name: {tenant ID}/tenant.json.
func (d *Dir) NamePath(tenantID string) string {
	return filepath.Join(d.dir, folderOf(tenantID), sidecarName)
}

// Put writes the snapshot atomically: to a temporary file in the same folder,
// synced, then renamed over the day's file, so a reader or a crash never sees
// half a file.
func (d *Dir) Put(ctx context.Context, s Snapshot) error {
	if err := ctx.Err(); err != nil {
		return newError("put", s, err.Error(), err)
	}
	id, err := checkID("put", s)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(d.Path(id, s.Day), s.JSON); err != nil {
		return newError("put", s, err.Error(), err)
	}
	if err := d.recordName(id, s.TenantName); err != nil {
		return newError("put", s, "record the tenant's name: "+err.Error(), err)
	}
	if err := d.putLatest(id, s); err != nil {
		return newError("put", s, "replace "+LatestName(id)+": "+err.Error(), err)
	}
	return nil
}

// LatestPath is the file that holds the tenant's newest snapshot:
// {dir}/latest/{tenant ID}.json.
func (d *Dir) LatestPath(tenantID string) string {
	return filepath.Join(d.dir, filepath.FromSlash(LatestName(tenantID)))
}

// putLatest replaces latest/{id}.json with the snapshot when its day is the
// newest of the tenant's day files (written before, so that of two Puts the
// newer day's always ends there).
func (d *Dir) putLatest(id string, s Snapshot) error {
	d.latestMu.Lock()
	defer d.latestMu.Unlock()
	entries, err := os.ReadDir(filepath.Join(d.dir, id))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if day, ok := parseDayFile(e.Name()); ok && day.After(s.Day) && e.Type().IsRegular() {
			return nil
		}
	}
	return writeFileAtomic(d.LatestPath(id), s.JSON)
}

// recordName writes the tenant's tenant.json when it does not hold name yet.
// Writers of one tenant are serialised so the file never goes back to an
// older name.
func (d *Dir) recordName(id, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if have, ok := d.names[id]; ok && have == name {
		return nil
	}
	path := d.NamePath(id)
	want, err := json.Marshal(sidecar{TenantID: id, TenantName: name})
	if err != nil {
		return err
	}
	want = append(want, '\n')
	if have, err := os.ReadFile(path); err != nil || !bytes.Equal(have, want) {
		if err := writeFileAtomic(path, want); err != nil {
			return err
		}
	}
	d.names[id] = name
	return nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(fileMode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	// The rename is durable once the folder is synced; not every file system
	// lets a folder be synced, and the file is complete either way.
	syncDir(dir)
	return nil
}

// Has reports whether the tenant's day has a file.
func (d *Dir) Has(ctx context.Context, tenantID string, day fleetscore.Day) (bool, error) {
	s := Snapshot{TenantID: tenantID, Day: day}
	if err := ctx.Err(); err != nil {
		return false, newError("has", s, err.Error(), err)
	}
	id, err := checkID("has", s)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(d.Path(id, day))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, newError("has", s, err.Error(), err)
	}
	return fi.Mode().IsRegular(), nil
}

// Close does nothing: every Put is complete when it returns.
func (d *Dir) Close() error { return nil }

// folders lists the archive folder's folders.
func (d *Dir) folders(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, migrateError(Snapshot{}, "list the archive folder: "+err.Error(), err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, ctx.Err()
}

func (d *Dir) legacyDays(ctx context.Context, folder string) ([]fleetscore.Day, error) {
	entries, err := os.ReadDir(filepath.Join(d.dir, folder))
	if err != nil {
		return nil, migrateError(Snapshot{}, "list "+folder+": "+err.Error(), err)
	}
	var out []fleetscore.Day
	for _, e := range entries {
		if day, ok := parseDayFile(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, day)
		}
	}
	return out, ctx.Err()
}

// moveDay links the old file at its new name, which fails rather than
// replace a file there, and then removes the old name: a crash in between
// leaves one file under both names, which the next run sees as the same
// bytes and finishes.
func (d *Dir) moveDay(ctx context.Context, folder string, t TenantRef, day fleetscore.Day) (bool, error) {
	s := Snapshot{TenantID: t.ID, TenantName: t.Name, Day: day}
	if err := ctx.Err(); err != nil {
		return false, migrateError(s, err.Error(), err)
	}
	from := filepath.Join(d.dir, folder, day.String()+".json")
	to := d.Path(t.ID, day)
	if err := os.MkdirAll(filepath.Dir(to), dirMode); err != nil {
		return false, migrateError(s, err.Error(), err)
	}
	err := os.Link(from, to)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links here (some network file systems): a rename, which
		// replaces, after a look that the new name is free.
		if _, serr := os.Lstat(to); errors.Is(serr, fs.ErrNotExist) {
			if err := os.Rename(from, to); err != nil {
				return false, migrateError(s, err.Error(), err)
			}
			syncDir(filepath.Dir(to))
			syncDir(filepath.Dir(from))
			return true, nil
		}
		err = fs.ErrExist
	}
	if errors.Is(err, fs.ErrExist) {
		same, err := sameBytes(from, to)
		if err != nil {
			return false, migrateError(s, err.Error(), err)
		}
		if !same {
			return false, nil
		}
	}
	syncDir(filepath.Dir(to))
	if err := os.Remove(from); err != nil {
		return false, migrateError(s, err.Error(), err)
	}
	syncDir(filepath.Dir(from))
	return true, nil
}

func (d *Dir) finish(ctx context.Context, folder string, t TenantRef) error {
	if err := d.recordName(t.ID, t.Name); err != nil {
		return migrateError(Snapshot{TenantID: t.ID, TenantName: t.Name}, "record the tenant's name: "+err.Error(), err)
	}
	// Fails, as it should, while anything is left in it.
	_ = os.Remove(filepath.Join(d.dir, folder))
	return nil
}

func sameBytes(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(x, y), nil
}

// syncDir makes renames and links in dir durable where the file system
// lets a folder be synced.
func syncDir(dir string) {
	if df, err := os.Open(dir); err == nil {
		df.Sync()
		df.Close()
	}
}

func migrateError(s Snapshot, msg string, cause error) *Error {
	return newError("migrate", s, msg, cause)
}
