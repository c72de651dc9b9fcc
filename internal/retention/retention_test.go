package retention

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// now is the tests' fixed "now": Enforce takes the time as an argument, so
// the partitions below are old or new whatever the clock says.
var now = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func ms(t time.Time) uint64 { return uint64(t.UnixMilli()) }

// insertRequests stores one request per start time, traced and in a
// session, so that the index views copy it to the month-partitioned
// trace_index and session_index; and its bodies.
func insertRequests(t *testing.T, conn driver.Conn, starts ...time.Time) {
	t.Helper()
	ctx := ctxT(t)
	requests, err := conn.PrepareBatch(ctx, "INSERT INTO requests (request_id, trace_id, session_id, started_at_ms)")
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := conn.PrepareBatch(ctx, "INSERT INTO request_bodies (request_id, started_at_ms, request_body, response_body)")
	if err != nil {
		t.Fatal(err)
	}
	for i, start := range starts {
		id := fmt.Sprintf("req-%d", i)
		if err := requests.Append(id, "trace-"+id, "session-"+id, ms(start)); err != nil {
			t.Fatal(err)
		}
		if err := bodies.Append(id, ms(start), "{}", "{}"); err != nil {
			t.Fatal(err)
		}
	}
	if err := requests.Send(); err != nil {
		t.Fatal(err)
	}
	if err := bodies.Send(); err != nil {
		t.Fatal(err)
	}
}

