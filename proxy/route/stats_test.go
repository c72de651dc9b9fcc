package route

import (
	"math"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

func ms(v float64) *float64 { return &v }

func latencyRouter(t *testing.T) (*Router, *clock) {
	return testRouter(t, []config.Model{{Name: "m", Strategy: config.StrategyLatency, Deployments: []config.Deployment{
		dep(t, "a", "1", "1"), dep(t, "b", "1", "1"),
	}}}, provs("a", "b"))
}

func TestRemoteStatsRouteAndExpire(t *testing.T) {
	r, clk := latencyRouter(t)
	r.UpdateRemote([]RemoteStat{
		{Provider: "a", Model: "a-m", Requests: 500, LatencyP50Ms: ms(300)},
		{Provider: "b", Model: "b-m", Requests: 500, LatencyP50Ms: ms(100), TTFTP50Ms: ms(50), ThroughputTPS: ms(80)},
		{Provider: "zz", Model: "zz", Requests: 5, LatencyP50Ms: ms(1)}, // unknown: ignored
	}, clk.Now())
	p := plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); !equal(got, []string{"b", "a"}) || math.Abs(p.Candidates[0].Score-100) > 1e-9 {
		t.Fatalf("remote figures: %+v", p.Candidates)
	}
	eps, _ := r.Endpoints("m")
	if *eps[1].LatencyP50Ms != 100 || *eps[1].TTFTP50Ms != 50 || *eps[1].ThroughputTPS != 80 || *eps[1].UptimeLast5m != 100 {
		t.Fatalf("b: %+v", eps[1])
	}
	// Half-way through StatsTTL the remote figure still rules alone.
	clk.Advance(15 * time.Second)
	if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "b" {
		t.Fatalf("at 15s: %v", got)
	}
	// Past it, nothing is known.
	clk.Advance(15 * time.Second)
	p = plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); !equal(got, []string{"a", "b"}) || p.Candidates[0].Why != whyNoData {
		t.Fatalf("expired: %+v", p.Candidates)
	}
	if eps, _ := r.Endpoints("m"); eps[1].LatencyP50Ms != nil || eps[1].UptimeLast5m != nil {
		t.Fatalf("expired figures listed: %+v", eps[1])
	}
	// A snapshot older than StatsTTL is ignored from the start.
	r.UpdateRemote([]RemoteStat{{Provider: "b", Model: "b-m", Requests: 5, LatencyP50Ms: ms(1)}}, clk.Now().Add(-time.Minute))
	if p := plan(t, r, &Request{Model: "m"}); p.Candidates[0].Why != whyNoData {
		t.Fatalf("stale snapshot used: %+v", p.Candidates)
	}
}

func TestRemoteAndLocalBlend(t *testing.T) {
	r, clk := latencyRouter(t)
	r.UpdateRemote([]RemoteStat{
		{Provider: "a", Model: "a-m", Requests: 1000, LatencyP50Ms: ms(100)},
		{Provider: "b", Model: "b-m", Requests: 1000, LatencyP50Ms: ms(200)},
	}, clk.Now())
	figure := func() float64 {
		v, _ := r.blended(r.endpoints[endpointKey{"a", "a-m"}], figLatency, clk.Now().UnixNano())
		return v
	}
	// One local observation is worth 1 against the cluster's 20.
	serve(r, "a", ok(time.Second))
	if got, want := figure(), math.Exp((math.Log(1000)+20*math.Log(100))/21); math.Abs(got-want) > 1e-6 {
		t.Fatalf("blend %v, want %v", got, want)
	}
	if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "a" {
		t.Fatalf("one slow sample moved traffic: %v", got)
	}
	// Local observations newer than the snapshot soon outweigh it: a few
	// seconds of a slowing down locally move traffic although the cluster's
	// five-minute view still says a is fast.
	for range 20 {
		clk.Advance(100 * time.Millisecond)
		serve(r, "a", ok(time.Second))
	}
	if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "b" {
		t.Fatalf("local slowdown ignored: %v (a at %.0f ms)", got, figure())
	}
	// A later snapshot without a: a has only local figures.
	r.UpdateRemote([]RemoteStat{{Provider: "b", Model: "b-m", Requests: 1000, LatencyP50Ms: ms(200)}}, clk.Now())
	if got := figure(); math.Abs(got-1000) > 1e-6 {
		t.Fatalf("a without remote: %v", got)
	}
	// Local figures expire after five minutes; remote ones after StatsTTL.
	clk.Advance(5*time.Minute + time.Second)
	if _, ok := r.blended(r.endpoints[endpointKey{"a", "a-m"}], figLatency, clk.Now().UnixNano()); ok {
		t.Fatal("local figures did not expire")
	}
}

func TestRemoteOutage(t *testing.T) {
	r, clk := testRouter(t, threeWay(t, config.StrategyPrice), provs("a", "b", "c"))
	r.UpdateRemote([]RemoteStat{
		{Provider: "a", Model: "a-m", Requests: 100, ErrorRate: 0.7, RateLimitRate: 0.1},
		{Provider: "b", Model: "b-m", Requests: 100, ErrorRate: 0.6, RateLimitRate: 0.5}, // mostly 429s: no outage
		{Provider: "c", Model: "c-m", Requests: 10, ErrorRate: 1},                        // too few requests
	}, clk.Now())
	for range 100 {
		p := plan(t, r, &Request{Model: "m"})
		if last := p.Candidates[2]; last.Provider != "a" || last.Why != whyPriceOutage {
			t.Fatalf("a not last: %+v", p.Candidates)
		}
	}
	eps, _ := r.Endpoints("m")
	if eps[0].Status != StatusDegraded || eps[1].Status != StatusOK || math.Abs(*eps[0].UptimeLast5m-40) > 1e-9 {
		t.Fatalf("endpoints %+v", eps)
	}
	clk.Advance(31 * time.Second)
	if eps, _ := r.Endpoints("m"); eps[0].Status != StatusOK {
		t.Fatalf("expired outage: %+v", eps[0])
	}
}

func TestUptimeBlendsCounts(t *testing.T) {
	r, clk := latencyRouter(t)
	for range 9 {
		serve(r, "a", ok(time.Second))
	}
	serve(r, "a", failure)
	r.UpdateRemote([]RemoteStat{{Provider: "a", Model: "a-m", Requests: 90, ErrorRate: 0.5}}, clk.Now())
	eps, _ := r.Endpoints("m")
	// (9 + 45) / (10 + 90)
	if got := *eps[0].UptimeLast5m; math.Abs(got-54) > 1e-9 {
		t.Fatalf("uptime %v", got)
	}
	clk.Advance(5*time.Minute + 5*time.Second)
	if eps, _ := r.Endpoints("m"); eps[0].UptimeLast5m != nil {
		t.Fatalf("uptime after five minutes: %v", *eps[0].UptimeLast5m)
	}
}
