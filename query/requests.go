package query

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/record"
)

// getRequest answers GET /v1/requests/{id}: one record with its bodies. A
// UUIDv7 id carries its start time, which bounds the scan to a few parts.
func (s *Server) getRequest(w http.ResponseWriter, r *http.Request, k *keys.Key) {
	id := r.PathValue("id")
	u, err := uuid.Parse(id)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_id", "request id must be a UUID")
		return
	}
	id = u.String()
	var where whereClause
	where.add("request_id = ?", id)
	if u.Version() == 7 {
		sec, _ := u.Time().UnixTime()
		where.add("ts BETWEEN toDateTime(?, 'UTC') AND toDateTime(?, 'UTC')", uint32(max(sec-60, 0)), uint32(sec+60))
	} else {
		where.add("ts >= toDateTime(?, 'UTC')", uint32(time.Now().Add(-30*24*time.Hour).Unix()))
	}
	bodyWhere := whereClause{conds: append([]string(nil), where.conds...), args: append([]any(nil), where.args...)}
	scope(&where, k)
	recs, err := queryRecords(r.Context(), s.conn,
		"SELECT "+recordColumns+" FROM requests WHERE "+where.String()+" ORDER BY ingested_at DESC LIMIT 1", where.args...)
	if err != nil {
		s.dbError(w, r, err)
		return
	}
	if len(recs) == 0 {
		writeError(w, http.StatusNotFound, "not_found", "no request "+id)
		return
	}
	rec := recs[0]
	rows, err := s.conn.Query(r.Context(), "SELECT request_body, response_body FROM request_bodies WHERE "+bodyWhere.String()+" LIMIT 1", bodyWhere.args...)
	if err != nil {
		s.dbError(w, r, err)
		return
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&rec.RequestBody, &rec.ResponseBody); err != nil {
			s.dbError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, rec)
}

// listPage is the response of GET /v1/requests.
type listPage struct {
	Data       []*record.Record `json:"data"`
	NextCursor string           `json:"next_cursor"`
}

// filterColumns maps query parameters to the columns they filter by
// equality.
var filterColumns = []struct{ param, column string }{
	{"model", "model"},
	{"model_requested", "model_requested"},
	{"provider", "provider"},
	{"key", "key_id"},
	{"user", "user"},
	{"team", "team"},
	{"outcome", "outcome"},
	{"session_id", "session_id"},
	{"endpoint", "endpoint"},
}

// listRequests answers GET /v1/requests: newest first, keyset-paginated
// by (started_at_ms, request_id), bodies left out.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request, k *keys.Key) {
	q := r.URL.Query()
	where, ok := s.recordFilter(w, q, k)
	if !ok {
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "invalid_limit", "limit must be a positive integer")
			return
		}
		limit = min(n, s.cfg.MaxLimit)
	}
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_cursor", err.Error())
			return
		}
		where.add("(started_at_ms, request_id) < (?, ?)", uint64(c.startedAtMs), c.requestID)
	}
	sql := "SELECT " + recordColumns + " FROM requests WHERE " + where.String() +
		" ORDER BY started_at_ms DESC, request_id DESC, ingested_at DESC LIMIT 1 BY request_id LIMIT " + strconv.Itoa(limit+1)
	recs, err := queryRecords(r.Context(), s.conn, sql, where.args...)
	if err != nil {
		s.dbError(w, r, err)
		return
	}
	page := listPage{Data: recs}
	if len(recs) > limit {
		page.Data = recs[:limit]
		last := page.Data[limit-1]
		page.NextCursor = cursor{startedAtMs: last.StartedAtMs, requestID: last.RequestID}.encode()
	}
	if page.Data == nil {
		page.Data = []*record.Record{}
	}
	writeJSON(w, http.StatusOK, &page)
}

// recordFilter builds the WHERE clause shared by the list and spend
// endpoints: the time range, equality filters, tags, metadata and the key's
// scope. On a bad parameter it answers 400 and returns false.
func (s *Server) recordFilter(w http.ResponseWriter, q map[string][]string, k *keys.Key) (*whereClause, bool) {
	from, to, err := timeRange(q, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_time_range", err.Error())
		return nil, false
	}
	where := &whereClause{}
	where.add("ts BETWEEN toDateTime(?, 'UTC') AND toDateTime(?, 'UTC')", secondsOf(from), secondsOf(to))
	where.add("started_at_ms >= ? AND started_at_ms < ?", uint64(from), uint64(to))
	for _, f := range filterColumns {
		if vs := q[f.param]; len(vs) > 0 {
			where.add(f.column+" = ?", vs[0])
		}
	}
	for _, tag := range q["tag"] {
		where.add("has(tags, ?)", tag)
	}
	for _, kv := range q["metadata"] {
		key, value, ok := strings.Cut(kv, ":")
		if !ok || key == "" {
			writeError(w, http.StatusBadRequest, "invalid_metadata", "metadata filters are key:value")
			return nil, false
		}
		where.add("arrayExists((k, v) -> k = ? AND v = ?, metadata.key, metadata.value)", strings.ToLower(key), value)
	}
	scope(where, k)
	return where, true
}
