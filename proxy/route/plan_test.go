package route

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

func TestOrdered(t *testing.T) {
	r, _ := testRouter(t, threeWay(t, config.StrategyOrdered), provs("a", "b", "c"))
	p := plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); !equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("order %v", got)
	}
	if p.Model != "m" || p.Strategy != config.StrategyOrdered || !strings.Contains(p.Reason, "configured order") {
		t.Fatalf("plan %+v", p)
	}
	for i, c := range p.Candidates {
		if c.Score != float64(i+1) || c.Why != whyConfigOrder || c.Model != c.Provider+"-m" {
			t.Fatalf("candidate %d: %+v", i, c)
		}
	}
	if p.Candidates[1].Pricing.Input.NanoUSD != 2e9 {
		t.Fatalf("pricing %+v", p.Candidates[1].Pricing)
	}
}

func TestProviderOrderAndFallbacks(t *testing.T) {
	r, _ := testRouter(t, threeWay(t, config.StrategyOrdered), provs("a", "b", "c"))
	no := false
	for _, tc := range []struct {
		name  string
		req   Request
		want  []string
		skips map[string]string
	}{
		{"order first", Request{Order: []string{"c", "B"}}, []string{"c", "b", "a"}, nil},
		{"unknown provider in order", Request{Order: []string{"zz", "b"}}, []string{"b", "a", "c"}, nil},
		{"order without fallbacks", Request{Order: []string{"c", "b"}, AllowFallbacks: &no},
			[]string{"c", "b"}, map[string]string{"a": skipNotOrdered}},
		{"no fallbacks", Request{AllowFallbacks: &no}, []string{"a"},
			map[string]string{"b": skipNoFallbacks, "c": skipNoFallbacks}},
		{"only", Request{Only: []string{"c", "a"}}, []string{"a", "c"}, map[string]string{"b": skipNotOnly}},
		{"ignore", Request{Ignore: []string{"A"}}, []string{"b", "c"}, map[string]string{"a": skipIgnored}},
		{"only and order", Request{Only: []string{"b", "c"}, Order: []string{"c"}}, []string{"c", "b"}, map[string]string{"a": skipNotOnly}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Model = "m"
			p := plan(t, r, &req)
			if got := providersOf(p); !equal(got, tc.want) {
				t.Fatalf("order %v, want %v", got, tc.want)
			}
			if got := skipReasons(p); len(got) != len(tc.skips) {
				t.Fatalf("skips %v, want %v", got, tc.skips)
			} else {
				for k, v := range tc.skips {
					if got[k] != v {
						t.Fatalf("skip %s: %q, want %q", k, got[k], v)
					}
				}
			}
		})
	}
	p := plan(t, r, &Request{Model: "m", Order: []string{"b"}})
	if p.Candidates[0].Why != whyProviderOrder || p.Candidates[0].Score != 1 || !strings.Contains(p.Reason, "provider.order first") {
		t.Fatalf("plan %+v", p)
	}
}

func TestWeightedSplit(t *testing.T) {
	models := []config.Model{{Name: "m", Strategy: config.StrategyWeighted, Deployments: []config.Deployment{
		dep(t, "a", "1", "1"), dep(t, "b", "1", "1"),
	}}}
	models[0].Deployments[0].Weight = 3
	r, _ := testRouter(t, models, provs("a", "b"))
	const n = 10000
	first := 0
	for range n {
		p := plan(t, r, &Request{Model: "m"})
		if len(p.Candidates) != 2 {
			t.Fatalf("candidates %v", providersOf(p))
		}
		if p.Candidates[0].Provider == "a" {
			first++
		}
	}
	if share := float64(first) / n; math.Abs(share-0.75) > 0.03 {
		t.Fatalf("a first in %.3f of plans, want 0.75 ± 0.03", share)
	}
	p := plan(t, r, &Request{Model: "m"})
	for _, c := range p.Candidates {
		want := map[string]float64{"a": 0.75, "b": 0.25}[c.Provider]
		if c.Score != want || c.Why != whyWeighted {
			t.Fatalf("candidate %+v", c)
		}
	}
}

