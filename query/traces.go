package query

import (
	"net/http"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/record"
)

// traceNode is one request in a trace tree.
type traceNode struct {
	// OffsetMs is the request's start relative to the trace's first request.
	OffsetMs int64          `json:"offset_ms"`
	Request  *record.Record `json:"request"`
	Children []*traceNode   `json:"children"`
}

// traceResponse is GET /v1/traces/{id}.
type traceResponse struct {
	TraceID     string       `json:"trace_id"`
	SessionID   string       `json:"session_id,omitempty"`
	StartedAtMs int64        `json:"started_at_ms"`
	DurationMs  int64        `json:"duration_ms"`
	Requests    int          `json:"requests"`
	CostNUSD    int64        `json:"cost_nusd"`
	Roots       []*traceNode `json:"roots"`
}

// getTrace answers GET /v1/traces/{id}: every request of a W3C trace (a
// 32-hex-digit id) or of a session (any other id), as a tree: a request
// whose parent span is another request's span is its child.
func (s *Server) getTrace(w http.ResponseWriter, r *http.Request, k *keys.Key) {
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		writeError(w, http.StatusBadRequest, "invalid_id", "trace or session id must be 1 to 256 characters")
		return
	}
	index, column := "session_index", "session_id"
	if isTraceID(id) {
		index, column = "trace_index", "trace_id"
		id = strings.ToLower(id)
	}
	// The index gives the time range, which bounds the scan of requests.
	var where whereClause
	where.add("request_id IN (SELECT request_id FROM "+index+" WHERE "+column+" = ?)", id)
	where.add("ts BETWEEN (SELECT toDateTime(intDiv(min(started_at_ms), 1000), 'UTC') FROM "+index+" WHERE "+column+" = ?)"+
		" AND (SELECT toDateTime(intDiv(max(started_at_ms), 1000), 'UTC') FROM "+index+" WHERE "+column+" = ?)", id, id)
	where.add(column+" = ?", id)
	scope(&where, k)
	recs, err := queryRecords(r.Context(), s.conn,
		"SELECT "+recordColumns+" FROM requests WHERE "+where.String()+
			" ORDER BY started_at_ms, request_id, ingested_at DESC LIMIT 1 BY request_id LIMIT 10000", where.args...)
	if err != nil {
		s.dbError(w, r, err)
		return
	}
	if len(recs) == 0 {
		writeError(w, http.StatusNotFound, "not_found", "no requests for "+column+" "+id)
		return
	}
	writeJSON(w, http.StatusOK, buildTrace(id, column, recs))
}

func isTraceID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// buildTrace arranges records (sorted by start) into a tree.
func buildTrace(id, column string, recs []*record.Record) *traceResponse {
	out := &traceResponse{Requests: len(recs), StartedAtMs: recs[0].StartedAtMs, Roots: []*traceNode{}}
	if column == "trace_id" {
		out.TraceID = id
	} else {
		out.SessionID = id
		out.TraceID = recs[0].TraceID
	}
	bySpan := make(map[string]int, len(recs))
	nodes := make([]*traceNode, len(recs))
	end := out.StartedAtMs
	for i, rec := range recs {
		nodes[i] = &traceNode{OffsetMs: rec.StartedAtMs - out.StartedAtMs, Request: rec, Children: []*traceNode{}}
		if _, dup := bySpan[rec.SpanID]; !dup {
			bySpan[rec.SpanID] = i
		}
		out.CostNUSD += rec.CostNUSD
		end = max(end, rec.StartedAtMs+rec.LatencyMs)
	}
	out.DurationMs = end - out.StartedAtMs
	for i, n := range nodes {
		// A parent must come earlier in start order; that also rules out
		// cycles from crafted traceparent headers.
		if p, ok := bySpan[n.Request.ParentSpanID]; ok && p < i && n.Request.ParentSpanID != "" {
			nodes[p].Children = append(nodes[p].Children, n)
		} else {
			out.Roots = append(out.Roots, n)
		}
	}
	sort.SliceStable(out.Roots, func(i, j int) bool { return out.Roots[i].OffsetMs < out.Roots[j].OffsetMs })
	return out
}
