package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/internal/testenv"
)

// requestColumns is every column of requests the ingester writes: ts and
// ingested_at are left to their DEFAULTs. The list must be named because
// clickhouse-go's PrepareBatch cannot insert without one on 18.16.
const requestColumns = `schema_version, request_id, trace_id, span_id, parent_span_id, session_id, started_at_ms,
latency_ms, ttft_ms, overhead_us, endpoint, stream, model_requested, model, provider, key_id, user, team, tags,
metadata.key, metadata.value, status_code, outcome, error_type, error_message, finish_reason,
prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, usage_estimated,
cost_nusd, cache_hit, attempts.provider, attempts.model, attempts.status_code, attempts.latency_ms, attempts.error_type,
routing_strategy, routing_reason, body_truncated, bodies_omitted`

type testRequest struct {
	id, trace, session string
	startedAtMs        uint64
}

func insertRequests(t *testing.T, conn driver.Conn, table string, reqs ...testRequest) {
	t.Helper()
	ctx := ctxT(t)
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+requestColumns+")")
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	for _, r := range reqs {
		err := batch.Append(
			uint16(1), r.id, r.trace, "span-1", "", r.session, r.startedAtMs,
			uint32(1234), uint32(210), uint32(85), "/v1/chat/completions", uint8(1), "gpt-4o", "gpt-4o-2024-08-06", "openai", "key-1", "alice", "team-a", []string{"prod", "batch"},
			[]string{"feature", "env"}, []string{"summarise", "staging"}, uint16(200), "ok", "", "", "stop",
			uint32(1000), uint32(200), uint32(400), uint32(0), uint32(50), uint8(0),
			int64(3_250_000), uint8(0),
			[]string{"azure", "openai"}, []string{"gpt-4o", "gpt-4o-2024-08-06"}, []uint16{429, 200}, []uint32{40, 1190}, []string{"rate_limited", ""},
			"price", "cheapest healthy", uint8(0), uint8(0),
		)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaRoundTrip(t *testing.T) {
	cfg := testenv.ClickHouse(t)
	conn := testenv.Conn(t, cfg)
	ctx := ctxT(t)

	const startedAtMs = 1_767_225_599_999 // 2025-12-31 23:59:59.999 UTC: the ms must not round into the next day
	first := testRequest{id: "0193a6f2-0000-7000-8000-000000000001", trace: "trace-1", session: "session-1", startedAtMs: startedAtMs}
	untraced := testRequest{id: "0193a6f2-0000-7000-8000-000000000002", startedAtMs: startedAtMs + 1}
	// Merges would fold the replay below before the test looks; readers
	// cannot count on that, so neither does the test.
	for _, table := range []string{"requests", "trace_index", "session_index"} {
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+table); err != nil {
			t.Fatal(err)
		}
	}
	insertRequests(t, conn, "requests", first, untraced)
	// A replay of the same record, as after an ingester crash.
	insertRequests(t, conn, "requests", first)

	var (
		ts         time.Time
		partition  string
		metaValues []string
		attempts   []uint16
		cost       int64
		ingestedAt time.Time
	)
	err := conn.QueryRow(ctx, `SELECT ts, _partition_id, metadata.value, attempts.status_code, cost_nusd, ingested_at
FROM requests WHERE request_id = ? LIMIT 1 BY request_id`, first.id).Scan(&ts, &partition, &metaValues, &attempts, &cost, &ingestedAt)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC); !ts.Equal(want) {
		t.Errorf("ts = %v, want %v (from started_at_ms)", ts, want)
	}
	if partition != "20251231" {
		t.Errorf("partition = %s, want 20251231", partition)
	}
	if len(metaValues) != 2 || metaValues[0] != "summarise" || len(attempts) != 2 || attempts[0] != 429 || cost != 3_250_000 {
		t.Errorf("metadata %v attempts %v cost %d", metaValues, attempts, cost)
	}
	if time.Since(ingestedAt) > time.Hour {
		t.Errorf("ingested_at = %v, want about now", ingestedAt)
	}

	var raw, deduped, final uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM requests WHERE request_id = ?", first.id).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM (SELECT request_id FROM requests LIMIT 1 BY request_id)").Scan(&deduped); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM requests FINAL").Scan(&final); err != nil {
		t.Fatal(err)
	}
	if raw != 2 || deduped != 2 || final != 2 {
		t.Errorf("replayed request: %d raw rows (want 2 before merge), %d with LIMIT 1 BY, %d with FINAL (want 2 requests)", raw, deduped, final)
	}

	// The index views copy traced and sessioned requests only.
	for _, q := range []struct {
		query string
		want  uint64
	}{
		{"SELECT count() FROM trace_index WHERE trace_id = 'trace-1' AND request_id = '" + first.id + "' AND started_at_ms = " + "1767225599999", 2},
		{"SELECT count() FROM trace_index", 2},
		{"SELECT count() FROM (SELECT request_id FROM trace_index FINAL)", 1},
		{"SELECT count() FROM session_index WHERE session_id = 'session-1'", 2},
		{"SELECT count() FROM session_index", 2},
	} {
		var n uint64
		if err := conn.QueryRow(ctx, q.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
		if n != q.want {
			t.Errorf("%s = %d, want %d", q.query, n, q.want)
		}
	}

	// Bodies: ts from the DEFAULT too.
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO request_bodies (request_id, started_at_ms, request_body, response_body)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(first.id, uint64(startedAtMs), `{"messages":[]}`, `{"choices":[]}`); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var body string
	if err := conn.QueryRow(ctx, "SELECT response_body FROM request_bodies WHERE ts = toDateTime(intDiv(?, 1000), 'UTC') AND request_id = ?", uint64(startedAtMs), first.id).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if body != `{"choices":[]}` {
		t.Errorf("response_body = %q", body)
	}
}

// TestIndexViewsStayInTheirDatabase checks that the views resolved
// `requests` and their target tables in the database they were created
// in: an insert made from a connection to another database (qualified
// name) must fill that database's index tables and no other's.
func TestIndexViewsStayInTheirDatabase(t *testing.T) {
	a := testenv.Conn(t, testenv.ClickHouse(t))
	bConfig := testenv.ClickHouse(t)
	b := testenv.Conn(t, bConfig)
	ctx := context.Background()

	insertRequests(t, a, bConfig.Database+".requests", testRequest{id: "r-1", trace: "trace-b", startedAtMs: 1_767_225_600_000})

	count := func(conn driver.Conn, table string) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(b, "trace_index"); n != 1 {
		t.Errorf("%s.trace_index has %d rows, want 1", bConfig.Database, n)
	}
	if n := count(a, "trace_index") + count(a, "requests"); n != 0 {
		t.Errorf("the connection's own database got %d rows", n)
	}
}
