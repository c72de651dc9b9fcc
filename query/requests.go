package query

import (
	"context"
	"fmt"
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
	bodyWhere := where.clone()
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
	where, from, to, ok := s.recordFilter(w, q, k)
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
		to = min(to, c.startedAtMs+1)
	}
	recs, err := s.page(r.Context(), where, from, to, limit+1)
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

// firstWindow is the span of the newest slice of the range that page
// searches first; each next slice is windowGrowth times longer.
const (
	firstWindow  = time.Hour
	windowGrowth = 8
)

// page returns up to n records matching where, newest first, from the
// range [from, to) in epoch ms, in two steps. First the page's ids, read
// from the few columns that filter and sort, and from the newest slice of
// the range that holds enough of them: an hour, then eight more, and so
// on (the server cannot read a table in its sort order backwards, so a
// 30-day range would otherwise be sorted whole for one page). Then the
// records of those ids alone: in one step the server would read every
// column of every matching row to return n of them.
func (s *Server) page(ctx context.Context, where *whereClause, from, to int64, n int) ([]*record.Record, error) {
	var ids []string
	var oldest, newest uint64
	span := firstWindow.Milliseconds()
	for hi := to; hi > from && len(ids) < n; span *= windowGrowth {
		lo := max(from, hi-span)
		window := where.clone()
		window.add("ts BETWEEN toDateTime(?, 'UTC') AND toDateTime(?, 'UTC')", secondsOf(lo), secondsOf(hi))
		window.add("started_at_ms >= ? AND started_at_ms < ?", uint64(lo), uint64(hi))
		rows, err := s.conn.Query(ctx, "SELECT started_at_ms, request_id FROM requests WHERE "+window.String()+
			" ORDER BY started_at_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT "+strconv.Itoa(n-len(ids)), window.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var ms uint64
			var id string
			if err := rows.Scan(&ms, &id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan: %w", err)
			}
			if len(ids) == 0 {
				newest = ms
			}
			oldest = ms
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		hi = lo
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return queryRecords(ctx, s.conn, "SELECT "+recordColumns+" FROM requests"+
		" WHERE ts BETWEEN toDateTime(?, 'UTC') AND toDateTime(?, 'UTC') AND request_id IN (SELECT arrayJoin(?))"+
		" ORDER BY started_at_ms DESC, request_id DESC, ingested_at DESC LIMIT 1 BY request_id",
		secondsOf(int64(oldest)), secondsOf(int64(newest)), ids)
}

// recordFilter reads the list endpoint's time range (epoch ms, from
// inclusive, to exclusive) and builds the WHERE clause of its other
// filters: equality filters, tags, metadata and the key's scope. On a bad
// parameter it answers 400 and returns false.
func (s *Server) recordFilter(w http.ResponseWriter, q map[string][]string, k *keys.Key) (where *whereClause, from, to int64, ok bool) {
	from, to, err := timeRange(q, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_time_range", err.Error())
		return nil, 0, 0, false
	}
	where = &whereClause{}
	for _, f := range filterColumns {
		if vs := q[f.param]; len(vs) > 0 {
			where.add(f.column+" = ?", vs[0])
		}
	}
	for _, tag := range q["tag"] {
		where.add("has(tags, ?)", tag)
	}
	for _, kv := range q["metadata"] {
		key, value, found := strings.Cut(kv, ":")
		if !found || key == "" {
			writeError(w, http.StatusBadRequest, "invalid_metadata", "metadata filters are key:value")
			return nil, 0, 0, false
		}
		where.add("arrayExists((k, v) -> k = ? AND v = ?, metadata.key, metadata.value)", strings.ToLower(key), value)
	}
	scope(where, k)
	return where, from, to, true
}
