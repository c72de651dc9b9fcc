package migrations_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/migrations"
)

// The embedded version gates, as the files' comments justify them. A change
// of gate is a change of what a released server gets, so it shows here.
var wantGates = map[string]string{
	"0005_codecs":                "20.3",
	"0006_skipping_indexes":      "20.3",
	"0007_started_at_datetime64": "20.5",
	"0008_insert_dedupe":         "21.5",
}

func TestEmbeddedGates(t *testing.T) {
	all, err := migrations.New().Migrations()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range all {
		if want, ok := wantGates[m.ID()]; ok {
			seen[m.ID()] = true
			if m.RequiresServer != want {
				t.Errorf("%s requires ClickHouse %q, want %q", m.ID(), m.RequiresServer, want)
			}
		}
		// A gate that 18.16 passes gates nothing: such SQL belongs in a
		// migration for every server.
		if m.RequiresServer != "" && migrations.VersionAtLeast("18.16.1", m.RequiresServer) {
			t.Errorf("%s requires %s, which 18.16 already satisfies", m.ID(), m.RequiresServer)
		}
	}
	for id := range wantGates {
		if !seen[id] {
			t.Errorf("%s is not embedded", id)
		}
	}
}

// TestGatesFollowTheServerVersion asks Status what servers of several
// versions would be given, with the version injected: only 18.16 runs
// here.
func TestGatesFollowTheServerVersion(t *testing.T) {
	t.Parallel()
	conn := emptyDB(t)
	ctx := ctxT(t)
	for _, tc := range []struct {
		server  string
		skipped string // the embedded gated migrations the server does not get
	}{
		{"18.16.1", "0005_codecs 0006_skipping_indexes 0007_started_at_datetime64 0008_insert_dedupe"},
		{"19.6.2.11", "0005_codecs 0006_skipping_indexes 0007_started_at_datetime64 0008_insert_dedupe"},
		{"20.3.21.2", "0007_started_at_datetime64 0008_insert_dedupe"},
		{"20.5.2.7", "0008_insert_dedupe"},
		{"21.4.7.3", "0008_insert_dedupe"},
		{"21.5.9.4", ""},
		{"24.8.4.13", ""},
		{"25.3.2.39-lts", ""},
	} {
		runner := migrations.New()
		runner.ServerVersion = tc.server
		status, err := runner.Status(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		var skipped []string
		for _, r := range status {
			switch r.State {
			case migrations.StateSkipped:
				skipped = append(skipped, r.ID())
				if !strings.Contains(r.Reason, tc.server) || !strings.Contains(r.Reason, wantGates[r.ID()]) {
					t.Errorf("server %s: %s: reason %q does not give both versions", tc.server, r.ID(), r.Reason)
				}
			case migrations.StatePending:
			default:
				t.Errorf("server %s: %v on an empty database", tc.server, r)
			}
		}
		if got := strings.Join(skipped, " "); got != tc.skipped {
			t.Errorf("server %s skips %q, want %q", tc.server, got, tc.skipped)
		}
	}
}

// TestSkippedMigrationAppliedAfterUpgrade: a migration skipped on an old
// server is reported, not failed, stays pending, and the first Up after an
// upgrade applies it.
func TestSkippedMigrationAppliedAfterUpgrade(t *testing.T) {
	t.Parallel()
	conn := emptyDB(t)
	ctx := ctxT(t)
	files := fstest.MapFS{
		"0001_base.sql":  {Data: []byte("CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY a;")},
		"0002_newer.sql": {Data: []byte("-- requires-clickhouse: 21.5\nCREATE TABLE IF NOT EXISTS u (a UInt8) ENGINE = MergeTree ORDER BY a;")},
		"0003_plain.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS v (a UInt8) ENGINE = MergeTree ORDER BY a;")},
	}
	old := &migrations.Runner{FS: files, ServerVersion: "18.16.1"}
	results, err := old.Up(ctx, conn)
	if err != nil {
		t.Fatalf("Up on the old server: %v", err)
	}
	if got := strings.Join(ids(results), " "); got != "0001_base:applied 0002_newer:skipped 0003_plain:applied" {
		t.Fatalf("Up on the old server: %s", got)
	}
	tableCount := func(name string) uint64 {
		return countRows(t, conn, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", name)
	}
	if tableCount("u") != 0 {
		t.Fatal("the skipped migration ran")
	}

	upgraded := &migrations.Runner{FS: files, ServerVersion: "24.8.4.13"}
	status, err := upgraded.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(status), " "); got != "0001_base:applied 0002_newer:pending 0003_plain:applied" {
		t.Fatalf("status after the upgrade, before Up: %s", got)
	}
	results, err = upgraded.Up(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(results), " "); got != "0002_newer:applied" {
		t.Fatalf("Up after the upgrade: %s", got)
	}
	if tableCount("u") != 1 {
		t.Fatal("Up after the upgrade did not run the migration")
	}
	status, err = upgraded.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(status), " "); got != "0001_base:applied 0002_newer:applied 0003_plain:applied" {
		t.Fatalf("status after the upgrade: %s", got)
	}
}

// TestGatedStatementsMatchTheSchema checks, on 18.16, what it can of the
// gated SQL that only newer servers run: every table it alters exists; a
// codec change repeats the column's current type, so that it changes the
// codec only; an index covers existing columns; an added column is new.
func TestGatedStatementsMatchTheSchema(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	all, err := migrations.New().Migrations()
	if err != nil {
		t.Fatal(err)
	}
	alterRE := regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+`?(\\w+)`?\\s+(.*)$")
	modifyColumnRE := regexp.MustCompile(`(?is)^MODIFY\s+COLUMN\s+(\w+)\s+(.+?)\s+CODEC\(.*\)$`)
	addIndexRE := regexp.MustCompile(`(?is)^ADD\s+INDEX\s+IF\s+NOT\s+EXISTS\s+(\w+)\s+(.+?)\s+TYPE\s+`)
	addColumnRE := regexp.MustCompile(`(?is)^ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s+(\w+)\s`)
	columnType := func(table, column string) string {
		types := queryStrings(t, conn, "SELECT type FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?", table, column)
		if len(types) == 0 {
			return ""
		}
		return types[0]
	}
	checked := 0
	for _, m := range all {
		if m.RequiresServer == "" {
			continue
		}
		for i, stmt := range m.Statements {
			where := fmt.Sprintf("%s statement %d", m.ID(), i+1)
			alter := alterRE.FindStringSubmatch(stmt)
			if alter == nil {
				continue
			}
			table, action := alter[1], alter[2]
			if countRows(t, conn, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table) == 0 {
				t.Errorf("%s alters %s, which does not exist", where, table)
				continue
			}
			checked++
			if c := modifyColumnRE.FindStringSubmatch(action); c != nil {
				if have := columnType(table, c[1]); have != c[2] {
					t.Errorf("%s gives %s.%s type %q; the column is %q: a codec migration must not change the type", where, table, c[1], c[2], have)
				}
			}
			if c := addIndexRE.FindStringSubmatch(action); c != nil {
				column := strings.Trim(c[2], "`")
				if columnType(table, column) == "" {
					t.Errorf("%s indexes %s.%s, which does not exist", where, table, column)
				}
			}
			if c := addColumnRE.FindStringSubmatch(action); c != nil {
				if have := columnType(table, c[1]); have != "" {
					t.Errorf("%s adds %s.%s, which already exists as %s", where, table, c[1], have)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no gated ALTER checked")
	}
}