func TestWeightedWithoutReplacement(t *testing.T) {
	models := []config.Model{{Name: "m", Strategy: config.StrategyWeighted, Deployments: []config.Deployment{
		dep(t, "a", "1", "1"), dep(t, "b", "1", "1"), dep(t, "c", "1", "1"),
	}}}
	models[0].Deployments[0].Weight = 2
	r, _ := testRouter(t, models, provs("a", "b", "c"))
	const n = 10000
	firsts := map[string]int{}
	secondAfterA := map[string]int{}
	for range n {
		p := plan(t, r, &Request{Model: "m"})
		got := providersOf(p)
		if len(got) != 3 || got[0] == got[1] || got[1] == got[2] || got[0] == got[2] {
			t.Fatalf("order %v", got)
		}
		firsts[got[0]]++
		if got[0] == "a" {
			secondAfterA[got[1]]++
		}
	}
	for p, want := range map[string]float64{"a": 0.5, "b": 0.25, "c": 0.25} {
		if share := float64(firsts[p]) / n; math.Abs(share-want) > 0.03 {
			t.Fatalf("%s first in %.3f, want %.2f", p, share, want)
		}
	}
	if share := float64(secondAfterA["b"]) / float64(firsts["a"]); math.Abs(share-0.5) > 0.04 {
		t.Fatalf("b second after a in %.3f, want 0.5", share)
	}
}

func TestPriceSplit(t *testing.T) {
	r, _ := testRouter(t, threeWay(t, config.StrategyPrice), provs("a", "b", "c"))
	// Prices 2, 4 and 8 (input + output): 1/price² gives 16:4:1.
	const n = 10000
	firsts := map[string]int{}
	for range n {
		p := plan(t, r, &Request{Model: "m"})
		got := providersOf(p)
		firsts[got[0]]++
		// The rest follow by price.
		rest := got[1:]
		for i := 1; i < len(rest); i++ {
			if rest[i] < rest[i-1] {
				t.Fatalf("fallbacks not by price: %v", got)
			}
		}
		if p.Candidates[0].Why != whyPriceDrawn || p.Candidates[1].Why != whyPriceFallback {
			t.Fatalf("why %+v", p.Candidates)
		}
	}
	for prov, want := range map[string]float64{"a": 16.0 / 21, "b": 4.0 / 21, "c": 1.0 / 21} {
		if share := float64(firsts[prov]) / n; math.Abs(share-want) > 0.03 {
			t.Fatalf("%s first in %.3f, want %.3f", prov, share, want)
		}
	}
	p := plan(t, r, &Request{Model: "m"})
	if p.Candidates[0].Score != map[string]float64{"a": 2, "b": 4, "c": 8}[p.Candidates[0].Provider] {
		t.Fatalf("score %+v", p.Candidates[0])
	}
}

func TestPriceSortAskedIsStrict(t *testing.T) {
	r, _ := testRouter(t, threeWay(t, config.StrategyOrdered), provs("a", "b", "c"))
	for _, req := range []Request{{Model: "m", Sort: "price"}, {Model: "m:floor"}} {
		for range 100 {
			p := plan(t, r, &req)
			if got := providersOf(p); !equal(got, []string{"a", "b", "c"}) || p.Candidates[0].Why != whyPriceCheapest {
				t.Fatalf("%+v: %v", req, got)
			}
			if p.Model != "m" || p.Strategy != config.StrategyPrice {
				t.Fatalf("plan %+v", p)
			}
		}
	}
	if p := plan(t, r, &Request{Model: "m:floor"}); !strings.Contains(p.Reason, "model suffix") {
		t.Fatalf("reason %q", p.Reason)
	}
}

func TestPriceOutageGoesLast(t *testing.T) {
	r, clk := testRouter(t, threeWay(t, config.StrategyPrice), provs("a", "b", "c"))
	// Three failures of four in the window: an outage, not yet a trip.
	serve(r, "a", ok(time.Second))
	for range 3 {
		serve(r, "a", failure)
	}
	for range 200 {
		p := plan(t, r, &Request{Model: "m"})
		last := p.Candidates[len(p.Candidates)-1]
		if last.Provider != "a" || last.Why != whyPriceOutage {
			t.Fatalf("a not last: %+v", p.Candidates)
		}
	}
	if eps, _ := r.Endpoints("m"); eps[0].Status != StatusDegraded {
		t.Fatalf("status %q", eps[0].Status)
	}
	clk.Advance(31 * time.Second)
	firsts := 0
	for range 200 {
		if plan(t, r, &Request{Model: "m"}).Candidates[0].Provider == "a" {
			firsts++
		}
	}
	if firsts < 100 {
		t.Fatalf("a first in %d of 200 plans after the outage", firsts)
	}
}

