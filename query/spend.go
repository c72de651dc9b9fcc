package query

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/keys"
)

// spendTotals are the sums every spend row carries. Counts and costs are
// JSON numbers; cost is integer nano-USD.
type spendTotals struct {
	Requests         uint64 `json:"requests"`
	Errors           uint64 `json:"errors"`
	CostNUSD         int64  `json:"cost_nusd"`
	PromptTokens     uint64 `json:"prompt_tokens"`
	CompletionTokens uint64 `json:"completion_tokens"`
	CachedTokens     uint64 `json:"cached_tokens"`
	CacheWriteTokens uint64 `json:"cache_write_tokens"`
	ReasoningTokens  uint64 `json:"reasoning_tokens"`
}

func (t *spendTotals) add(o spendTotals) {
	t.Requests += o.Requests
	t.Errors += o.Errors
	t.CostNUSD += o.CostNUSD
	t.PromptTokens += o.PromptTokens
	t.CompletionTokens += o.CompletionTokens
	t.CachedTokens += o.CachedTokens
	t.CacheWriteTokens += o.CacheWriteTokens
	t.ReasoningTokens += o.ReasoningTokens
}

func (t *spendTotals) targets() []any {
	return []any{&t.Requests, &t.Errors, &t.CostNUSD, &t.PromptTokens, &t.CompletionTokens, &t.CachedTokens, &t.CacheWriteTokens, &t.ReasoningTokens}
}

// spendRow is one group or one series point: the group's dimensions (and
// bucket start for series) flattened beside the totals.
type spendRow map[string]any

type spendResponse struct {
	From   int64       `json:"from"`
	To     int64       `json:"to"`
	Total  spendTotals `json:"total"`
	Groups []spendRow  `json:"groups"`
	Series []spendRow  `json:"series"`
}

// groupExprs maps group_by names to the expressions they group by in the
// raw table, requests.
var groupExprs = map[string]string{
	"model":    "model",
	"provider": "provider",
	"key":      "key_id",
	"user":     "user",
	"team":     "team",
	"endpoint": "endpoint",
	"outcome":  "outcome",
	"day":      "toString(toDate(ts))",
}

// intervals are the series bucket sizes, in seconds.
var intervals = map[string]int64{"minute": 60, "hour": 3600, "day": 86400}

// getSpend answers GET /v1/spend: totals for the range and filters, and
// optionally the same broken down by group_by (comma list) and as a series
// of interval buckets. Each request counts once, and the answer is the same
// whichever tables it is read from (see planSpend).
func (s *Server) getSpend(w http.ResponseWriter, r *http.Request, k *keys.Key) {
	q := r.URL.Query()
	sel, ok := parseSpendSelection(w, q, k)
	if !ok {
		return
	}
	var groups []string
	if v := q.Get("group_by"); v != "" {
		for _, g := range strings.Split(v, ",") {
			g = strings.TrimSpace(g)
			if _, ok := groupExprs[g]; !ok {
				writeError(w, http.StatusBadRequest, "invalid_group_by", "group_by takes model, provider, key, user, team, endpoint, outcome, day; got "+strconv.Quote(g))
				return
			}
			groups = append(groups, g)
		}
	}
	var bucket int64
	if v := q.Get("interval"); v != "" {
		if bucket, ok = intervals[v]; !ok {
			writeError(w, http.StatusBadRequest, "invalid_interval", "interval takes minute, hour or day")
			return
		}
	}
	ctx := r.Context()
	_, forceRaw := ctx.Value(rawSpendOnly{}).(bool)
	plan := planSpend(sel, groups, bucket, forceRaw)
	// One query at the finest grain asked for; the coarser answers are its
	// sums. The sums are integers, so they are exact, and Go orders
	// strings as ClickHouse does (bytewise).
	rows, err := s.spendQuery(ctx, plan, sel, groups, bucket)
	if err != nil {
		s.dbError(w, r, err)
		return
	}
	resp := spendResponse{From: sel.from, To: sel.to, Groups: []spendRow{}, Series: []spendRow{}}
	for _, row := range rows {
		resp.Total.add(row.totals)
	}
	if bucket > 0 {
		for _, p := range rows {
			resp.Series = append(resp.Series, p.row(groups, true))
		}
		if len(groups) > 0 {
			rows = sumByDims(rows)
		}
	}
	if len(groups) > 0 {
		for _, g := range rows {
			resp.Groups = append(resp.Groups, g.row(groups, false))
		}
	}
	writeJSON(w, http.StatusOK, &resp)
}

// rawSpendOnly, set in a request's context, makes getSpend read only the raw
// table: the tests compare the rollups' answers with it.
type rawSpendOnly struct{}

