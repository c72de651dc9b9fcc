package query

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/record"
)

// recordColumns is the column list every record query selects, in the
// order scanRecord reads them.
const recordColumns = `schema_version, request_id, trace_id, span_id, parent_span_id, session_id,
	started_at_ms, latency_ms, ttft_ms, overhead_us,
	endpoint, stream, model_requested, model, provider,
	key_id, user, team, tags, metadata.key, metadata.value,
	status_code, outcome, error_type, error_message, finish_reason,
	prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, usage_estimated,
	cost_nusd, cache_hit,
	attempts.provider, attempts.model, attempts.status_code, attempts.latency_ms, attempts.error_type,
	routing_strategy, routing_reason, routing_candidates, body_truncated, bodies_omitted`

func scanRecord(rows driver.Rows) (*record.Record, error) {
	var (
		r                                                 record.Record
		schemaVersion, statusCode                         uint16
		startedAt                                         uint64
		latency, ttft, overhead                           uint32
		stream, estimated, cacheHit, truncated, omitted   uint8
		prompt, completion, cached, cacheWrite, reasoning uint32
		metaKeys, metaValues                              []string
		aProvider, aModel, aError                         []string
		aStatus                                           []uint16
		aLatency                                          []uint32
		candidates                                        string
	)
	err := rows.Scan(
		&schemaVersion, &r.RequestID, &r.TraceID, &r.SpanID, &r.ParentSpanID, &r.SessionID,
		&startedAt, &latency, &ttft, &overhead,
		&r.Endpoint, &stream, &r.ModelRequested, &r.Model, &r.Provider,
		&r.KeyID, &r.User, &r.Team, &r.Tags, &metaKeys, &metaValues,
		&statusCode, &r.Outcome, &r.ErrorType, &r.ErrorMessage, &r.FinishReason,
		&prompt, &completion, &cached, &cacheWrite, &reasoning, &estimated,
		&r.CostNUSD, &cacheHit,
		&aProvider, &aModel, &aStatus, &aLatency, &aError,
		&r.Routing.Strategy, &r.Routing.Reason, &candidates, &truncated, &omitted,
	)
	if err != nil {
		return nil, err
	}
	r.SchemaVersion = int(schemaVersion)
	r.StartedAtMs = int64(startedAt)
	r.LatencyMs, r.TTFTMs, r.OverheadUs = int64(latency), int64(ttft), int64(overhead)
	r.Stream, r.CacheHit, r.BodyTruncated, r.BodiesOmitted = stream == 1, cacheHit == 1, truncated == 1, omitted == 1
	r.StatusCode = int(statusCode)
	r.Usage = record.Usage{
		PromptTokens: int64(prompt), CompletionTokens: int64(completion), CachedTokens: int64(cached),
		CacheWriteTokens: int64(cacheWrite), ReasoningTokens: int64(reasoning), Estimated: estimated == 1,
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	r.Routing.Candidates = []record.RoutingCandidate{}
	if candidates != "" && candidates != "[]" {
		_ = json.Unmarshal([]byte(candidates), &r.Routing.Candidates)
	}
	r.Metadata = make(map[string]string, len(metaKeys))
	for i, k := range metaKeys {
		if i < len(metaValues) {
			r.Metadata[k] = metaValues[i]
		}
	}
	r.Attempts = make([]record.Attempt, len(aProvider))
	for i := range aProvider {
		a := record.Attempt{Provider: aProvider[i]}
		if i < len(aModel) {
			a.Model = aModel[i]
		}
		if i < len(aStatus) {
			a.StatusCode = int(aStatus[i])
		}
		if i < len(aLatency) {
			a.LatencyMs = int64(aLatency[i])
		}
		if i < len(aError) {
			a.ErrorType = aError[i]
		}
		r.Attempts[i] = a
	}
	return &r, nil
}

// whereClause accumulates AND-ed conditions and their bind arguments.
type whereClause struct {
	conds []string
	args  []any
}

func (w *whereClause) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// clone returns a copy that conditions can be added to without changing w.
func (w *whereClause) clone() whereClause {
	return whereClause{conds: append([]string(nil), w.conds...), args: append([]any(nil), w.args...)}
}

func (w *whereClause) String() string {
	if len(w.conds) == 0 {
		return "1"
	}
	return strings.Join(w.conds, " AND ")
}

// queryRecords runs a record query and scans every row.
func queryRecords(ctx context.Context, conn driver.Conn, sql string, args ...any) ([]*record.Record, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*record.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