func TestFreeEndpointsWinPriceDraw(t *testing.T) {
	models := []config.Model{{Name: "m", Strategy: config.StrategyPrice, Deployments: []config.Deployment{
		dep(t, "a", "1", "1"), dep(t, "b", "0", "0"),
	}}}
	r, _ := testRouter(t, models, provs("a", "b"))
	for range 100 {
		if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "b" {
			t.Fatalf("order %v", got)
		}
	}
}

func TestLatencyShift(t *testing.T) {
	r, clk := testRouter(t, []config.Model{{Name: "m", Strategy: config.StrategyLatency, Deployments: []config.Deployment{
		dep(t, "a", "1", "1"), dep(t, "b", "1", "1"),
	}}}, provs("a", "b"))
	// No figures: both are measured first, in config order.
	p := plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); !equal(got, []string{"a", "b"}) || p.Candidates[0].Why != whyNoData {
		t.Fatalf("without figures: %v %+v", got, p.Candidates)
	}
	// A minute of traffic: a at 100 ms, b at 200 ms, 10 requests/s each.
	tick := 100 * time.Millisecond
	for range 600 {
		clk.Advance(tick)
		serve(r, "a", ok(100*time.Millisecond))
		serve(r, "b", ok(200*time.Millisecond))
	}
	p = plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); got[0] != "a" || math.Abs(p.Candidates[0].Score-100) > 1 || p.Candidates[0].Why != whyLatency {
		t.Fatalf("before the slowdown: %+v", p.Candidates)
	}
	// a slows to 2 s.
	var moved time.Duration
	for i := 1; i <= 100; i++ {
		clk.Advance(tick)
		serve(r, "a", ok(2*time.Second))
		serve(r, "b", ok(200*time.Millisecond))
		if plan(t, r, &Request{Model: "m"}).Candidates[0].Provider == "b" {
			moved = time.Duration(i) * tick
			break
		}
	}
	if moved == 0 || moved > 5*time.Second {
		t.Fatalf("traffic moved to b after %v, want within 5s", moved)
	}
	t.Logf("latency strategy moved to b %v after a slowed down", moved)
	// a recovers: once it is measured again it wins back.
	for range 100 {
		clk.Advance(tick)
		serve(r, "a", ok(100*time.Millisecond))
		serve(r, "b", ok(200*time.Millisecond))
	}
	if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "a" {
		t.Fatalf("after recovery: %v", got)
	}
}

func TestLatencyStreamsUseTTFT(t *testing.T) {
	r, clk := testRouter(t, []config.Model{{Name: "m", Strategy: config.StrategyLatency, Deployments: []config.Deployment{
		dep(t, "a", "1", "1"), dep(t, "b", "1", "1"),
	}}}, provs("a", "b"))
	// a answers sooner in all, b starts streaming sooner.
	for range 20 {
		clk.Advance(100 * time.Millisecond)
		serve(r, "a", Outcome{Success: true, Stream: true, Latency: time.Second, TTFT: 800 * time.Millisecond, CompletionTokens: 100})
		serve(r, "b", Outcome{Success: true, Stream: true, Latency: 2 * time.Second, TTFT: 200 * time.Millisecond, CompletionTokens: 100})
	}
	if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "a" {
		t.Fatalf("non-stream: %v", got)
	}
	p := plan(t, r, &Request{Model: "m", Stream: true})
	if got := providersOf(p); got[0] != "b" || p.Candidates[0].Why != whyTTFT || math.Abs(p.Candidates[0].Score-200) > 1 {
		t.Fatalf("stream: %+v", p.Candidates)
	}
	// Throughput: a makes 100 tokens in 0.2 s, b in 1.8 s.
	p = plan(t, r, &Request{Model: "m:nitro"})
	if got := providersOf(p); got[0] != "a" || math.Abs(p.Candidates[0].Score-500) > 1 || p.Strategy != config.StrategyThroughput {
		t.Fatalf("throughput: %+v", p)
	}
}

func TestLeastBusy(t *testing.T) {
	r, _ := testRouter(t, threeWay(t, config.StrategyLeastBusy), provs("a", "b", "c"))
	a1, a2, b1 := r.Begin("a", "a-m"), r.Begin("a", "a-m"), r.Begin("b", "b-m")
	p := plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); !equal(got, []string{"c", "b", "a"}) || p.Candidates[2].Score != 2 {
		t.Fatalf("order %v %+v", got, p.Candidates)
	}
	a1.End(ok(time.Second))
	a2.End(ok(time.Second))
	b1.End(ok(time.Second))
	if got := providersOf(plan(t, r, &Request{Model: "m"})); !equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("idle order %v", got)
	}
}