// spendSelection is what a spend request selects: its time range, in epoch
// milliseconds [from, to), and its filters, kept apart so that each source
// table gets its own time bounds.
type spendSelection struct {
	from, to int64
	// equal holds column = value filters, columns of requests.
	equal    []columnValue
	tags     []string
	metadata []columnValue
	key      *keys.Key
}

type columnValue struct{ column, value string }

// parseSpendSelection reads the same parameters as the request list's
// recordFilter, with the same meaning and errors. On a bad parameter it
// answers 400 and returns false.
func parseSpendSelection(w http.ResponseWriter, q url.Values, k *keys.Key) (spendSelection, bool) {
	from, to, err := timeRange(q, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_time_range", err.Error())
		return spendSelection{}, false
	}
	sel := spendSelection{from: from, to: to, tags: q["tag"], key: k}
	for _, f := range filterColumns {
		if vs := q[f.param]; len(vs) > 0 {
			sel.equal = append(sel.equal, columnValue{f.column, vs[0]})
		}
	}
	for _, kv := range q["metadata"] {
		key, value, ok := strings.Cut(kv, ":")
		if !ok || key == "" {
			writeError(w, http.StatusBadRequest, "invalid_metadata", "metadata filters are key:value")
			return spendSelection{}, false
		}
		sel.metadata = append(sel.metadata, columnValue{strings.ToLower(key), value})
	}
	return sel, true
}

// spendSource is a table spend is read from (migration 0003).
type spendSource int

const (
	// sourceRaw is requests: every filter and dimension, any time range,
	// and it scans every request.
	sourceRaw spendSource = iota
	// sourceMinute, sourceHour and sourceDay are spend_minute, spend_hour
	// and spend_day: whole minutes, hours and UTC days; team, key, model,
	// provider and outcome.
	sourceMinute
	sourceHour
	sourceDay
	// sourceUserDay is spend_user_day: whole UTC days, with user too.
	sourceUserDay
)

var spendSources = [...]struct {
	table string
	// timeColumn is the start of a row's minute, hour or day: a DateTime,
	// or a Date for the daily tables.
	timeColumn string
	unitMs     int64
}{
	sourceRaw:     {"requests", "ts", 1},
	sourceMinute:  {"spend_minute", "minute", 60_000},
	sourceHour:    {"spend_hour", "hour", 3_600_000},
	sourceDay:     {"spend_day", "day", 86_400_000},
	sourceUserDay: {"spend_user_day", "day", 86_400_000},
}

func (src spendSource) String() string { return spendSources[src].table }

func (src spendSource) daily() bool { return spendSources[src].unitMs == 86_400_000 }

// rollupColumns are the columns of requests that every spend rollup
// carries, for filters and group_by alike; userColumn is in spend_user_day
// only.
var rollupColumns = map[string]bool{"model": true, "provider": true, "key_id": true, "team": true, "outcome": true}

const userColumn = "user"

// spendSegment is a part of the requested time range and the table that
// answers for it.
type spendSegment struct {
	source   spendSource
	from, to int64 // epoch ms, [from, to)
}

// maxRollupMs bounds the rollup segments: DateTime and Date columns end in
// 2106 and 2149, and a range reaching past 2100 leaves its tail to the raw
// table, which has nothing there.
var maxRollupMs = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// planSpend splits the selection's time range into segments, each read from
// the coarsest table that can answer it exactly:
//
//   - Anything that only requests carries (endpoint, model_requested,
//     session_id, tags, metadata, as filter or group) reads requests for
//     the whole range.
//   - Otherwise whole UTC days come from spend_day (unless the series is
//     finer), the whole hours left at either end from spend_hour (unless
//     the series is by minute), the whole minutes left from spend_minute,
//     and the partial minutes at the very ends from requests: an arbitrary
//     range costs at most two minutes of raw rows.
//   - user (a filter or group) is in spend_user_day only: whole days come
//     from it and the partial days at either end from requests; with a
//     minute or hourly series, all of it from requests.
//
// Every segment counts each request exactly as requests does, so the
// answer is the same whichever the plan; the tests compare them.
func planSpend(sel spendSelection, groups []string, bucket int64, forceRaw bool) []spendSegment {
	whole := []spendSegment{{sourceRaw, sel.from, sel.to}}
	if forceRaw || len(sel.tags) > 0 || len(sel.metadata) > 0 {
		return whole
	}
	needsUser := false
	columns := make([]string, 0, len(sel.equal)+len(groups))
	for _, f := range sel.equal {
		columns = append(columns, f.column)
	}
	for _, g := range groups {
		if g != "day" {
			columns = append(columns, groupExprs[g])
		}
	}
	for _, c := range columns {
		switch {
		case c == userColumn:
			needsUser = true
		case !rollupColumns[c]:
			return whole
		}
	}
	var grains []spendSource
	switch {
	case needsUser && (bucket == 0 || bucket == 86400):
		grains = []spendSource{sourceUserDay}
	case needsUser:
		return whole
	case bucket == 0 || bucket == 86400:
		grains = []spendSource{sourceDay, sourceHour, sourceMinute}
	case bucket == 3600:
		grains = []spendSource{sourceHour, sourceMinute}
	default:
		grains = []spendSource{sourceMinute}
	}
	hi := min(sel.to, maxRollupMs)
	if hi <= sel.from {
		return whole
	}
	segments := cover(nil, sel.from, hi, grains)
	if hi < sel.to {
		segments = append(segments, spendSegment{sourceRaw, hi, sel.to})
	}
	return segments
}

