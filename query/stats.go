package query

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/internal/keys"
)

// Provider stats: GET /v1/stats/providers, what the proxy polls to route.
// They come from perf_minute (migration 0003), which keeps per minute, team,
// provider and model the aggregate states that this file merges, so a
// 5-minute window reads a handful of rows.

const (
	defaultStatsWindow = 5 * time.Minute
	minStatsWindow     = time.Minute
	maxStatsWindow     = 24 * time.Hour
)

// msQuantiles are the p50, p90 and p99 of a duration in milliseconds.
type msQuantiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// providerStats is one provider and model over the window.
type providerStats struct {
	Provider      string  `json:"provider"`
	Model         string  `json:"model"`
	Requests      uint64  `json:"requests"`
	Errors        uint64  `json:"errors"`
	RateLimited   uint64  `json:"rate_limited"`
	ErrorRate     float64 `json:"error_rate"`
	RateLimitRate float64 `json:"rate_limit_rate"`
	// LatencyMs is of successful requests; nil when there were none.
	LatencyMs *msQuantiles `json:"latency_ms"`
	// TTFTMs is of successful streams; nil when there were none.
	TTFTMs *msQuantiles `json:"ttft_ms"`
	// ThroughputTPS is completion tokens per second of generation (first
	// token to last) of successful streams; nil when there were none.
	ThroughputTPS      *float64 `json:"throughput_tps"`
	CostNUSDPerRequest float64  `json:"cost_nusd_per_request"`
	CostNUSD           int64    `json:"cost_nusd"`
	PromptTokens       uint64   `json:"prompt_tokens"`
	CompletionTokens   uint64   `json:"completion_tokens"`
}

// statsResponse is GET /v1/stats/providers.
type statsResponse struct {
	WindowSeconds int64           `json:"window_seconds"`
	FromMs        int64           `json:"from_ms"`
	GeneratedAtMs int64           `json:"generated_at_ms"`
	Data          []providerStats `json:"data"`
}

// statsMerges reads the states of perf_minute, or of statsStates, per
// provider and model. The quantiles are cast because their type differs by
// server version (UInt32 on 18.16, Float64 on current releases).
const statsMerges = `provider, model,
	countMerge(requests), sumMerge(errors), sumMerge(rate_limited),
	arrayMap(x -> toFloat64(x), quantilesMerge(0.5, 0.9, 0.99)(latency_quantiles)),
	arrayMap(x -> toFloat64(x), quantilesMerge(0.5, 0.9, 0.99)(ttft_quantiles)),
	sumMerge(ttft_samples), sumMerge(generation_tokens), sumMerge(generation_ms),
	sumMerge(cost_nusd_sum), sumMerge(prompt_tokens_sum), sumMerge(completion_tokens_sum)`

// statsStates computes from requests the states perf_minute_mv stores (the
// same expressions, see migrations/sql/0003_rollups.sql), for keys whose
// scope perf_minute cannot express.
const statsStates = `provider, model,
	countState() AS requests,
	sumState(toUInt64(outcome != 'ok')) AS errors,
	sumState(toUInt64(status_code = 429 OR outcome = 'rate_limited')) AS rate_limited,
	quantilesStateIf(0.5, 0.9, 0.99)(latency_ms, outcome = 'ok') AS latency_quantiles,
	quantilesStateIf(0.5, 0.9, 0.99)(ttft_ms, outcome = 'ok' AND stream = 1 AND ttft_ms > 0) AS ttft_quantiles,
	sumState(toUInt64(outcome = 'ok' AND stream = 1 AND ttft_ms > 0)) AS ttft_samples,
	sumState(toUInt64(if(outcome = 'ok' AND stream = 1 AND ttft_ms > 0 AND latency_ms > ttft_ms, completion_tokens, 0))) AS generation_tokens,
	sumState(toUInt64(if(outcome = 'ok' AND stream = 1 AND ttft_ms > 0 AND latency_ms > ttft_ms, latency_ms - ttft_ms, 0))) AS generation_ms,
	sumState(cost_nusd) AS cost_nusd_sum,
	sumState(toUInt64(prompt_tokens)) AS prompt_tokens_sum,
	sumState(toUInt64(completion_tokens)) AS completion_tokens_sum`

