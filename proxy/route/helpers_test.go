package route

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seeded is a deterministic Rand, safe for concurrent use.
func seeded(seed uint64) func() float64 {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64()
	}
}

func usd(t testing.TB, s string) config.Price {
	t.Helper()
	n, err := config.ParseUSD(s)
	if err != nil {
		t.Fatal(err)
	}
	return config.USD(n)
}

// dep is a deployment of provider p whose upstream model is p+"-m", with
// input and output prices in USD per million tokens.
func dep(t testing.TB, p, in, out string) config.Deployment {
	return config.Deployment{Provider: p, Model: p + "-m", Weight: 1,
		Pricing: config.Pricing{Input: usd(t, in), Output: usd(t, out)}}
}

func provs(names ...string) []config.Provider {
	out := make([]config.Provider, len(names))
	for i, n := range names {
		out[i] = config.Provider{Name: n, Type: config.ProviderOpenAI, DataCollection: "allow"}
	}
	return out
}

// testRouter builds a router with a fake clock and a seeded Rand.
func testRouter(t testing.TB, models []config.Model, providers []config.Provider) (*Router, *clock) {
	t.Helper()
	c := newClock()
	return New(models, providers, Options{Now: c.Now, Rand: seeded(1)}), c
}

// threeWay is model m served by a, b and c at increasing prices.
func threeWay(t testing.TB, strategy string) []config.Model {
	return []config.Model{{Name: "m", Strategy: strategy, Deployments: []config.Deployment{
		dep(t, "a", "1", "1"), dep(t, "b", "2", "2"), dep(t, "c", "4", "4"),
	}}}
}

func plan(t testing.TB, r *Router, req *Request) *Plan {
	t.Helper()
	plans, err := r.Plan(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 {
		t.Fatalf("got %d plans, want 1", len(plans))
	}
	return plans[0]
}

// providersOf lists a plan's candidates' providers.
func providersOf(p *Plan) []string {
	out := make([]string, len(p.Candidates))
	for i, c := range p.Candidates {
		out[i] = c.Provider
	}
	return out
}

func skipReasons(p *Plan) map[string]string {
	out := map[string]string{}
	for _, s := range p.Skipped {
		out[s.Provider] = s.Reason
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// serve reports one attempt at provider p's endpoint.
func serve(r *Router, p string, o Outcome) {
	r.Begin(p, p+"-m").End(o)
}

func ok(latency time.Duration) Outcome { return Outcome{Success: true, Latency: latency} }

var failure = Outcome{Retriable: true}