// cover appends segments covering [from, to) to out: the whole units of
// grains[0] inside the range, and the rest with the finer grains after it,
// down to requests.
func cover(out []spendSegment, from, to int64, grains []spendSource) []spendSegment {
	if from >= to {
		return out
	}
	if len(grains) == 0 {
		return append(out, spendSegment{sourceRaw, from, to})
	}
	unit := spendSources[grains[0]].unitMs
	start, end := (from+unit-1)/unit*unit, to/unit*unit
	if start >= end {
		return cover(out, from, to, grains[1:])
	}
	out = cover(out, from, start, grains[1:])
	out = append(out, spendSegment{grains[0], start, end})
	return cover(out, end, to, grains[1:])
}

type spendResult struct {
	dims   []string
	bucket uint32
	totals spendTotals
}

// sumByDims adds up series points with the same dimensions, into groups
// ordered by their dimensions.
func sumByDims(points []spendResult) []spendResult {
	index := map[string]int{}
	var groups []spendResult
	for _, p := range points {
		var key strings.Builder
		for _, d := range p.dims {
			key.WriteString(strconv.Itoa(len(d)) + ":" + d)
		}
		i, ok := index[key.String()]
		if !ok {
			i = len(groups)
			index[key.String()] = i
			groups = append(groups, spendResult{dims: p.dims})
		}
		groups[i].totals.add(p.totals)
	}
	slices.SortFunc(groups, func(a, b spendResult) int { return slices.Compare(a.dims, b.dims) })
	return groups
}

func (res spendResult) row(groups []string, series bool) spendRow {
	row := spendRow{}
	if series {
		row["t"] = int64(res.bucket) * 1000
	}
	for i, g := range groups {
		row[g] = res.dims[i]
	}
	t := res.totals
	row["requests"], row["errors"], row["cost_nusd"] = t.Requests, t.Errors, t.CostNUSD
	row["prompt_tokens"], row["completion_tokens"] = t.PromptTokens, t.CompletionTokens
	row["cached_tokens"], row["cache_write_tokens"], row["reasoning_tokens"] = t.CachedTokens, t.CacheWriteTokens, t.ReasoningTokens
	return row
}

// The sums of each source, under the names the outer query adds up.
const (
	rawSums = `count() AS s_requests, countIf(outcome != 'ok') AS s_errors, sum(cost_nusd) AS s_cost,
	sum(prompt_tokens) AS s_prompt, sum(completion_tokens) AS s_completion, sum(cached_tokens) AS s_cached,
	sum(cache_write_tokens) AS s_cache_write, sum(reasoning_tokens) AS s_reasoning`
	rollupSums = `sum(requests) AS s_requests, sum(errors) AS s_errors, sum(cost_nusd) AS s_cost,
	sum(prompt_tokens) AS s_prompt, sum(completion_tokens) AS s_completion, sum(cached_tokens) AS s_cached,
	sum(cache_write_tokens) AS s_cache_write, sum(reasoning_tokens) AS s_reasoning`
	outerSums = `sum(s_requests), sum(s_errors), sum(s_cost), sum(s_prompt), sum(s_completion), sum(s_cached),
	sum(s_cache_write), sum(s_reasoning)`
)

// dimExpr is the expression of a group_by name in a source's table.
func dimExpr(src spendSource, group string) string {
	switch {
	case group != "day":
		return groupExprs[group] // the rollups name their columns as requests does
	case src == sourceRaw:
		return groupExprs["day"]
	case src.daily():
		return "toString(day)"
	}
	return "toString(toDate(" + spendSources[src].timeColumn + "))"
}

