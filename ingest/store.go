package ingest

import (
	"context"
	"fmt"
	"sort"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/record"
)

// ClickHouseStore writes records into the base schema (migrations 0001):
// bodies into request_bodies, everything else into requests. Column lists
// are always named (ClickHouse 18.16 requires it for batch inserts).
type ClickHouseStore struct {
	conn driver.Conn
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
	routing_strategy, routing_reason, body_truncated, bodies_omitted)`

// Insert writes recs. Bodies go first, so that a request visible in
// `requests` always has its bodies; a failure part-way is repaired by
// retrying the whole call, which the ReplacingMergeTree tables fold.
func (s *ClickHouseStore) Insert(ctx context.Context, recs []*record.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.insertBodies(ctx, recs); err != nil {
		return err
	}
	batch, err := s.conn.PrepareBatch(ctx, insertRequests)
	if err != nil {
		return fmt.Errorf("prepare requests insert: %w", err)
	}
	defer batch.Abort()
	for _, r := range recs {
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
			r.Routing.Strategy, r.Routing.Reason, boolU8(r.BodyTruncated), boolU8(r.BodiesOmitted),
		)
		if err != nil {
			return fmt.Errorf("append request %s: %w", r.RequestID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert requests: %w", err)
	}
	return nil
}

func (s *ClickHouseStore) insertBodies(ctx context.Context, recs []*record.Record) error {
	batch, err := s.conn.PrepareBatch(ctx, insertBodies)
	if err != nil {
		return fmt.Errorf("prepare bodies insert: %w", err)
	}
	defer batch.Abort()
	rows := 0
	for _, r := range recs {
		if r.RequestBody == "" && r.ResponseBody == "" {
			continue
		}
		if err := batch.Append(r.RequestID, uint64(max(r.StartedAtMs, 0)), r.RequestBody, r.ResponseBody); err != nil {
			return fmt.Errorf("append bodies %s: %w", r.RequestID, err)
		}
		rows++
	}
	if rows == 0 {
		return nil
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert bodies: %w", err)
	}
	return nil
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
