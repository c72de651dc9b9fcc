package query

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/record"
)

// statsRecord is a request for the provider stats tests.
func statsRecord(ms int64, n int, team, key, provider, model string) *record.Record {
	r := sample(ms, n)
	r.Team, r.KeyID, r.Provider, r.Model = team, key, provider, model
	return r
}

// expectedStats computes what the endpoint should say about recs, except
// the quantiles, and how many TTFTs it should have.
func expectedStats(recs []*record.Record) (p providerStats, ttfts int) {
	var genTokens, genMs int64
	for _, r := range recs {
		if r.Outcome == record.OutcomeOK && r.Stream && r.TTFTMs > 0 {
			ttfts++
		}
		p.Requests++
		if r.Outcome != record.OutcomeOK {
			p.Errors++
		}
		if r.StatusCode == 429 || r.Outcome == record.OutcomeRateLimited {
			p.RateLimited++
		}
		if r.Outcome == record.OutcomeOK && r.Stream && r.TTFTMs > 0 && r.LatencyMs > r.TTFTMs {
			genTokens += r.Usage.CompletionTokens
			genMs += r.LatencyMs - r.TTFTMs
		}
		p.CostNUSD += r.CostNUSD
		p.PromptTokens += uint64(r.Usage.PromptTokens)
		p.CompletionTokens += uint64(r.Usage.CompletionTokens)
	}
	p.ErrorRate = float64(p.Errors) / float64(p.Requests)
	p.RateLimitRate = float64(p.RateLimited) / float64(p.Requests)
	p.CostNUSDPerRequest = float64(p.CostNUSD) / float64(p.Requests)
	if genMs > 0 {
		tps := float64(genTokens) * 1000 / float64(genMs)
		p.ThroughputTPS = &tps
	}
	return p, ttfts
}