// bucketExpr is the start of a row's series bucket, in epoch seconds. A
// rollup row lies within one bucket: the planner reads a table only for
// series whose buckets its grain divides.
func bucketExpr(src spendSource, bucket int64) string {
	seconds := "toUInt32(" + spendSources[src].timeColumn + ")"
	if src.daily() {
		seconds = "toUInt32(day) * 86400" // a Date is days since the epoch
	}
	b := strconv.FormatInt(bucket, 10)
	return "toUInt32(intDiv(" + seconds + ", " + b + ") * " + b + ")"
}

// sourceWhere is the filter of one source's segments: their time bounds in
// its table's terms (OR-ed: a source may read both ends of the range), the
// selection's filters and the key's scope.
func sourceWhere(src spendSource, segments []spendSegment, sel spendSelection) *whereClause {
	w := &whereClause{}
	var (
		bounds []string
		args   []any
	)
	for _, seg := range segments {
		switch column := spendSources[src].timeColumn; {
		case src == sourceRaw:
			bounds = append(bounds, "(ts BETWEEN toDateTime(?, 'UTC') AND toDateTime(?, 'UTC') AND started_at_ms >= ? AND started_at_ms < ?)")
			args = append(args, secondsOf(seg.from), secondsOf(seg.to), uint64(seg.from), uint64(seg.to))
		case src.daily():
			bounds = append(bounds, "("+column+" >= toDate(?) AND "+column+" < toDate(?))")
			args = append(args, dateOf(seg.from), dateOf(seg.to))
		default:
			bounds = append(bounds, "("+column+" >= toDateTime(?, 'UTC') AND "+column+" < toDateTime(?, 'UTC'))")
			args = append(args, secondsOf(seg.from), secondsOf(seg.to))
		}
	}
	w.add("("+strings.Join(bounds, " OR ")+")", args...)
	for _, f := range sel.equal {
		w.add(f.column+" = ?", f.value)
	}
	for _, tag := range sel.tags {
		w.add("has(tags, ?)", tag)
	}
	for _, m := range sel.metadata {
		w.add("arrayExists((k, v) -> k = ? AND v = ?, metadata.key, metadata.value)", m.column, m.value)
	}
	scope(w, sel.key)
	return w
}

func dateOf(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.DateOnly) }

// spendQuery sums the plan's segments, grouped by groups and, with bucket,
// by series bucket. Each segment is pre-aggregated in its own SELECT; the
// outer query adds them up, so that a group spanning segments is one row.
func (s *Server) spendQuery(ctx context.Context, plan []spendSegment, sel spendSelection, groups []string, bucket int64) ([]spendResult, error) {
	// Columns g0, g1, ... are the groups and b the bucket: scanned in that
	// order, grouped and sorted by the bucket first.
	var dims []string
	for i := range groups {
		dims = append(dims, "g"+strconv.Itoa(i))
	}
	selected, keyCols := dims, dims
	if bucket > 0 {
		selected = append(append([]string{}, dims...), "b")
		keyCols = append([]string{"b"}, dims...)
	}
	var (
		branches []string
		args     []any
	)
	bySource := map[spendSource][]spendSegment{}
	for _, seg := range plan {
		bySource[seg.source] = append(bySource[seg.source], seg)
	}
	for src := range spendSources {
		src := spendSource(src)
		segments := bySource[src]
		if len(segments) == 0 {
			continue
		}
		var cols []string
		for i, g := range groups {
			cols = append(cols, dimExpr(src, g)+" AS "+dims[i])
		}
		if bucket > 0 {
			cols = append(cols, bucketExpr(src, bucket)+" AS b")
		}
		from, sums := src.String(), rollupSums
		if src == sourceRaw {
			from, sums = "requests FINAL", rawSums // FINAL: a replayed record counts once
		}
		where := sourceWhere(src, segments, sel)
		branch := "SELECT " + strings.Join(append(cols, sums), ", ") + " FROM " + from + " WHERE " + where.String()
		if len(keyCols) > 0 {
			branch += " GROUP BY " + strings.Join(keyCols, ", ")
		}
		branches = append(branches, branch)
		args = append(args, where.args...)
	}
	sql := "SELECT " + strings.Join(append(append([]string{}, selected...), outerSums), ", ") +
		" FROM (" + strings.Join(branches, " UNION ALL ") + ")"
	if len(keyCols) > 0 {
		sql += " GROUP BY " + strings.Join(keyCols, ", ") + " ORDER BY " + strings.Join(keyCols, ", ")
	}
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []spendResult
	for rows.Next() {
		res := spendResult{dims: make([]string, len(groups))}
		var targets []any
		for i := range res.dims {
			targets = append(targets, &res.dims[i])
		}
		if bucket > 0 {
			targets = append(targets, &res.bucket)
		}
		targets = append(targets, res.totals.targets()...)
		if err := rows.Scan(targets...); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, rows.Err()
}
