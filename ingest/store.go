package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/record"
)

// ClickHouseStore writes records into the schema of migrations/sql: bodies
// into request_bodies, everything else into requests. Column lists are
// always named (ClickHouse 18.16 requires it for batch inserts).
//
// Inserts are idempotent: records whose request id is already stored are
// left out, so a retried or replayed batch is stored — and counted by the
// rollup views — once.
type ClickHouseStore struct {
	conn driver.Conn
}

// Item is a record and where it came from in Kafka (Offset -1: not from
// Kafka).
type Item struct {
	Record    *record.Record
	Topic     string
	Partition int
	Offset    int64
	// BodiesOnly marks a request already stored (behind the offset fence)
	// whose bodies are written again: the two tables are written at once,
	// so a crash can leave a stored request without its bodies.
	BodiesOnly bool
}

// NewClickHouseStore writes through conn, whose database holds the schema.
func NewClickHouseStore(conn driver.Conn) *ClickHouseStore { return &ClickHouseStore{conn: conn} }

const insertBodies = `INSERT INTO request_bodies (request_id, started_at_ms, request_body, response_body)`

const insertRequests = `INSERT INTO requests (
	schema_version, request_id, trace_id, span_id, parent_span_id, session_id,
	started_at_ms, latency_ms, ttft_ms, overhead_us,
	endpoint, stream, model_requested, model, provider,
	key_id, user, team, tags, metadata.key, metadata.value,
	status_code, outcome, error_type, error_message, finish_reason,
	prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, usage_estimated,
	cost_nusd, cache_hit,
	attempts.provider, attempts.model, attempts.status_code, attempts.latency_ms, attempts.error_type,
	routing_strategy, routing_reason, routing_candidates, body_truncated, bodies_omitted,
	kafka_topic, kafka_partition, kafka_offset)`

// Insert stores records that did not come from Kafka.
func (s *ClickHouseStore) Insert(ctx context.Context, recs []*record.Record) error {
	items := make([]Item, len(recs))
	for i, r := range recs {
		items[i] = Item{Record: r, Partition: -1, Offset: -1}
	}
	_, err := s.InsertItems(ctx, items)
	return err
}

// InsertItems stores items, leaving out requests already stored, repeats
// and BodiesOnly items, and returns once both tables have them, with how
// many requests it stored. The two inserts run at once, on two
// connections, so that the server works on both. Bodies are written for
// every item, stored or not: request_bodies has no views to count twice,
// folds repeats, and this way neither a retry after a failure part-way nor
// a replay after a crash between the two inserts leaves a request without
// its bodies.
func (s *ClickHouseStore) InsertItems(ctx context.Context, items []Item) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	bodies := make(chan error, 1)
	go func() { bodies <- s.insertBodies(ctx, items) }()
	n, err := s.insertRequests(ctx, items)
	return n, errors.Join(err, <-bodies)
}

