package sqlite

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetscore/fleetscore"
)

// TestFilesArePrivate: the folder fleetscore creates for the database is
// 0700, and the database, its -wal and its -shm are 0600, whatever the
// umask lets through.
func TestFilesArePrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "fleetscore.db")
	s, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A write, so that the WAL and the shared-memory index exist.
	if err := s.SyncTenants(ctx, []fleetscore.Tenant{{ID: "8a4c2e6f-1b3d-4f5a-8e7c-2d9b6a4f1e83", Name: "Contoso", TargetPercent: 75}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{dir: 0o700 | fs.ModeDir, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", filepath.Base(p), fi.Mode(), mode)
		}
	}
}
