package route

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

// TestConcurrentUse runs everything at once under -race.
func TestConcurrentUse(t *testing.T) {
	clk := newClock()
	r := New(threeWay(t, config.StrategyLatency), provs("a", "b", "c"), Options{Now: clk.Now})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 2000 {
				req := &Request{Model: "m", Models: []string{"m:floor"}, Stream: i%2 == 0}
				switch i % 4 {
				case 1:
					req.Sort = "weighted"
				case 2:
					req.Sort = "least_busy"
				}
				plans, err := r.Plan(req)
				if err != nil {
					t.Error(err)
					return
				}
				for _, p := range plans {
					if len(p.Candidates) == 0 {
						continue
					}
					c := p.Candidates[0]
					a := r.Begin(c.Provider, c.Model)
					switch rng.IntN(10) {
					case 0:
						a.End(Outcome{Retriable: true})
					case 1:
						a.End(Outcome{RateLimited: true, RetryAfter: time.Millisecond})
					default:
						a.End(Outcome{Success: true, Stream: true, Latency: time.Duration(rng.IntN(1000)+1) * time.Millisecond,
							TTFT: time.Millisecond, CompletionTokens: 10})
					}
				}
				switch {
				case g == 0 && i%50 == 0:
					clk.Advance(time.Second)
				case g == 1 && i%100 == 0:
					r.UpdateRemote([]RemoteStat{{Provider: "a", Model: "a-m", Requests: 10, LatencyP50Ms: ms(100)}}, clk.Now())
				case g == 2 && i%10 == 0:
					r.Endpoints("m")
					r.Default("m")
				}
			}
		}()
	}
	wg.Wait()
	for _, ep := range r.all {
		if n := ep.inFlight.Load(); n != 0 {
			t.Fatalf("%s: %d in flight after all ended", ep.provider, n)
		}
	}
}

func benchRouter(b *testing.B, strategy string) *Router {
	r := New(threeWay(b, strategy), provs("a", "b", "c"), Options{})
	for i, p := range []string{"a", "b", "c"} {
		for range 10 {
			r.Begin(p, p+"-m").End(Outcome{Success: true, Latency: time.Duration(100*(i+1)) * time.Millisecond})
		}
	}
	return r
}

func benchPlan(b *testing.B, strategy string) {
	r := benchRouter(b, strategy)
	req := &Request{Model: "m", Endpoint: EndpointChat, NeedsTools: true}
	b.ReportAllocs()
	for b.Loop() {
		plans, err := r.Plan(req)
		if err != nil || len(plans[0].Candidates) != 3 {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlanOrdered(b *testing.B)  { benchPlan(b, config.StrategyOrdered) }
func BenchmarkPlanWeighted(b *testing.B) { benchPlan(b, config.StrategyWeighted) }
func BenchmarkPlanPrice(b *testing.B)    { benchPlan(b, config.StrategyPrice) }
func BenchmarkPlanLatency(b *testing.B)  { benchPlan(b, config.StrategyLatency) }

func BenchmarkPlanFiltered(b *testing.B) {
	r := benchRouter(b, config.StrategyOrdered)
	req := &Request{Model: "m", Ignore: []string{"b"}, ZDR: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Plan(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBeginEnd(b *testing.B) {
	r := benchRouter(b, config.StrategyOrdered)
	o := Outcome{Success: true, Stream: true, Latency: time.Second, TTFT: 200 * time.Millisecond, CompletionTokens: 100}
	b.ReportAllocs()
	for b.Loop() {
		r.Begin("a", "a-m").End(o)
	}
}

func BenchmarkPlanParallel(b *testing.B) {
	r := benchRouter(b, config.StrategyLatency)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := &Request{Model: "m"}
		for pb.Next() {
			plans, _ := r.Plan(req)
			c := plans[0].Candidates[0]
			r.Begin(c.Provider, c.Model).End(Outcome{Success: true, Latency: time.Second})
		}
	})
}