// partitions lists a table's active partition ids.
func partitions(t *testing.T, conn driver.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(ctxT(t), "SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() AND table = ? AND active ORDER BY partition_id", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func tablePartitionKey(t *testing.T, conn driver.Conn, table string) string {
	t.Helper()
	var key string
	if err := conn.QueryRow(ctxT(t), "SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = ?", table).Scan(&key); err != nil {
		t.Fatal(err)
	}
	return key
}

func dropped(report Report) []string {
	var out []string
	for _, d := range report.Dropped {
		out = append(out, d.Table+":"+d.PartitionID)
	}
	sort.Strings(out)
	return out
}

func TestEnforceDropsExpiredPartitions(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	insertRequests(t, conn,
		now.AddDate(0, 0, -100),                       // 2025-12-05: past the cut-off, day and month
		time.Date(2026, 2, 10, 10, 0, 0, 0, time.UTC), // past it as a day; its month is not all past it
		now.Add(-3*time.Hour),                         // today
	)

	// The rollups that exist (their migration may be newer) hold what the
	// views made of these requests; they must end the same way.
	rollups := map[string][]string{}
	for _, table := range groups[2].tables {
		rollups[table] = partitions(t, conn, table)
	}

	t.Logf("rollup partitions before: %v", rollups)
	retention := config.Retention{RequestsDays: 30, RollupsDays: 30}
	report, err := Enforce(ctxT(t), conn, retention, now)
	if err != nil {
		t.Fatal(err)
	}
	if report.TTL {
		t.Skipf("server %s has TTL; this test is about the servers without it", report.ServerVersion)
	}
	var requestsGroup []string
	for _, d := range dropped(report) {
		if _, rollup := rollups[strings.Split(d, ":")[0]]; !rollup {
			requestsGroup = append(requestsGroup, d)
		}
	}
	want := []string{
		"requests:20251205", "requests:20260210",
		"session_index:202512",
		"trace_index:202512",
	}
	if !reflect.DeepEqual(requestsGroup, want) {
		t.Fatalf("dropped %v, want %v", requestsGroup, want)
	}
	cutoff := now.AddDate(0, 0, -30)
	for table, before := range rollups {
		key, ok := parsePartitionKey(tablePartitionKey(t, conn, table))
		if !ok {
			t.Errorf("%s: partition key not understood", table)
			continue
		}
		var wantLeft []string
		for _, id := range before {
			start, ok := key.unit.parseID(id)
			if !ok {
				t.Fatalf("%s: partition %s", table, id)
			}
			if key.unit.next(start).After(cutoff) {
				wantLeft = append(wantLeft, id)
			}
		}
		if got := partitions(t, conn, table); !reflect.DeepEqual(got, wantLeft) {
			t.Errorf("%s partitions: %v before, %v after; want %v", table, before, got, wantLeft)
		}
	}
	for table, remaining := range map[string][]string{
		"requests":       {"20260315"},
		"trace_index":    {"202602", "202603"},
		"session_index":  {"202602", "202603"},
		"request_bodies": {"20251205", "20260210", "20260315"}, // bodies_days 0: kept forever
	} {
		if got := partitions(t, conn, table); !reflect.DeepEqual(got, remaining) {
			t.Errorf("%s partitions after Enforce: %v, want %v", table, got, remaining)
		}
	}
	for _, d := range report.Dropped {
		if d.Rows == 0 || !d.End.After(d.Start) || d.End.After(cutoff) {
			t.Errorf("dropped %+v: want its rows counted, and a range ending by the cut-off", d)
		}
	}

	// Again: nothing left to drop.
	again, err := Enforce(ctxT(t), conn, retention, now)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() {
		t.Errorf("second Enforce changed something: %+v", again)
	}
}

// TestEnforceCutOffIsExact puts rows on both sides of the cut-off's day
// boundary and the current day right after midnight.
func TestEnforceCutOffIsExact(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	midnight := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	cutoff := midnight.AddDate(0, 0, -30) // 2026-02-13 00:00
	insertRequests(t, conn,
		cutoff.Add(-time.Millisecond), // 2026-02-12 23:59:59.999: its day ends at the cut-off
		cutoff,                        // 2026-02-13: its day is not all before it
		midnight,                      // the current day
	)
	report, err := Enforce(ctxT(t), conn, config.Retention{RequestsDays: 30, BodiesDays: 30}, midnight.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if report.TTL {
		t.Skipf("server %s has TTL", report.ServerVersion)
	}
	for _, table := range []string{"requests", "request_bodies"} {
		if got, want := partitions(t, conn, table), []string{"20260213", "20260315"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s partitions: %v, want %v", table, got, want)
		}
	}

	// However short the period, today stays.
	if _, err := Enforce(ctxT(t), conn, config.Retention{RequestsDays: 1}, midnight.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, want := partitions(t, conn, "requests"), []string{"20260315"}; !reflect.DeepEqual(got, want) {
		t.Errorf("requests partitions with a 1-day period: %v, want %v", got, want)
	}
}

func TestZeroDaysKeepsEverything(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	insertRequests(t, conn, now.AddDate(-3, 0, 0), now.AddDate(0, 0, -100), now)
	before := map[string][]string{}
	for _, table := range []string{"requests", "request_bodies", "trace_index", "session_index"} {
		before[table] = partitions(t, conn, table)
	}
	report, err := Enforce(ctxT(t), conn, config.Retention{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if report.Changed() {
		t.Errorf("Enforce with every period 0 changed something: %+v", report)
	}
	for table, want := range before {
		if got := partitions(t, conn, table); !reflect.DeepEqual(got, want) {
			t.Errorf("%s partitions: %v, want %v", table, got, want)
		}
	}
}

func TestMissingTablesAreSkipped(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.EmptyClickHouse(t))
	ctx := ctxT(t)
	// Only requests exists, as before any migration but the first table.
	if err := conn.Exec(ctx, `CREATE TABLE requests (request_id String, started_at_ms UInt64,
ts DateTime('UTC') DEFAULT toDateTime(intDiv(started_at_ms, 1000), 'UTC'))
ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY ts`); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO requests (request_id, started_at_ms)")
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []time.Time{now.AddDate(0, 0, -100), now} {
		if err := batch.Append("r", ms(start)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	report, err := Enforce(ctx, conn, config.Retention{RequestsDays: 30, BodiesDays: 30, RollupsDays: 30}, now)
	if err != nil {
		t.Fatalf("Enforce with missing tables: %v", err)
	}
	var skipped []string
	for _, s := range report.Skipped {
		if s.Reason != "does not exist" {
			t.Errorf("skipped %+v", s)
		}
		skipped = append(skipped, s.Table)
	}
	sort.Strings(skipped)
	if want := []string{"perf_minute", "request_bodies", "session_index", "spend_day", "spend_hour", "spend_minute", "spend_user_day", "trace_index"}; !reflect.DeepEqual(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if got := dropped(report); !reflect.DeepEqual(got, []string{"requests:20251205"}) {
		t.Errorf("dropped %v", got)
	}
}

func TestUnsupportedPartitionKeysAreSkipped(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.EmptyClickHouse(t))
	ctx := ctxT(t)
	for _, ddl := range []string{
		"CREATE TABLE requests (ts DateTime('UTC'), kind String) ENGINE = MergeTree PARTITION BY (toYYYYMMDD(ts), kind) ORDER BY ts",
		"CREATE TABLE request_bodies (ts DateTime('UTC')) ENGINE = MergeTree ORDER BY ts",
		"CREATE TABLE trace_index (ts DateTime('UTC')) ENGINE = Log",
	} {
		if err := conn.Exec(ctx, ddl); err != nil {
			t.Fatal(err)
		}
	}
	report, err := Enforce(ctx, conn, config.Retention{RequestsDays: 30, BodiesDays: 30}, now)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, s := range report.Skipped {
		reasons[s.Table] = s.Reason
	}
	for table, want := range map[string]string{
		"requests":       "is not a day or a month",
		"request_bodies": "is not a day or a month",
		"trace_index":    "engine Log",
	} {
		if !strings.Contains(reasons[table], want) {
			t.Errorf("%s skipped for %q, want a reason with %q", table, reasons[table], want)
		}
	}
}

// recorder stands for the server's DDL execution, so that the TTL path,
// which needs a newer server, can be seen from 18.16.
type recorder struct {
	mu         sync.Mutex
	statements []string
}

func (r *recorder) exec(_ context.Context, query string, _ ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statements = append(r.statements, query)
	return nil
}

func TestTTLOnNewerServers(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	insertRequests(t, conn, now.AddDate(0, 0, -100), now)

	for _, tc := range []struct {
		version string
		ttl     bool
	}{
		{"18.16.1", false},
		{"20.9.7.11", false}, // TTL, but no REMOVE TTL yet
		{"20.10.3.30", true},
		{"24.8.4.13", true},
	} {
		rec := &recorder{}
		e := &enforcer{conn: conn, serverVersion: tc.version, exec: rec.exec}
		report, err := e.enforce(ctxT(t), config.Retention{RequestsDays: 30, BodiesDays: 7}, now)
		if err != nil {
			t.Fatal(err)
		}
		if report.TTL != tc.ttl {
			t.Errorf("server %s: TTL = %v, want %v", tc.version, report.TTL, tc.ttl)
		}
		var ttl, drops []string
		for _, s := range rec.statements {
			if strings.Contains(s, " TTL") {
				ttl = append(ttl, s)
			} else {
				drops = append(drops, s)
			}
		}
		var wantTTL []string
		if tc.ttl {
			// The time each row's TTL counts from is the partition key's,
			// as this server prints it.
			wantTTL = []string{
				"ALTER TABLE `requests` MODIFY TTL ts + toIntervalDay(30)",
				"ALTER TABLE `trace_index` MODIFY TTL toDateTime(intDiv(started_at_ms, 1000), 'UTC') + toIntervalDay(30)",
				"ALTER TABLE `session_index` MODIFY TTL toDateTime(intDiv(started_at_ms, 1000), 'UTC') + toIntervalDay(30)",
				"ALTER TABLE `request_bodies` MODIFY TTL ts + toIntervalDay(7)",
			}
		}
		if !reflect.DeepEqual(ttl, wantTTL) {
			t.Errorf("server %s: TTL statements\n%s\nwant\n%s", tc.version, strings.Join(ttl, "\n"), strings.Join(wantTTL, "\n"))
		}
		if len(report.TTLChanges) != len(wantTTL) {
			t.Errorf("server %s: reported TTL changes %+v", tc.version, report.TTLChanges)
		}
		// Whole expired partitions go on every server.
		wantDrops := []string{
			"ALTER TABLE `requests` DROP PARTITION ID '20251205'",
			"ALTER TABLE `trace_index` DROP PARTITION ID '202512'",
			"ALTER TABLE `session_index` DROP PARTITION ID '202512'",
			"ALTER TABLE `request_bodies` DROP PARTITION ID '20251205'",
		}
		if !reflect.DeepEqual(drops, wantDrops) {
			t.Errorf("server %s: drops\n%s\nwant\n%s", tc.version, strings.Join(drops, "\n"), strings.Join(wantDrops, "\n"))
		}
	}
	// The recorder ran nothing: the data is all there.
	if got := partitions(t, conn, "requests"); len(got) != 2 {
		t.Errorf("requests partitions %v", got)
	}
}

// TestSetTTLOnlyWhenItDiffers feeds setTTL the engine_full of tables as a
// current release prints them.
func TestSetTTLOnlyWhenItDiffers(t *testing.T) {
	key, ok := parsePartitionKey("toYYYYMMDD(ts)")
	if !ok {
		t.Fatal("toYYYYMMDD(ts) not understood")
	}
	const engine = "ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (ts, request_id)"
	const settings = " SETTINGS index_granularity = 8192"
	for _, tc := range []struct {
		name       string
		engineFull string
		days       int
		want       string // the statement sent, if any
	}{
		{"no TTL yet", engine + settings, 30, "ALTER TABLE `requests` MODIFY TTL ts + toIntervalDay(30)"},
		{"same TTL", engine + " TTL ts + toIntervalDay(30)" + settings, 30, ""},
		{"same TTL, other spacing", engine + " TTL ts  +  toIntervalDay(30)" + settings, 30, ""},
		{"same TTL, no settings", engine + " TTL ts + toIntervalDay(30)", 30, ""},
		{"period changed", engine + " TTL ts + toIntervalDay(30)" + settings, 14, "ALTER TABLE `requests` MODIFY TTL ts + toIntervalDay(14)"},
		{"someone else's TTL, period set", engine + " TTL ts + toIntervalMonth(1)" + settings, 30, "ALTER TABLE `requests` MODIFY TTL ts + toIntervalDay(30)"},
		{"period now 0: our TTL goes", engine + " TTL ts + toIntervalDay(30)" + settings, 0, "ALTER TABLE `requests` REMOVE TTL"},
		{"period 0, someone else's TTL stays", engine + " TTL ts + toIntervalDay(30) TO VOLUME 'cold'" + settings, 0, ""},
		{"period 0, no TTL", engine + settings, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			e := &enforcer{serverVersion: "24.8.4.13", exec: rec.exec}
			var report Report
			table := tableInfo{name: "requests", engine: "ReplacingMergeTree", partitionKey: "toYYYYMMDD(ts)", engineFull: tc.engineFull}
			if err := e.setTTL(context.Background(), table, key, tc.days, &report); err != nil {
				t.Fatal(err)
			}
			var got string
			if len(rec.statements) > 0 {
				got = strings.Join(rec.statements, "; ")
			}
			if got != tc.want {
				t.Errorf("sent %q, want %q", got, tc.want)
			}
			if (len(report.TTLChanges) == 1) != (tc.want != "") {
				t.Errorf("reported %+v", report.TTLChanges)
			}
		})
	}
}

func TestParsePartitionKey(t *testing.T) {
	for _, tc := range []struct {
		key      string
		ok       bool
		unit     unit
		timeExpr string
	}{
		{"toYYYYMMDD(ts)", true, day, "ts"},
		{"toDate(ts)", true, day, "ts"},
		{"toYYYYMM(toDateTime(intDiv(started_at_ms, 1000), 'UTC'))", true, month, "toDateTime(intDiv(started_at_ms, 1000), 'UTC')"},
		{"toYYYYMMDD(ts, 'UTC')", true, day, "ts"},
		{"toStartOfMonth(day)", true, month, "day"},
		{"toYYYYMM(minute)", true, month, "minute"},
		{"", false, 0, ""},
		{"tuple()", false, 0, ""},
		{"(toYYYYMMDD(ts), kind)", false, 0, ""},
		{"toMonday(ts)", false, 0, ""},
		{"toYYYYMM(a), toYYYYMM(b)", false, 0, ""},
		{"toYYYYMM(f(a, ')'), b, c)", false, 0, ""},
	} {
		key, ok := parsePartitionKey(tc.key)
		if ok != tc.ok || (ok && (key.unit != tc.unit || key.timeExpr != tc.timeExpr)) {
			t.Errorf("parsePartitionKey(%q) = %+v, %v; want %v %q, %v", tc.key, key, ok, tc.unit, tc.timeExpr, tc.ok)
		}
	}
}

func TestParsePartitionID(t *testing.T) {
	for _, tc := range []struct {
		unit unit
		id   string
		want time.Time
		ok   bool
	}{
		{day, "20260315", time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), true},
		{month, "202603", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{month, "20260301", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), true}, // toStartOfMonth
		{month, "20260315", time.Time{}, false},                                // not a month's first day
		{day, "202603", time.Time{}, false},
		{day, "20261340", time.Time{}, false},
		{day, "all", time.Time{}, false},
		{day, "2026031a", time.Time{}, false},
	} {
		got, ok := tc.unit.parseID(tc.id)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s parseID(%q) = %v, %v; want %v, %v", tc.unit, tc.id, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRunEnforcesUntilCancelled(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	// Run uses the clock.
	wall := time.Now().UTC()
	insertRequests(t, conn, wall.AddDate(0, 0, -100), wall)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, conn, config.Retention{RequestsDays: 30, CheckInterval: 50 * time.Millisecond}, nil)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(partitions(t, conn, "requests")) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not drop the old partition: %v", partitions(t, conn, "requests"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Run goes on enforcing: a newly arrived old row goes at the next round.
	insertRequests(t, conn, wall.AddDate(0, 0, -200))
	for len(partitions(t, conn, "requests")) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not drop the second old partition: %v", partitions(t, conn, "requests"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunWithEveryPeriodZeroReturns(t *testing.T) {
	t.Parallel()
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(context.Background(), conn, config.Retention{CheckInterval: time.Hour}, nil)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run with nothing to enforce did not return")
	}
}
