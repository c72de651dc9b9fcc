package migrations_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func emptyDB(t *testing.T) driver.Conn {
	t.Helper()
	return testenv.Conn(t, testenv.EmptyClickHouse(t))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func ids(results []migrations.Result) []string {
	var out []string
	for _, r := range results {
		out = append(out, r.ID()+":"+string(r.State))
	}
	return out
}

func TestEmbeddedFilesParse(t *testing.T) {
	ms, err := migrations.New().Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].ID() != "0001_base" {
		t.Fatalf("migrations = %v", ms)
	}
	// A half-applied migration is re-run from its first statement, so
	// every CREATE must tolerate existing objects.
	create := regexp.MustCompile(`(?is)^CREATE\s`)
	ifNotExists := regexp.MustCompile(`(?is)^CREATE\s+(TABLE|MATERIALIZED\s+VIEW|VIEW|DATABASE)\s+IF\s+NOT\s+EXISTS\s`)
	for _, m := range ms {
		for i, stmt := range m.Statements {
			if create.MatchString(stmt) && !ifNotExists.MatchString(stmt) {
				t.Errorf("%s statement %d: CREATE without IF NOT EXISTS", m.ID(), i+1)
			}
		}
	}
}

// serverVersion is the test server's version().
func serverVersion(t *testing.T, conn driver.Conn) string {
	t.Helper()
	var version string
	if err := conn.QueryRow(ctxT(t), "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	return version
}

// gatedOut reports whether the server is too old for m.
func gatedOut(m migrations.Migration, version string) bool {
	return m.RequiresServer != "" && !migrations.VersionAtLeast(version, m.RequiresServer)
}

func TestUpFromEmptyAndIdempotent(t *testing.T) {
	conn := emptyDB(t)
	ctx := ctxT(t)
	all, err := migrations.New().Migrations()
	if err != nil {
		t.Fatal(err)
	}
	version := serverVersion(t, conn)

	results, err := migrations.Up(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(all) {
		t.Fatalf("first Up: %v, want a result for all %d migrations", ids(results), len(all))
	}
	var applied, skipped []string
	for i, r := range results {
		if gatedOut(all[i], version) {
			skipped = append(skipped, r.ID()+":skipped")
			if r.State != migrations.StateSkipped || !strings.Contains(r.Reason, version) {
				t.Errorf("first Up: %v, want skipped on %s", r, version)
			}
			continue
		}
		applied = append(applied, r.ID())
		if r.State != migrations.StateApplied || r.AppliedAt.IsZero() {
			t.Errorf("first Up: %v", r)
		}
	}

	// Run again, Up applies nothing and says again what it skips.
	again, err := migrations.Up(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ids(again), " "), strings.Join(skipped, " "); got != want {
		t.Fatalf("second Up: %q, want only the skipped migrations %q", got, want)
	}
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(len(applied)) {
		t.Fatalf("schema_migrations has %d rows, want %d (%v)", rows, len(applied), applied)
	}

	status, err := migrations.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range status {
		want := migrations.StateApplied
		if gatedOut(all[i], version) {
			want = migrations.StateSkipped
		}
		if r.State != want {
			t.Errorf("status: %v, want %s", r, want)
		}
	}

	for _, table := range []string{"requests", "request_bodies", "trace_index", "trace_index_mv", "session_index", "session_index_mv", "schema_migrations"} {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing", table)
		}
	}
	// The lock is gone with the Up that took it.
	var locks uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'schema_migrations_lock%'").Scan(&locks); err != nil {
		t.Fatal(err)
	}
	if locks != 0 {
		t.Errorf("%d lock tables left after Up", locks)
	}
}

func TestChecksumMismatch(t *testing.T) {
	conn := emptyDB(t)
	ctx := ctxT(t)
	files := fstest.MapFS{
		"0001_first.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS first (a UInt8) ENGINE = MergeTree ORDER BY a;\n")},
	}
	runner := &migrations.Runner{FS: files}
	if _, err := runner.Up(ctx, conn); err != nil {
		t.Fatal(err)
	}

	files["0001_first.sql"] = &fstest.MapFile{Data: []byte("-- edited after release\nCREATE TABLE IF NOT EXISTS first (a UInt8) ENGINE = MergeTree ORDER BY a;\n")}
	files["0002_second.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS second (a UInt8) ENGINE = MergeTree ORDER BY a;\n")}
	results, err := runner.Up(ctx, conn)
	if !errors.Is(err, migrations.ErrChecksumMismatch) {
		t.Fatalf("Up after an edit: err = %v, want ErrChecksumMismatch", err)
	}
	if !strings.Contains(err.Error(), "0001_first") {
		t.Errorf("error does not name the migration: %v", err)
	}
	if len(results) != 0 {
		t.Errorf("Up applied %v despite the mismatch", ids(results))
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'second'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("Up created the next migration's table despite the mismatch")
	}

	status, err := runner.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(status), " "); got != "0001_first:modified 0002_second:pending" {
		t.Errorf("status = %s", got)
	}
}