func TestFilters(t *testing.T) {
	yes, no := true, false
	models := []config.Model{{Name: "m", Deployments: []config.Deployment{
		dep(t, "a", "1", "4"), dep(t, "b", "2.5", "10"), dep(t, "c", "0.5", "1"),
	}}}
	a, b, c := &models[0].Deployments[0].Capabilities, &models[0].Deployments[1].Capabilities, &models[0].Deployments[2].Capabilities
	a.Tools, a.JSON, a.Vision, a.ContextLength, a.MaxOutputTokens = &yes, &yes, &yes, 128000, 16384
	b.Tools, b.ContextLength = &no, 8192
	c.Vision, c.Endpoints = &no, []string{"chat", "embeddings"}
	models[0].Deployments[2].Pricing.Request = usd(t, "0.01")
	ps := provs("a", "b", "c")
	ps[0].DataCollection, ps[0].ZDR = "deny", true
	ps[1].ZDR = true
	r, _ := testRouter(t, models, ps)

	for _, tc := range []struct {
		name  string
		req   Request
		want  []string
		skips map[string]string
	}{
		{"nothing needed", Request{}, []string{"a", "b", "c"}, nil},
		{"tools: explicit false skips", Request{NeedsTools: true}, []string{"a", "c"}, map[string]string{"b": skipNoTools}},
		{"tools with require_parameters: undeclared skips", Request{NeedsTools: true, RequireParameters: true},
			[]string{"a"}, map[string]string{"b": skipNoTools, "c": skipUndeclaredTools}},
		{"vision", Request{NeedsVision: true}, []string{"a", "b"}, map[string]string{"c": skipNoVision}},
		{"json with require_parameters", Request{NeedsJSON: true, RequireParameters: true},
			[]string{"a"}, map[string]string{"b": skipUndeclaredJSON, "c": skipUndeclaredJSON}},
		{"max_tokens with require_parameters", Request{MaxTokens: 20000, RequireParameters: true},
			[]string{"b", "c"}, map[string]string{"a": "max_output_tokens 16384 < max_tokens 20000"}},
		{"context length", Request{PromptTokens: 9000}, []string{"a", "c"}, map[string]string{"b": "context_length 8192 < prompt 9000"}},
		{"embeddings", Request{Endpoint: EndpointEmbeddings}, []string{"a", "b", "c"}, nil},
		{"rerank", Request{Endpoint: EndpointRerank}, []string{"a", "b"}, map[string]string{"c": "does not serve rerank"}},
		{"max_price prompt", Request{MaxPrice: &MaxPrice{Prompt: usd(t, "1")}}, []string{"a", "c"},
			map[string]string{"b": "price 2.5 > max_price.prompt 1"}},
		{"max_price completion", Request{MaxPrice: &MaxPrice{Completion: usd(t, "4")}}, []string{"a", "c"},
			map[string]string{"b": "price 10 > max_price.completion 4"}},
		{"max_price request", Request{MaxPrice: &MaxPrice{Request: usd(t, "0.005")}}, []string{"a", "b"},
			map[string]string{"c": "request price 0.01 > max_price.request 0.005"}},
		{"max_price image is accepted", Request{MaxPrice: &MaxPrice{Image: usd(t, "0")}}, []string{"a", "b", "c"}, nil},
		{"data_collection deny", Request{DataCollection: "deny"}, []string{"a"},
			map[string]string{"b": skipCollectsData, "c": skipCollectsData}},
		{"data_collection allow", Request{DataCollection: "allow"}, []string{"a", "b", "c"}, nil},
		{"zdr", Request{ZDR: true}, []string{"a", "b"}, map[string]string{"c": skipNotZDR}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Model = "m"
			p := plan(t, r, &req)
			if got := providersOf(p); !equal(got, tc.want) {
				t.Fatalf("candidates %v, want %v (skipped %v)", got, tc.want, p.Skipped)
			}
			got := skipReasons(p)
			if len(got) != len(tc.skips) {
				t.Fatalf("skips %v, want %v", got, tc.skips)
			}
			for k, v := range tc.skips {
				if got[k] != v {
					t.Fatalf("skip %s: %q, want %q", k, got[k], v)
				}
			}
		})
	}
	p := plan(t, r, &Request{Model: "m", ZDR: true, DataCollection: "deny", NeedsTools: true, MaxPrice: &MaxPrice{Prompt: usd(t, "0.5")}})
	if len(p.Candidates) != 0 || len(p.Skipped) != 3 || p.RetryAfter != 0 {
		t.Fatalf("nothing should qualify: %+v", p)
	}
	if e := p.Explain(); !strings.Contains(e, "a/a-m (price 1 > max_price.prompt 0.5)") {
		t.Fatalf("explain %q", e)
	}
}

