package alert_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/sqlite"
)

func TestMemoryStore(t *testing.T) {
	alerttest.StateStoreSuite(t, func(*testing.T) alert.StateStore { return alert.NewMemoryStore() })
}

func TestSQLiteStore(t *testing.T) {
	alerttest.StateStoreSuite(t, func(t *testing.T) alert.StateStore { return openSQLite(t) })
}

func openSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(tb.TempDir(), "fleetscore.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
