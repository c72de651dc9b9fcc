package query

import (
	"context"
	"net/http"
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

const spendSums = `count(), countIf(outcome != 'ok'), sum(cost_nusd), sum(prompt_tokens), sum(completion_tokens),
	sum(cached_tokens), sum(cache_write_tokens), sum(reasoning_tokens)`

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

// groupExprs maps group_by names to the expressions they group by.
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
// of interval buckets. Replayed records are counted once (FINAL).
func (s *Server) getSpend(w http.ResponseWriter, r *http.Request, k *keys.Key) {
	q := r.URL.Query()
	where, ok := s.recordFilter(w, q, k)
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
	from, to, _ := timeRange(q, time.Now())
	resp := spendResponse{From: from, To: to, Groups: []spendRow{}, Series: []spendRow{}}
	ctx := r.Context()
	rows, err := s.spendQuery(ctx, where, nil, 0)
	if err == nil && len(rows) == 1 {
		resp.Total = rows[0].totals
	}
	if err == nil && len(groups) > 0 {
		var gs []spendResult
		if gs, err = s.spendQuery(ctx, where, groups, 0); err == nil {
			for _, g := range gs {
				resp.Groups = append(resp.Groups, g.row(groups, false))
			}
		}
	}
	if err == nil && bucket > 0 {
		var ss []spendResult
		if ss, err = s.spendQuery(ctx, where, groups, bucket); err == nil {
			for _, p := range ss {
				resp.Series = append(resp.Series, p.row(groups, true))
			}
		}
	}
	if err != nil {
		s.dbError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &resp)
}

type spendResult struct {
	dims   []string
	bucket uint32
	totals spendTotals
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

func (s *Server) spendQuery(ctx context.Context, where *whereClause, groups []string, bucket int64) ([]spendResult, error) {
	var sel, groupBy []string
	for _, g := range groups {
		sel = append(sel, groupExprs[g])
		groupBy = append(groupBy, groupExprs[g])
	}
	if bucket > 0 {
		b := "toUInt32(intDiv(toUInt32(ts), " + strconv.FormatInt(bucket, 10) + ") * " + strconv.FormatInt(bucket, 10) + ")"
		sel = append(sel, b)
		groupBy = append([]string{b}, groupBy...)
	}
	sql := "SELECT " + strings.Join(append(sel, spendSums), ", ") + " FROM requests FINAL WHERE " + where.String()
	if len(groupBy) > 0 {
		sql += " GROUP BY " + strings.Join(groupBy, ", ") + " ORDER BY " + strings.Join(groupBy, ", ")
	}
	rows, err := s.conn.Query(ctx, sql, where.args...)
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