func TestRerunAfterFailureHalfWay(t *testing.T) {
	conn := emptyDB(t)
	ctx := ctxT(t)
	files := fstest.MapFS{
		"0001_half.sql": {Data: []byte(`CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x;
CREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = NoSuchEngine;
`)},
	}
	runner := &migrations.Runner{FS: files}
	_, err := runner.Up(ctx, conn)
	if err == nil || !strings.Contains(err.Error(), "0001_half statement 2") {
		t.Fatalf("err = %v, want a failure naming 0001_half statement 2", err)
	}
	status, err := runner.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if status[0].State != migrations.StatePending {
		t.Fatalf("failed migration recorded as %v", status[0])
	}

	// Table a exists now; fixing b and re-running must succeed.
	files["0001_half.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x;
CREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = MergeTree ORDER BY x;
`)}
	results, err := runner.Up(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(results), " "); got != "0001_half:applied" {
		t.Fatalf("results = %s", got)
	}
}

func TestVersionGatedMigrations(t *testing.T) {
	conn := emptyDB(t)
	ctx := ctxT(t)
	runner := &migrations.Runner{FS: fstest.MapFS{
		"0001_base.sql":   {Data: []byte("CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY a;")},
		"0002_future.sql": {Data: []byte("-- requires-clickhouse: 999.1\nALTER TABLE t MODIFY TTL something_only_the_future_parses;")},
		"0003_old.sql":    {Data: []byte("-- requires-clickhouse: 1.1\nCREATE TABLE IF NOT EXISTS u (a UInt8) ENGINE = MergeTree ORDER BY a;")},
	}}
	results, err := runner.Up(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(results), " "); got != "0001_base:applied 0002_future:skipped 0003_old:applied" {
		t.Fatalf("first Up: %s", got)
	}
	if !strings.Contains(results[1].Reason, "999.1") {
		t.Errorf("skip reason %q does not say which version is needed", results[1].Reason)
	}
	// The skipped migration stays pending, so each Up says so again and an
	// upgraded server gets it.
	results, err = runner.Up(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(results), " "); got != "0002_future:skipped" {
		t.Fatalf("second Up: %s", got)
	}
	status, err := runner.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(status), " "); got != "0001_base:applied 0002_future:skipped 0003_old:applied" {
		t.Fatalf("status: %s", got)
	}
}

// TestColumnChangesAreIdempotent runs ADD COLUMN IF NOT EXISTS and DROP
// COLUMN IF EXISTS twice; 18.16 rejects both forms, so this checks the
// runner's emulation as well as newer servers' own support.
func TestColumnChangesAreIdempotent(t *testing.T) {
	conn := emptyDB(t)
	ctx := ctxT(t)
	alter := []byte(`ALTER TABLE t ADD COLUMN IF NOT EXISTS b String DEFAULT 'x' AFTER a;
ALTER TABLE t ADD COLUMN IF NOT EXISTS c UInt8;
ALTER TABLE t DROP COLUMN IF EXISTS c;
ALTER TABLE t DROP COLUMN IF EXISTS never_existed;
`)
	files := fstest.MapFS{
		"0001_t.sql":     {Data: []byte("CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY a;")},
		"0002_alter.sql": {Data: alter},
		"0003_again.sql": {Data: alter},
	}
	if _, err := (&migrations.Runner{FS: files}).Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var columns []string
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 't' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		columns = append(columns, name)
	}
	if got := strings.Join(columns, ","); got != "a,b" {
		t.Fatalf("columns = %s, want a,b", got)
	}
}

func TestRecordedMigrationUnknownToThisBinary(t *testing.T) {
	conn := emptyDB(t)
	ctx := ctxT(t)
	newer := fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x;")},
		"0002_b.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = MergeTree ORDER BY x;")},
	}
	if _, err := (&migrations.Runner{FS: newer}).Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	older := &migrations.Runner{FS: fstest.MapFS{"0001_a.sql": newer["0001_a.sql"]}}
	if results, err := older.Up(ctx, conn); err != nil || len(results) != 0 {
		t.Fatalf("older binary's Up: %v, %v", ids(results), err)
	}
	status, err := older.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(status), " "); got != "0001_a:applied 0002_b:unknown" {
		t.Fatalf("status = %s", got)
	}
}

func TestStatusOnEmptyDatabaseChangesNothing(t *testing.T) {
	conn := emptyDB(t)
	ctx := ctxT(t)
	status, err := migrations.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	all, err := migrations.New().Migrations()
	if err != nil {
		t.Fatal(err)
	}
	version := serverVersion(t, conn)
	for i, r := range status {
		want := migrations.StatePending
		if gatedOut(all[i], version) {
			want = migrations.StateSkipped
		}
		if r.State != want {
			t.Errorf("status on an empty database: %v, want %s", r, want)
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("Status created %d tables", n)
	}
}

func TestBadFiles(t *testing.T) {
	for name, files := range map[string]fstest.MapFS{
		"bad name":          {"1_x.sql": {Data: []byte("SELECT 1")}},
		"upper-case name":   {"0001_Base.sql": {Data: []byte("SELECT 1")}},
		"version zero":      {"0000_x.sql": {Data: []byte("SELECT 1")}},
		"duplicate version": {"0001_x.sql": {Data: []byte("SELECT 1")}, "0001_y.sql": {Data: []byte("SELECT 1")}},
		"no statements":     {"0001_x.sql": {Data: []byte("-- nothing yet\n")}},
	} {
		if _, err := (&migrations.Runner{FS: files}).Migrations(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Other files, such as a README, are not migrations.
	ms, err := (&migrations.Runner{FS: fstest.MapFS{"README.md": {Data: []byte("#")}, "0001_x.sql": {Data: []byte("SELECT 1")}}}).Migrations()
	if err != nil || len(ms) != 1 {
		t.Fatalf("Migrations = %v, %v", ms, err)
	}
}
