// Package retention deletes what Switchyard stores once it is older than the
// configured number of days (config.Retention): request records and their
// look-up tables, bodies, and rollups, each group with its own period. The
// ingester runs it (Run) in the background.
//
// # ClickHouse 18.16 and current releases
//
// What it does depends on the server, because 18.16 has no TTL:
//
//   - On every server, it drops whole partitions that hold only expired
//     rows: ALTER TABLE ... DROP PARTITION ID, for each partition whose time
//     range ends at or before the cut-off (now minus the period). It reads
//     the partitions from system.parts and their time ranges from the
//     table's partition key: toYYYYMMDD(t) or toDate(t) make a partition a
//     day, toYYYYMM(t) or toStartOfMonth(t) a month, read in UTC as
//     Switchyard's time columns are. A month goes only once all of it is
//     older than the cut-off, and the current day or month never goes. On
//     18.16 this is all there is: data lives up to a partition longer than
//     the period, a day for requests and bodies, a month for the look-up
//     tables.
//   - On servers with TTL (TTLMinVersion and newer), it also sets each
//     table's TTL to "<time> + toIntervalDay(<period>)", so the server
//     deletes expired rows itself as parts merge, and changes it when the
//     period changes (removing it when the period becomes 0). It sets it
//     only when the table's current TTL differs, read from
//     system.tables.engine_full, and with materialize_ttl_after_modify = 0
//     so that setting it never rewrites the whole table: parts written
//     before the TTL existed are left to the partition drops above.
//
// TTL came in 19.6, but Switchyard asks for 20.10: materialize_ttl_after_modify
// (20.5) keeps MODIFY TTL from rewriting every part, and REMOVE TTL (20.10)
// lets a period of 0 (keep forever) take effect after a TTL was set.
//
// A table that does not exist (the rollups appear with a later migration),
// or whose partition key is not a day or a month, is skipped and reported.
// A period of 0 keeps a group forever. This package deletes data only
// through these two mechanisms and only in the tables named in groups.
package retention

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/config"
)

// TTLMinVersion is the oldest ClickHouse release on which Enforce sets
// table TTLs (see the package doc for why not 19.6).
const TTLMinVersion = "20.10"

// group is tables that share one retention period.
type group struct {
	name   string
	days   func(config.Retention) int
	tables []string
}

// groups lists every table retention may delete from. The rollups are
// created by a later migration than the raw tables; until they exist they
// are skipped.
var groups = []group{
	{"requests", func(r config.Retention) int { return r.RequestsDays }, []string{"requests", "trace_index", "session_index"}},
	{"bodies", func(r config.Retention) int { return r.BodiesDays }, []string{"request_bodies"}},
	{"rollups", func(r config.Retention) int { return r.RollupsDays }, []string{"spend_minute", "spend_hour", "spend_day", "spend_user_day", "perf_minute"}},
}

// Report is what one Enforce did.
type Report struct {
	ServerVersion string
	// TTL reports whether the server applies TTLs, so that Enforce managed
	// them as well as dropping partitions.
	TTL        bool
	Dropped    []DroppedPartition
	TTLChanges []TTLChange
	Skipped    []SkippedTable
}

// DroppedPartition is a partition Enforce dropped.
type DroppedPartition struct {
	Table       string
	PartitionID string
	Rows        uint64
	// Start and End bound the partition's time range, [Start, End), UTC.
	Start, End time.Time
}

// TTLChange is a table TTL Enforce set or removed.
type TTLChange struct {
	Table string
	// From and To are the TTL expressions before and after; empty is none.
	From, To string
}

// reasonMissing is SkippedTable.Reason for a table that does not exist.
const reasonMissing = "does not exist"

// SkippedTable is a table Enforce left alone, and why.
type SkippedTable struct {
	Table  string
	Reason string
}

// Changed reports whether Enforce deleted anything or changed a TTL.
func (r Report) Changed() bool { return len(r.Dropped) > 0 || len(r.TTLChanges) > 0 }

// Enforce applies the retention periods r as of now to the tables of the
// connection's database; see the package doc. It goes on past a failing
// table and returns every error joined, with the report of what it did.
func Enforce(ctx context.Context, conn driver.Conn, r config.Retention, now time.Time) (Report, error) {
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return Report{}, fmt.Errorf("retention: read server version: %w", err)
	}
	e := &enforcer{conn: conn, serverVersion: version, exec: conn.Exec}
	return e.enforce(ctx, r, now)
}

// enforcer is Enforce with the server's version and the statement executor
// broken out, so that tests can see what a server with TTL would be sent
// while running against 18.16.
type enforcer struct {
	conn          driver.Conn // reads
	serverVersion string
	exec          func(ctx context.Context, query string, args ...any) error // DDL
}

