package migrations_test

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/migrations"
)

// TestUpgradeFromEachPreviousVersion stands for every database in the field:
// for each prefix of the embedded migrations (0001 alone, 0001-0002, ...,
// all of them) it applies the prefix as an older Switchyard would, stores
// data in every table that exists then, and runs this version's Up. The
// database must end with the same schema as one migrated from empty, and
// keep its data. The prefixes come from the embedded files, so a new
// migration is covered without touching this test.
func TestUpgradeFromEachPreviousVersion(t *testing.T) {
	all, err := migrations.New().Migrations()
	if err != nil {
		t.Fatal(err)
	}
	embedded := migrations.New().FS

	freshConfig := testenv.ClickHouse(t) // migrated from empty by this version
	fresh := testenv.Conn(t, freshConfig)
	want := schemaOf(t, fresh, freshConfig.Database)
	version := serverVersion(t, fresh)

	for k := 1; k <= len(all); k++ {
		t.Run("from_"+all[k-1].ID(), func(t *testing.T) {
			t.Parallel()
			config := testenv.EmptyClickHouse(t)
			conn := testenv.Conn(t, config)
			ctx := ctxT(t)

			older := &migrations.Runner{FS: fstest.MapFS{}}
			for _, m := range all[:k] {
				text, err := fs.ReadFile(embedded, m.ID()+".sql")
				if err != nil {
					t.Fatal(err)
				}
				older.FS.(fstest.MapFS)[m.ID()+".sql"] = &fstest.MapFile{Data: text}
			}
			if _, err := older.Up(ctx, conn); err != nil {
				t.Fatalf("older version's Up: %v", err)
			}

			// Before: the prefix applied (or skipped for this server), the
			// rest pending.
			before, err := migrations.Status(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range before {
				want := migrations.StatePending
				switch {
				case gatedOut(all[i], version):
					want = migrations.StateSkipped
				case i < k:
					want = migrations.StateApplied
				}
				if r.State != want {
					t.Errorf("status before: %v, want %s", r, want)
				}
			}

			marked := insertMarkerRows(t, conn, "upgrade-"+all[k-1].ID())
			if len(marked) == 0 {
				t.Fatal("no table took a marker row")
			}

			results, err := migrations.Up(ctx, conn)
			if err != nil {
				t.Fatalf("Up from %s: %v", all[k-1].ID(), err)
			}
			var got, wantIDs []string
			for _, r := range results {
				got = append(got, r.ID()+":"+string(r.State))
			}
			for i, m := range all {
				switch {
				case gatedOut(m, version):
					wantIDs = append(wantIDs, m.ID()+":skipped")
				case i >= k:
					wantIDs = append(wantIDs, m.ID()+":applied")
				}
			}
			if strings.Join(got, " ") != strings.Join(wantIDs, " ") {
				t.Errorf("Up from %s:\n got %v\nwant %v", all[k-1].ID(), got, wantIDs)
			}

			after, err := migrations.Status(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range after {
				want := migrations.StateApplied
				if gatedOut(all[i], version) {
					want = migrations.StateSkipped
				}
				if r.State != want {
					t.Errorf("status after: %v, want %s", r, want)
				}
			}

			compareSchemas(t, schemaOf(t, conn, config.Database), want)
			for _, m := range marked {
				if _, kept := want[m.table]; !kept {
					continue // a later migration drops the table, as it does from empty
				}
				var n uint64
				query := fmt.Sprintf("SELECT count() FROM `%s` WHERE `%s` = ?", m.table, m.column)
				if err := conn.QueryRow(ctx, query, m.value).Scan(&n); err != nil {
					t.Errorf("%s after the upgrade: %v", m.table, err)
					continue
				}
				if n == 0 {
					t.Errorf("%s lost the row stored before the upgrade (%s = %q)", m.table, m.column, m.value)
				}
			}
		})
	}
}

// schemaOf maps each table and view of the database to its definition as
// the server prints it, with the database's own name taken out, so that two
// databases can be compared.
func schemaOf(t *testing.T, conn driver.Conn, database string) map[string]string {
	t.Helper()
	rows, err := conn.Query(ctxT(t), `SELECT name, create_table_query FROM system.tables
WHERE database = currentDatabase() AND name NOT LIKE '.inner%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	schema := map[string]string{}
	for rows.Next() {
		var name, query string
		if err := rows.Scan(&name, &query); err != nil {
			t.Fatal(err)
		}
		schema[name] = strings.ReplaceAll(query, database, "<database>")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return schema
}

func compareSchemas(t *testing.T, got, want map[string]string) {
	t.Helper()
	var names []string
	for name := range want {
		names = append(names, name)
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		g, inGot := got[name]
		w, inWant := want[name]
		switch {
		case !inGot:
			t.Errorf("%s: missing after the upgrade", name)
		case !inWant:
			t.Errorf("%s: exists after the upgrade but not in a database migrated from empty", name)
		case g != w:
			t.Errorf("%s differs from a database migrated from empty:\n upgraded: %s\n    fresh: %s", name, g, w)
		}
	}
}

type markerRow struct{ table, column, value string }

// insertMarkerRows stores one row in every MergeTree-family table: marker in
// its String columns, the current time in its time columns, and the
// defaults elsewhere (the insert names only the columns it sets, so any
// schema takes it). Materialized views copy the rows on as they would a
// request's. It returns where to look for each row.
func insertMarkerRows(t *testing.T, conn driver.Conn, marker string) []markerRow {
	t.Helper()
	ctx := ctxT(t)
	tables := queryStrings(t, conn, `SELECT name FROM system.tables
WHERE database = currentDatabase() AND engine LIKE '%MergeTree' AND name NOT LIKE '.inner%' AND name != 'schema_migrations'
ORDER BY name`)
	nowMs := time.Now().UnixMilli()
	var marked []markerRow
	for _, table := range tables {
		rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ? AND default_kind = ''", table)
		if err != nil {
			t.Fatal(err)
		}
		var (
			columns, values []string
			stringColumn    string
		)
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			var value string
			switch {
			case typ == "String" || typ == "LowCardinality(String)":
				value = "'" + marker + "'"
				if stringColumn == "" {
					stringColumn = name
				}
			case typ == "UInt64" && strings.HasSuffix(name, "_ms"):
				value = fmt.Sprint(nowMs)
			case strings.HasPrefix(typ, "DateTime"):
				value = "now()"
			case typ == "Date":
				value = "today()"
			default:
				continue
			}
			columns = append(columns, "`"+name+"`")
			values = append(values, value)
		}
		rows.Close()
		if stringColumn == "" {
			continue
		}
		insert := fmt.Sprintf("INSERT INTO `%s` (%s) SELECT %s", table, strings.Join(columns, ", "), strings.Join(values, ", "))
		if err := conn.Exec(ctx, insert); err != nil {
			t.Fatalf("%s: %v", insert, err)
		}
		marked = append(marked, markerRow{table: table, column: stringColumn, value: marker})
	}
	return marked
}

func queryStrings(t *testing.T, conn driver.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
