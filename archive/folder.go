package archive

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fleetscore/fleetscore"
)

// File modes of the archive: the JSON is the client's security posture, so
// it is readable by the service's group at most.
const (
	fileMode = 0o640
	dirMode  = 0o750
)

// Dir is an archive in a local folder: {dir}/{tenant name}/{YYYY-MM-DD}.json.
type Dir struct {
	dir string
}

// Folder opens (and creates when missing) an archive folder.
func Folder(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, openError("create the archive folder: " + err.Error())
	}
	return &Dir{dir: dir}, nil
}

// Path is the file a tenant's day is kept in.
func (d *Dir) Path(tenantName string, day fleetscore.Day) string {
	return filepath.Join(d.dir, filepath.FromSlash(BlobName(tenantName, day)))
}

// Put writes the snapshot atomically: to a temporary file in the same folder,
// synced, then renamed over the day's file, so a reader or a crash never sees
// half a file.
func (d *Dir) Put(ctx context.Context, s Snapshot) error {
	if err := ctx.Err(); err != nil {
		return newError("put", s, err.Error(), err)
	}
	path := d.Path(s.TenantName, s.Day)
	if err := writeFileAtomic(path, s.JSON); err != nil {
		return newError("put", s, err.Error(), err)
	}
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
	if df, err := os.Open(dir); err == nil {
		df.Sync()
		df.Close()
	}
	return nil
}

// Has reports whether the tenant's day has a file.
func (d *Dir) Has(ctx context.Context, tenantName string, day fleetscore.Day) (bool, error) {
	s := Snapshot{TenantName: tenantName, Day: day}
	if err := ctx.Err(); err != nil {
		return false, newError("has", s, err.Error(), err)
	}
	fi, err := os.Stat(d.Path(tenantName, day))
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