func (s *ClickHouseStore) insertRequests(ctx context.Context, items []Item) (int, error) {
	requests := make([]Item, 0, len(items))
	for _, it := range items {
		if !it.BodiesOnly {
			requests = append(requests, it)
		}
	}
	items, err := s.unstored(ctx, requests)
	if err != nil {
		return 0, err
	}
	if len(items) == 0 {
		return 0, nil
	}
	batch, err := s.conn.PrepareBatch(ctx, insertRequests)
	if err != nil {
		return 0, fmt.Errorf("prepare requests insert: %w", err)
	}
	defer batch.Abort()
	for _, it := range items {
		r := it.Record
		metaKeys, metaValues := sortedMetadata(r.Metadata)
		n := len(r.Attempts)
		aProvider, aModel := make([]string, n), make([]string, n)
		aStatus, aLatency, aError := make([]uint16, n), make([]uint32, n), make([]string, n)
		for i, a := range r.Attempts {
			aProvider[i], aModel[i], aStatus[i], aLatency[i], aError[i] = a.Provider, a.Model, clampU16(int64(a.StatusCode)), clampU32(a.LatencyMs), a.ErrorType
		}
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		err := batch.Append(
			uint16(r.SchemaVersion), r.RequestID, r.TraceID, r.SpanID, r.ParentSpanID, r.SessionID,
			uint64(max(r.StartedAtMs, 0)), clampU32(r.LatencyMs), clampU32(r.TTFTMs), clampU32(r.OverheadUs),
			r.Endpoint, boolU8(r.Stream), r.ModelRequested, r.Model, r.Provider,
			r.KeyID, r.User, r.Team, tags, metaKeys, metaValues,
			clampU16(int64(r.StatusCode)), r.Outcome, r.ErrorType, r.ErrorMessage, r.FinishReason,
			clampU32(r.Usage.PromptTokens), clampU32(r.Usage.CompletionTokens), clampU32(r.Usage.CachedTokens),
			clampU32(r.Usage.CacheWriteTokens), clampU32(r.Usage.ReasoningTokens), boolU8(r.Usage.Estimated),
			r.CostNUSD, boolU8(r.CacheHit),
			aProvider, aModel, aStatus, aLatency, aError,
			r.Routing.Strategy, r.Routing.Reason, candidatesJSON(r.Routing.Candidates), boolU8(r.BodyTruncated), boolU8(r.BodiesOmitted),
			it.Topic, int32(it.Partition), it.Offset,
		)
		if err != nil {
			return 0, fmt.Errorf("append request %s: %w", r.RequestID, err)
		}
		if err := flushEvery(batch); err != nil {
			return 0, fmt.Errorf("insert requests: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("insert requests: %w", err)
	}
	return len(items), nil
}

// blockRows is how many rows go in one block of an insert. A batch of tens
// of thousands of records is sent as several blocks of one INSERT, which
// the server squashes into one part (up to min_insert_block_size_rows, a
// million, and min_insert_block_size_bytes, 256 MiB), so that the client's
// column buffers are reused from block to block instead of growing to hold
// the whole batch: growing them (copying, zeroing fresh memory) was a sixth
// of the ingester's CPU.
const blockRows = 4096

// flushEvery sends the batch's block once it holds blockRows rows.
func flushEvery(batch driver.Batch) error {
	if batch.Rows() < blockRows {
		return nil
	}
	return batch.Flush()
}

// unstored returns the items whose request id is not in `requests` yet,
// and not repeated earlier in items. The look-up reads only the minutes the
// records started in: the table is ordered by (ts, request_id).
func (s *ClickHouseStore) unstored(ctx context.Context, items []Item) ([]Item, error) {
	if len(items) == 0 {
		return items, nil
	}
	ids := make([]string, 0, len(items))
	minutes := map[int64]bool{}
	for _, it := range items {
		ids = append(ids, it.Record.RequestID)
		minutes[max(it.Record.StartedAtMs, 0)/60_000] = true
	}
	var ranges []string
	var args []any
	sorted := sortedKeys(minutes)
	for i := 0; i < len(sorted); {
		// Consecutive minutes make one range.
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		ranges = append(ranges, "ts BETWEEN toDateTime(?, 'UTC') AND toDateTime(?, 'UTC')")
		args = append(args, uint32(sorted[i]*60), uint32(sorted[j]*60+59))
		i = j + 1
	}
	// The ids go in the query text; chunks keep it under the server's
	// max_query_size (256 KiB by default).
	stored := make(map[string]bool)
	const chunk = 2000
	where := "(" + strings.Join(ranges, " OR ") + ") AND request_id IN (SELECT arrayJoin(?))"
	for start := 0; start < len(ids); start += chunk {
		if err := s.collectStored(ctx, where, append(args, ids[start:min(start+chunk, len(ids))]), stored); err != nil {
			return nil, err
		}
	}
	out := items[:0:0]
	for _, it := range items {
		if !stored[it.Record.RequestID] {
			stored[it.Record.RequestID] = true // a repeat within the batch
			out = append(out, it)
		}
	}
	return out, nil
}

func (s *ClickHouseStore) collectStored(ctx context.Context, where string, args []any, stored map[string]bool) error {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT request_id FROM requests WHERE "+where, args...)
	if err != nil {
		return fmt.Errorf("look up stored ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		stored[id] = true
	}
	return rows.Err()
}

// Fence returns, per partition of topic, the highest Kafka offset stored.
func (s *ClickHouseStore) Fence(ctx context.Context, topic string) (map[int]int64, error) {
	rows, err := s.conn.Query(ctx, "SELECT partition, maxMerge(max_offset) FROM ingest_offsets WHERE topic = ? GROUP BY partition", topic)
	if err != nil {
		return nil, fmt.Errorf("read offset fence: %w", err)
	}
	defer rows.Close()
	fence := map[int]int64{}
	for rows.Next() {
		var p int32
		var off int64
		if err := rows.Scan(&p, &off); err != nil {
			return nil, err
		}
		fence[int(p)] = off
	}
	return fence, rows.Err()
}

func (s *ClickHouseStore) insertBodies(ctx context.Context, items []Item) error {
	batch, err := s.conn.PrepareBatch(ctx, insertBodies)
	if err != nil {
		return fmt.Errorf("prepare bodies insert: %w", err)
	}
	defer batch.Abort()
	rows := 0
	for _, it := range items {
		r := it.Record
		if r.RequestBody == "" && r.ResponseBody == "" {
			continue
		}
		if err := batch.Append(r.RequestID, uint64(max(r.StartedAtMs, 0)), r.RequestBody, r.ResponseBody); err != nil {
			return fmt.Errorf("append bodies %s: %w", r.RequestID, err)
		}
		rows++
		if err := flushEvery(batch); err != nil {
			return fmt.Errorf("insert bodies: %w", err)
		}
	}
	if rows == 0 {
		return nil
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert bodies: %w", err)
	}
	return nil
}

func sortedKeys(m map[int64]bool) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func sortedMetadata(m map[string]string) (keys, values []string) {
	keys = make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values = make([]string, len(keys))
	for i, k := range keys {
		values[i] = m[k]
	}
	return keys, values
}

// candidatesJSON is routing.candidates as stored: its JSON array.
func candidatesJSON(c []record.RoutingCandidate) string {
	if len(c) == 0 {
		return "[]"
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "[]"
	}
	return string(b)
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func clampU32(v int64) uint32 {
	if v < 0 {
		return 0
	}
	if v > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(v)
}

func clampU16(v int64) uint16 {
	if v < 0 {
		return 0
	}
	if v > 1<<16-1 {
		return 1<<16 - 1
	}
	return uint16(v)
}