func TestProviderStats(t *testing.T) {
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	a := startTwinAPI(t, conn)
	now := time.Now()
	// Within the last three minutes, so that a minute turning over while
	// the test runs keeps them inside a 5-minute window.
	at := func(i int) int64 { return now.Add(-3*time.Minute).UnixMilli() + int64(i)*1700 }

	var (
		openai, azure, anthropic, mine []*record.Record
		n                              int
	)
	for i := 0; i < 60; i++ { // team a, openai: streams and not, some errors and 429s
		r := statsRecord(at(i), n, "a", "k1", "openai", "gpt-4o")
		n++
		r.LatencyMs, r.TTFTMs = int64(200+i*37%900), int64(50+i*13%200)
		r.Usage.CompletionTokens = int64(20 + i%40)
		switch {
		case i%10 == 3:
			r.Outcome, r.StatusCode, r.ErrorType = record.OutcomeRateLimited, 429, "rate_limited"
		case i%10 == 7:
			r.Outcome, r.StatusCode, r.ErrorType = record.OutcomeError, 502, "upstream_error"
		}
		openai = append(openai, r)
	}
	for i := 0; i < 25; i++ { // team b, azure: never streamed
		r := statsRecord(at(i), n, "b", "kb", "azure", "gpt-4o")
		n++
		r.Stream, r.LatencyMs = false, int64(400+i*11)
		azure = append(azure, r)
	}
	for i := 0; i < 4; i++ { // team b, anthropic: every one failed
		r := statsRecord(at(i), n, "b", "kb", "anthropic", "claude")
		n++
		r.Outcome, r.StatusCode, r.ErrorType = record.OutcomeTimeout, 504, "timeout"
		anthropic = append(anthropic, r)
	}
	for i := 0; i < 9; i++ { // no team, key k3 (loneKey)
		r := statsRecord(at(i), n, "", "k3", "openai", "gpt-4o")
		n++
		r.LatencyMs, r.TTFTMs = int64(100+i*50), int64(30+i)
		mine = append(mine, r)
	}
	old := statsRecord(now.Add(-20*time.Minute).UnixMilli(), n, "a", "k1", "openai", "gpt-4o") // outside 5m
	var all []*record.Record
	all = append(append(append(append(all, openai...), azure...), anthropic...), mine...)
	a.insert(t, append(all, old)...)

	// quantiles computed by the server in one pass over the raw rows: the
	// merged per-minute states must give the same (exact below 8192
	// values per group).
	quantiles := func(column, where string, args ...any) *msQuantiles {
		t.Helper()
		var q []float64
		sql := fmt.Sprintf("SELECT arrayMap(x -> toFloat64(x), quantiles(0.5, 0.9, 0.99)(%s)) FROM requests WHERE started_at_ms > ? AND %s", column, where)
		if err := conn.QueryRow(context.Background(), sql, append([]any{uint64(now.Add(-10 * time.Minute).UnixMilli())}, args...)...).Scan(&q); err != nil {
			t.Fatal(err)
		}
		return &msQuantiles{P50: q[0], P90: q[1], P99: q[2]}
	}
	want := func(recs []*record.Record, where string, args ...any) providerStats {
		p, ttfts := expectedStats(recs)
		p.Provider, p.Model = recs[0].Provider, recs[0].Model
		if p.Requests > p.Errors {
			p.LatencyMs = quantiles("latency_ms", where+" AND outcome = 'ok'", args...)
		}
		if ttfts > 0 {
			p.TTFTMs = quantiles("ttft_ms", where+" AND outcome = 'ok' AND stream = 1 AND ttft_ms > 0", args...)
		}
		return p
	}
	openaiAll := want(append(append([]*record.Record{}, openai...), mine...), "provider = 'openai'")
	azureB := want(azure, "provider = 'azure'")
	anthropicB := want(anthropic, "provider = 'anthropic'")
	mineOnly := want(mine, "key_id = 'k3'")
	if azureB.TTFTMs != nil || azureB.ThroughputTPS != nil || anthropicB.LatencyMs != nil || openaiAll.TTFTMs == nil {
		t.Fatalf("the data does not cover what it should: %+v %+v %+v", azureB, anthropicB, openaiAll)
	}

	check := func(key, query string, wantWindow int64, want ...providerStats) {
		t.Helper()
		var got statsResponse
		if status := a.get(t, key, query, &got); status != 200 {
			t.Fatalf("%s: status %d", query, status)
		}
		if got.WindowSeconds != wantWindow || got.FromMs != (now.Unix()/60*60-wantWindow+60)*1000 && got.FromMs != (now.Unix()/60*60-wantWindow+120)*1000 {
			t.Errorf("%s: window %d s from %d, want %d s", query, got.WindowSeconds, got.FromMs, wantWindow)
		}
		if d := time.Since(time.UnixMilli(got.GeneratedAtMs)); d < 0 || d > time.Minute {
			t.Errorf("generated_at_ms is %v ago", d)
		}
		if len(got.Data) != len(want) {
			t.Fatalf("%s: %d rows, want %d: %+v", query, len(got.Data), len(want), got.Data)
		}
		for i := range want {
			if !sameStats(got.Data[i], want[i]) {
				t.Errorf("%s: row %d\n got %s\nwant %s", query, i, statsString(got.Data[i]), statsString(want[i]))
			}
		}
	}
	check(adminKey, "/v1/stats/providers", 300, anthropicB, azureB, openaiAll)
	check(adminKey, "/v1/stats/providers?window=5m", 300, anthropicB, azureB, openaiAll)
	check(teamKey, "/v1/stats/providers?window=90s&unknown=1", 120)
	check(teamKey, "/v1/stats/providers?window=5m0s", 300, anthropicB, azureB)
	check(loneKey, "/v1/stats/providers?window=1h", 3600, mineOnly)

	// The old request is in a long enough window.
	var long statsResponse
	if status := a.get(t, adminKey, "/v1/stats/providers?window=24h", &long); status != 200 {
		t.Fatalf("status %d", status)
	}
	if got := long.Data[len(long.Data)-1]; got.Provider != "openai" || got.Requests != openaiAll.Requests+1 {
		t.Errorf("24h: openai has %d requests, want %d", got.Requests, openaiAll.Requests+1)
	}

	for _, bad := range []string{"0", "30s", "25h", "5", "fortnight", "-5m"} {
		if status := a.get(t, adminKey, "/v1/stats/providers?window="+bad, nil); status != 400 {
			t.Errorf("window=%s: status %d, want 400", bad, status)
		}
	}
	if status := a.get(t, "", "/v1/stats/providers", nil); status != 401 {
		t.Errorf("no key: status %d", status)
	}
}

func sameStats(got, want providerStats) bool {
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	sameQ := func(a, b *msQuantiles) bool {
		return (a == nil) == (b == nil) && (a == nil || close(a.P50, b.P50) && close(a.P90, b.P90) && close(a.P99, b.P99))
	}
	sameF := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || close(*a, *b)) }
	return got.Provider == want.Provider && got.Model == want.Model &&
		got.Requests == want.Requests && got.Errors == want.Errors && got.RateLimited == want.RateLimited &&
		close(got.ErrorRate, want.ErrorRate) && close(got.RateLimitRate, want.RateLimitRate) &&
		sameQ(got.LatencyMs, want.LatencyMs) && sameQ(got.TTFTMs, want.TTFTMs) && sameF(got.ThroughputTPS, want.ThroughputTPS) &&
		close(got.CostNUSDPerRequest, want.CostNUSDPerRequest) && got.CostNUSD == want.CostNUSD &&
		got.PromptTokens == want.PromptTokens && got.CompletionTokens == want.CompletionTokens
}

func statsString(p providerStats) string {
	s := fmt.Sprintf("%+v", p)
	if p.LatencyMs != nil {
		s += fmt.Sprintf(" latency %+v", *p.LatencyMs)
	}
	if p.TTFTMs != nil {
		s += fmt.Sprintf(" ttft %+v", *p.TTFTMs)
	}
	if p.ThroughputTPS != nil {
		s += fmt.Sprintf(" tps %v", *p.ThroughputTPS)
	}
	return s
}
