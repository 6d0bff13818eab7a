// Command mkfixture writes the databases the upgrade tests open
// (sqlite/testdata, postgres/testdata): the history releasetest.Fill writes,
// by the stores of one release, with the checksums of every table and what
// the store's read methods return. Run it in a checkout of that release, with
// package releasetest copied in:
//
//	git archive 1e8987b | tar -x -C /tmp/release
//	cp -r internal/relational/releasetest internal/relational/testdata/mkfixture /tmp/release/internal/relational/
//	cd /tmp/release && go run ./internal/relational/mkfixture /tmp/fixture/release.db postgres://.../fixture /tmp/fixture
//	pg_dump --inserts --no-owner --no-privileges postgres://.../fixture > /tmp/fixture/release.sql
//
// then copy release.db and sqlite.sums to sqlite/testdata (release.sums),
// release.sql and postgres.sums to postgres/testdata, and sqlite.read.json,
// gzipped, to releasetest/release.read.json.gz.
package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/fleetscore/fleetscore/internal/relational/releasetest"
	"github.com/fleetscore/fleetscore/postgres"
	"github.com/fleetscore/fleetscore/sqlite"
)

func main() {
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, "sqlite:"+os.Args[1])
	check(err)
	pg, err := postgres.Open(ctx, os.Args[2])
	check(err)
	for name, s := range map[string]releasetest.Store{"sqlite": lite, "postgres": pg} {
		releasetest.Fill(ctx, s)
		check(os.WriteFile(filepath.Join(os.Args[3], name+".sums"), []byte(releasetest.Checksums(ctx, s)), 0o644))
		check(os.WriteFile(filepath.Join(os.Args[3], name+".read.json"), releasetest.ReadBack(ctx, s), 0o644))
		check(s.Close())
	}
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