// getProviderStats answers GET /v1/stats/providers?window=5m: per provider
// and model, the requests of the last window minutes (the current minute
// included) with their error and 429 rates, latency and TTFT quantiles,
// throughput and price. An admin key sees all traffic, a team's key its
// team's. A key with neither is scoped to its own key id, which perf_minute
// does not carry: its stats are computed from requests, which is slower.
func (s *Server) getProviderStats(w http.ResponseWriter, r *http.Request, k *keys.Key) {
	window := defaultStatsWindow
	if v := r.URL.Query().Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minStatsWindow || d > maxStatsWindow {
			writeError(w, http.StatusBadRequest, "invalid_window", "window must be a duration from 1m to 24h, such as 1m, 5m or 1h30m; got "+strconv.Quote(v))
			return
		}
		window = d
	}
	now := time.Now()
	// Whole minutes, rounded up; the last is the current, partial one.
	minutes := int64((window + time.Minute - 1) / time.Minute)
	currentMinute := now.Unix() / 60 * 60
	from := currentMinute - (minutes-1)*60
	to := currentMinute + 60

	var (
		sql   string
		where whereClause
	)
	switch {
	case k.Admin || k.Team != "":
		where.add("minute >= toDateTime(?, 'UTC') AND minute < toDateTime(?, 'UTC')", uint32(from), uint32(to))
		if !k.Admin {
			where.add("team = ?", k.Team)
		}
		sql = "SELECT " + statsMerges + " FROM perf_minute WHERE " + where.String()
	default:
		where.add("ts >= toDateTime(?, 'UTC') AND ts < toDateTime(?, 'UTC')", uint32(from), uint32(to))
		scope(&where, k)
		sql = "SELECT " + statsMerges + " FROM (SELECT " + statsStates + " FROM requests FINAL WHERE " + where.String() +
			" GROUP BY provider, model)"
	}
	sql += " GROUP BY provider, model ORDER BY provider, model"
	data, err := s.queryProviderStats(r.Context(), sql, where.args...)
	if err != nil {
		s.dbError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &statsResponse{
		WindowSeconds: minutes * 60,
		FromMs:        from * 1000,
		GeneratedAtMs: now.UnixMilli(),
		Data:          data,
	})
}

func (s *Server) queryProviderStats(ctx context.Context, sql string, args ...any) ([]providerStats, error) {
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []providerStats{}
	for rows.Next() {
		var (
			p                                  providerStats
			latency, ttft                      []float64
			ttftSamples, genTokens, generation uint64
		)
		err := rows.Scan(&p.Provider, &p.Model, &p.Requests, &p.Errors, &p.RateLimited, &latency, &ttft,
			&ttftSamples, &genTokens, &generation, &p.CostNUSD, &p.PromptTokens, &p.CompletionTokens)
		if err != nil {
			return nil, err
		}
		if p.Requests > 0 {
			p.ErrorRate = float64(p.Errors) / float64(p.Requests)
			p.RateLimitRate = float64(p.RateLimited) / float64(p.Requests)
			p.CostNUSDPerRequest = float64(p.CostNUSD) / float64(p.Requests)
		}
		// A state that got no value merges to zeros or NaN depending on
		// the server: the counts say whether there is anything to show.
		if p.Requests > p.Errors {
			p.LatencyMs = quantilesOf(latency)
		}
		if ttftSamples > 0 {
			p.TTFTMs = quantilesOf(ttft)
		}
		if generation > 0 {
			tps := float64(genTokens) * 1000 / float64(generation)
			p.ThroughputTPS = &tps
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func quantilesOf(q []float64) *msQuantiles {
	if len(q) != 3 || math.IsNaN(q[0]) || math.IsNaN(q[1]) || math.IsNaN(q[2]) {
		return nil
	}
	return &msQuantiles{P50: q[0], P90: q[1], P99: q[2]}
}
