package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

// TestTrafficFollowsLatency runs real requests through the proxy to two
// simulated providers under the latency strategy: traffic goes to the fast
// one, moves when it slows down, and the shift takes seconds, not minutes.
func TestTrafficFollowsLatency(t *testing.T) {
	providers, sim := mockProviders(t,
		config.MockProvider{Name: "a", Latency: 5 * time.Millisecond},
		config.MockProvider{Name: "b", Latency: 60 * time.Millisecond},
	)
	m := modelOn("m", providers...)
	m.Strategy = config.StrategyLatency
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{m}})
	served := func(n int) map[string]int {
		counts := map[string]int{}
		for i := 0; i < n; i++ {
			resp := p.post(t, "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
			readBody(t, resp)
			counts[resp.Header.Get("X-Switchyard-Provider")]++
			p.sink.next(t)
		}
		return counts
	}
	served(4) // both measured
	if got := served(20); got["a"] < 18 {
		t.Fatalf("a is fast, but it served %v", got)
	}
	// a slows down: within seconds of traffic, b takes over.
	sim.SetProvider(config.MockProvider{Name: "a", Latency: 250 * time.Millisecond, CompletionTokens: 12})
	start := time.Now()
	var shiftedAfter time.Duration
	for i := 0; i < 200 && shiftedAfter == 0; i++ {
		got := served(5)
		if got["b"] == 5 {
			shiftedAfter = time.Since(start)
		}
	}
	if shiftedAfter == 0 || shiftedAfter > 15*time.Second {
		t.Fatalf("traffic did not move to b within 15 s (after %v)", shiftedAfter)
	}
	t.Logf("traffic moved to b %v after a slowed down", shiftedAfter.Round(time.Millisecond))
	if got := served(20); got["b"] < 18 {
		t.Fatalf("after the shift b should serve, got %v", got)
	}
}

func TestModelsFallbackAndMaxPrice(t *testing.T) {
	providers, _ := mockProviders(t,
		config.MockProvider{Name: "down", ErrorRate: 1},
		config.MockProvider{Name: "up"},
	)
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{
		modelOn("first", providers[0]),
		modelOn("second", providers[1]),
	}})
	// Every deployment of the first model fails: the second model serves.
	resp := p.post(t, "/v1/chat/completions", `{"model":"first","models":["first","second"],"messages":[{"role":"user","content":"hi"}]}`)
	readBody(t, resp)
	rec := p.sink.next(t)
	if resp.StatusCode != 200 || rec.Provider != "up" || !strings.Contains(rec.Routing.Reason, "fell back to model second") {
		t.Fatalf("status %d provider %q reason %q", resp.StatusCode, rec.Provider, rec.Routing.Reason)
	}
	// max_price below every deployment's price: nothing qualifies, 503 with why.
	resp = p.post(t, "/v1/chat/completions", `{"model":"second","provider":{"max_price":{"prompt":1}},"messages":[{"role":"user","content":"hi"}]}`)
	e := decodeError(t, resp)
	if resp.StatusCode != 503 || e.Error.Metadata.ErrorType != "no_provider" || !strings.Contains(e.Error.Message, "max_price") {
		t.Fatalf("status %d: %+v", resp.StatusCode, e.Error)
	}
	p.sink.next(t)
	// A wrong type in the preferences is the client's mistake.
	resp = p.post(t, "/v1/chat/completions", `{"model":"second","provider":{"only":"up"},"messages":[{"role":"user","content":"hi"}]}`)
	e = decodeError(t, resp)
	if resp.StatusCode != 400 || e.Error.Param == nil || !strings.HasPrefix(*e.Error.Param, "provider") {
		t.Fatalf("status %d: %+v", resp.StatusCode, e.Error)
	}
	p.sink.next(t)
}