func TestModelsFallback(t *testing.T) {
	models := append(threeWay(t, config.StrategyOrdered), config.Model{Name: "n", Strategy: config.StrategyPrice,
		Deployments: []config.Deployment{dep(t, "b", "1", "1")}})
	r, _ := testRouter(t, models, provs("a", "b", "c"))
	plans, err := r.Plan(&Request{Model: "m", Models: []string{"m", "missing", "n:nitro", "n"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[0].Model != "m" || plans[1].Model != "n" {
		t.Fatalf("plans %+v", plans)
	}
	if plans[1].Strategy != config.StrategyThroughput {
		t.Fatalf("n:nitro planned with %q", plans[1].Strategy)
	}
	plans, err = r.Plan(&Request{Models: []string{"missing", "n"}})
	if err != nil || len(plans) != 1 || plans[0].Model != "n" || plans[0].Strategy != config.StrategyPrice {
		t.Fatalf("plans %+v, %v", plans, err)
	}
	// provider.sort applies to every model.
	plans, _ = r.Plan(&Request{Model: "n", Models: []string{"m"}, Sort: "latency"})
	if len(plans) != 2 || plans[0].Strategy != "latency" || plans[1].Strategy != "latency" {
		t.Fatalf("plans %+v", plans)
	}
	for _, req := range []Request{{Model: "missing"}, {Model: "missing", Models: []string{"gone"}}, {}, {Model: "m:free"}} {
		if _, err := r.Plan(&req); !errors.Is(err, ErrUnknownModel) {
			t.Fatalf("%+v: err %v", req, err)
		}
	}
}

func TestParseSuffix(t *testing.T) {
	for in, want := range map[string][2]string{
		"gpt-4o:floor":       {"gpt-4o", "price"},
		"gpt-4o:nitro":       {"gpt-4o", "throughput"},
		"gpt-4o:free":        {"gpt-4o:free", ""},
		"gpt-4o":             {"gpt-4o", ""},
		":floor":             {":floor", ""},
		"a:b:nitro":          {"a:b", "throughput"},
		"org/model:thinking": {"org/model:thinking", ""},
	} {
		if base, sort := ParseSuffix(in); base != want[0] || sort != want[1] {
			t.Errorf("ParseSuffix(%q) = %q, %q; want %q, %q", in, base, sort, want[0], want[1])
		}
	}
}

func TestDefaultAndListing(t *testing.T) {
	models := threeWay(t, config.StrategyOrdered)
	models[0].Deployments[0], models[0].Deployments[2] = models[0].Deployments[2], models[0].Deployments[0] // c, b, a
	r, clk := testRouter(t, models, provs("a", "b", "c"))
	if d, ok := r.Default("m"); !ok || d.Provider != "a" || d.Score != 2 || d.Why != whyDefault {
		t.Fatalf("default %+v", d)
	}
	for range 5 {
		serve(r, "a", failure)
	}
	if d, _ := r.Default("m"); d.Provider != "b" {
		t.Fatalf("default with a down: %+v", d)
	}
	serve(r, "b", Outcome{RateLimited: true, RetryAfter: 5 * time.Second})
	if d, _ := r.Default("m"); d.Provider != "c" {
		t.Fatalf("default with b cooling: %+v", d)
	}
	serve(r, "c", Outcome{RateLimited: true})
	if d, _ := r.Default("m"); d.Provider != "a" || d.Why != whyDefaultUnhealthy {
		t.Fatalf("default with none healthy: %+v", d)
	}
	if _, ok := r.Default("missing"); ok {
		t.Fatal("default of a missing model")
	}

	eps, ok := r.Endpoints("m")
	if !ok || len(eps) != 3 {
		t.Fatalf("endpoints %+v", eps)
	}
	if eps[0].Provider != "c" || eps[0].Status != StatusCooling || eps[1].Status != StatusCooling || eps[2].Status != StatusDown {
		t.Fatalf("statuses %+v", eps)
	}
	if eps[2].UptimeLast5m == nil || *eps[2].UptimeLast5m != 0 || eps[2].LatencyP50Ms != nil {
		t.Fatalf("a: %+v", eps[2])
	}
	if eps[0].UptimeLast5m != nil {
		t.Fatalf("429s are not uptime: %+v", eps[0])
	}
	clk.Advance(16 * time.Second)
	a := r.Begin("a", "a-m")
	if eps, _ := r.Endpoints("m"); eps[2].Status != StatusDegraded || eps[2].InFlight != 1 || eps[0].Status != StatusOK {
		t.Fatalf("after cooldowns: %+v", eps)
	}
	a.End(Outcome{Success: true, Stream: true, Latency: 2 * time.Second, TTFT: time.Second, CompletionTokens: 50})
	eps, _ = r.Endpoints("m")
	e := eps[2]
	if e.Status != StatusOK || !near(*e.LatencyP50Ms, 2000) || !near(*e.TTFTP50Ms, 1000) || !near(*e.ThroughputTPS, 50) || !near(*e.UptimeLast5m, 100.0/6) {
		t.Fatalf("a after its probe: %+v (%v %v %v %v)", e, *e.LatencyP50Ms, *e.TTFTP50Ms, *e.ThroughputTPS, *e.UptimeLast5m)
	}
	if _, ok := r.Endpoints("missing"); ok {
		t.Fatal("endpoints of a missing model")
	}
	if got := r.Models(); !equal(got, []string{"m"}) {
		t.Fatalf("models %v", got)
	}
	if m, ok := r.Model("m"); !ok || len(m.Deployments) != 3 {
		t.Fatalf("model %+v", m)
	}
}

func TestBackoff(t *testing.T) {
	r := New(nil, nil, Options{Rand: func() float64 { return 0.999999 }})
	for attempt, want := range map[int]time.Duration{-1: 100 * time.Millisecond, 0: 100 * time.Millisecond,
		1: 200 * time.Millisecond, 3: 800 * time.Millisecond, 4: 1600 * time.Millisecond, 5: 2 * time.Second, 60: 2 * time.Second} {
		if got := r.Backoff(attempt); got > want || got < want*99/100 {
			t.Errorf("Backoff(%d) = %v, want just under %v", attempt, got, want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6*math.Max(1, math.Abs(b)) }

// TestCatalogPrices checks (prices in nano-USD per million tokens) that a deployment's unset prices come from the
// shipped catalog, by its upstream model (dated versions included), while a
// price it sets, even zero, stays its own.
func TestCatalogPrices(t *testing.T) {
	models := []config.Model{
		{Name: "gpt-4o-mini", Deployments: []config.Deployment{
			{Provider: "a"}, // upstream model = the public name
			{Provider: "b", Model: "gpt-4o-mini-2024-07-18", Pricing: config.Pricing{Input: usd(t, "0.1")}},
			{Provider: "c", Model: "gpt-4o-mini", Pricing: config.Pricing{Input: usd(t, "0"), Output: usd(t, "0"), CachedInput: usd(t, "0")}},
		}},
		{Name: "local", Deployments: []config.Deployment{{Provider: "a", Model: "my-finetune"}}},
	}
	r, _ := testRouter(t, models, provs("a", "b", "c"))
	eps, _ := r.Endpoints("gpt-4o-mini")
	if len(eps) != 3 {
		t.Fatalf("endpoints %+v", eps)
	}
	type prices struct{ in, out, cached int64 }
	got := func(p config.Pricing) prices { return prices{p.Input.NanoUSD, p.Output.NanoUSD, p.CachedInput.NanoUSD} }
	for i, want := range []prices{{150e6, 600e6, 75e6}, {100e6, 600e6, 75e6}, {0, 0, 0}} {
		if g := got(eps[i].Pricing); g != want {
			t.Errorf("%s: prices %+v, want %+v", eps[i].Provider, g, want)
		}
	}
	if eps[0].Model != "gpt-4o-mini" {
		t.Errorf("a's upstream model %q", eps[0].Model)
	}
	if eps, _ := r.Endpoints("local"); got(eps[0].Pricing) != (prices{}) {
		t.Errorf("a model the catalog does not know has prices %+v", got(eps[0].Pricing))
	}
}