func (e *enforcer) enforce(ctx context.Context, r config.Retention, now time.Time) (Report, error) {
	report := Report{ServerVersion: e.serverVersion, TTL: versionAtLeast(e.serverVersion, TTLMinVersion)}
	var names []string
	for _, g := range groups {
		names = append(names, g.tables...)
	}
	tables, err := readTables(ctx, e.conn, names)
	if err != nil {
		return report, err
	}
	var errs []error
	for _, g := range groups {
		days := g.days(r)
		if days <= 0 && !report.TTL {
			continue // kept forever, and no TTL to undo
		}
		for _, name := range g.tables {
			t, ok := tables[name]
			if !ok {
				report.Skipped = append(report.Skipped, SkippedTable{name, reasonMissing})
				continue
			}
			if err := e.enforceTable(ctx, t, days, now, &report); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return report, errors.Join(errs...)
}

func (e *enforcer) enforceTable(ctx context.Context, t tableInfo, days int, now time.Time, report *Report) error {
	if !strings.Contains(t.engine, "MergeTree") {
		report.Skipped = append(report.Skipped, SkippedTable{t.name, "engine " + t.engine + " has no partitions or TTL"})
		return nil
	}
	key, ok := parsePartitionKey(t.partitionKey)
	if !ok {
		report.Skipped = append(report.Skipped, SkippedTable{t.name, fmt.Sprintf("partition key %q is not a day or a month", t.partitionKey)})
		return nil
	}
	var errs []error
	if report.TTL {
		if err := e.setTTL(ctx, t, key, days, report); err != nil {
			errs = append(errs, err)
		}
	}
	if days > 0 {
		if err := e.dropExpired(ctx, t, key, now.Add(-time.Duration(days)*24*time.Hour), now, report); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setTTL makes the table's TTL match days, if it does not already.
func (e *enforcer) setTTL(ctx context.Context, t tableInfo, key partitionKey, days int, report *Report) error {
	current := tableTTL(t.engineFull)
	var statement, want string
	switch {
	case days > 0:
		want = key.ttl(days)
		if sameExpression(current, want) {
			return nil
		}
		statement = "ALTER TABLE `" + t.name + "` MODIFY TTL " + want
	case current != "" && key.isOwnTTL(current):
		statement = "ALTER TABLE `" + t.name + "` REMOVE TTL"
	default:
		return nil // no TTL, or one that retention did not set
	}
	// Without this, current releases rewrite every part to apply the new
	// TTL at once; the partition drops deal with the old data instead.
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"materialize_ttl_after_modify": 0}))
	if err := e.exec(ctx, statement); err != nil {
		return fmt.Errorf("retention: %s: %w", statement, err)
	}
	report.TTLChanges = append(report.TTLChanges, TTLChange{Table: t.name, From: current, To: want})
	return nil
}

// dropExpired drops the partitions whose whole time range is before
// cutoff. The current day or month is never dropped, whatever the cut-off.
func (e *enforcer) dropExpired(ctx context.Context, t tableInfo, key partitionKey, cutoff, now time.Time, report *Report) error {
	partitions, err := readPartitions(ctx, e.conn, t.name)
	if err != nil {
		return err
	}
	current := key.unit.start(now.UTC())
	var errs []error
	for _, p := range partitions {
		start, ok := key.unit.parseID(p.id)
		if !ok {
			report.Skipped = append(report.Skipped, SkippedTable{t.name, "partition " + p.id + " does not read as a " + key.unit.String()})
			continue
		}
		end := key.unit.next(start)
		if end.After(cutoff) || !start.Before(current) {
			continue
		}
		statement := "ALTER TABLE `" + t.name + "` DROP PARTITION ID '" + p.id + "'"
		if err := e.exec(ctx, statement); err != nil {
			errs = append(errs, fmt.Errorf("retention: %s: %w", statement, err))
			continue
		}
		report.Dropped = append(report.Dropped, DroppedPartition{Table: t.name, PartitionID: p.id, Rows: p.rows, Start: start, End: end})
	}
	return errors.Join(errs...)
}

type tableInfo struct {
	name, engine, partitionKey, engineFull string
}

func readTables(ctx context.Context, conn driver.Conn, names []string) (map[string]tableInfo, error) {
	rows, err := conn.Query(ctx, `SELECT name, engine, partition_key, engine_full FROM system.tables
WHERE database = currentDatabase() AND has(?, name)`, names)
	if err != nil {
		return nil, fmt.Errorf("retention: read tables: %w", err)
	}
	defer rows.Close()
	tables := map[string]tableInfo{}
	for rows.Next() {
		var t tableInfo
		if err := rows.Scan(&t.name, &t.engine, &t.partitionKey, &t.engineFull); err != nil {
			return nil, fmt.Errorf("retention: read tables: %w", err)
		}
		tables[t.name] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: read tables: %w", err)
	}
	return tables, nil
}

type partition struct {
	id   string
	rows uint64
}

func readPartitions(ctx context.Context, conn driver.Conn, table string) ([]partition, error) {
	rows, err := conn.Query(ctx, `SELECT partition_id, sum(rows) FROM system.parts
WHERE database = currentDatabase() AND table = ? AND active
GROUP BY partition_id ORDER BY partition_id`, table)
	if err != nil {
		return nil, fmt.Errorf("retention: read partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var partitions []partition
	for rows.Next() {
		var p partition
		if err := rows.Scan(&p.id, &p.rows); err != nil {
			return nil, fmt.Errorf("retention: read partitions of %s: %w", table, err)
		}
		partitions = append(partitions, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: read partitions of %s: %w", table, err)
	}
	return partitions, nil
}

// versionAtLeast reports whether server version have ("18.16.1") is at
// least want ("20.10"), part by part; missing parts count as 0 and a
// non-numeric suffix ("-lts") ends the comparison.
func versionAtLeast(have, want string) bool {
	parts := func(v string) []int {
		var out []int
		for _, p := range strings.Split(v, ".") {
			n, err := strconv.Atoi(p)
			if err != nil {
				break
			}
			out = append(out, n)
		}
		return out
	}
	h, w := parts(have), parts(want)
	for i := 0; i < len(h) || i < len(w); i++ {
		var hv, wv int
		if i < len(h) {
			hv = h[i]
		}
		if i < len(w) {
			wv = w[i]
		}
		if hv != wv {
			return hv > wv
		}
	}
	return true
}
