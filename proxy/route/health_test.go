package route

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

func twoWay(t *testing.T) (*Router, *clock) {
	return testRouter(t, []config.Model{{Name: "m", Deployments: []config.Deployment{
		dep(t, "a", "1", "1"), dep(t, "b", "2", "2"),
	}}}, provs("a", "b"))
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	r, clk := twoWay(t)
	for i := range 4 {
		serve(r, "a", failure)
		if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "a" {
			t.Fatalf("open after %d failures", i+1)
		}
	}
	serve(r, "a", failure)
	p := plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); !equal(got, []string{"b"}) {
		t.Fatalf("with a open: %v", got)
	}
	if got := skipReasons(p)["a"]; got != "circuit open until 12:00:15" || p.RetryAfter != 15*time.Second {
		t.Fatalf("skip %q, retry after %v", got, p.RetryAfter)
	}

	clk.Advance(15 * time.Second)
	p = plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); !equal(got, []string{"a", "b"}) || p.Candidates[0].Why != whyProbe {
		t.Fatalf("half-open: %+v", p.Candidates)
	}
	probe := r.Begin("a", "a-m")
	p = plan(t, r, &Request{Model: "m"})
	if got := skipReasons(p)["a"]; got != skipProbeInFlight {
		t.Fatalf("while probing: %v", p.Skipped)
	}
	probe.End(ok(time.Second))
	p = plan(t, r, &Request{Model: "m"})
	if got := providersOf(p); !equal(got, []string{"a", "b"}) || p.Candidates[0].Why != whyConfigOrder {
		t.Fatalf("traffic did not return: %+v", p.Candidates)
	}
}

func TestBreakerProbeFailureDoublesCooldown(t *testing.T) {
	r, clk := twoWay(t)
	for range 5 {
		serve(r, "a", failure)
	}
	cooldowns := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 2 * time.Minute}
	for _, want := range cooldowns {
		clk.Advance(r.breaker.MaxCooldown) // past any cooldown
		serve(r, "a", failure)             // the probe fails
		if p := plan(t, r, &Request{Model: "m"}); p.RetryAfter != want {
			t.Fatalf("cooldown %v, want %v (%v)", p.RetryAfter, want, p.Skipped)
		}
	}
	// A neutral probe frees the slot without closing.
	clk.Advance(2 * time.Minute)
	serve(r, "a", Outcome{})
	if p := plan(t, r, &Request{Model: "m"}); p.Candidates[0].Why != whyProbe {
		t.Fatalf("after a neutral probe: %+v", p)
	}
	// Success closes; tripping again soon keeps doubling (no flapping at
	// 15 s), tripping after a quiet MaxCooldown starts over.
	serve(r, "a", ok(time.Second))
	for range 5 {
		serve(r, "a", failure)
	}
	if p := plan(t, r, &Request{Model: "m"}); p.RetryAfter != 2*time.Minute {
		t.Fatalf("flapping cooldown %v", p.RetryAfter)
	}
	clk.Advance(2 * time.Minute)
	serve(r, "a", ok(time.Second))
	clk.Advance(2*time.Minute + time.Second)
	for range 5 {
		serve(r, "a", failure)
	}
	if p := plan(t, r, &Request{Model: "m"}); p.RetryAfter != 15*time.Second {
		t.Fatalf("cooldown after a quiet spell %v", p.RetryAfter)
	}
}

func TestBreakerErrorRate(t *testing.T) {
	r, clk := twoWay(t)
	// Alternating outcomes never make 5 consecutive failures; the sixth
	// failure among 11 outcomes in 30 s is ≥ 50%.
	for i := range 10 {
		clk.Advance(time.Second)
		if i%2 == 0 {
			serve(r, "a", failure)
		} else {
			serve(r, "a", ok(time.Second))
		}
	}
	if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "a" {
		t.Fatalf("open at 5 of 10: %v", got)
	}
	serve(r, "a", failure)
	if got := providersOf(plan(t, r, &Request{Model: "m"})); !equal(got, []string{"b"}) {
		t.Fatalf("not open at 6 of 11: %v", got)
	}
}

func TestBreakerWindowSlides(t *testing.T) {
	r, clk := twoWay(t)
	// 4 failures, then 40 s later 4 more: never 5 in a row, never 50% of
	// 10 in 30 s.
	for range 2 {
		for range 4 {
			serve(r, "a", failure)
		}
		serve(r, "a", ok(time.Second))
		clk.Advance(40 * time.Second)
	}
	if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "a" {
		t.Fatalf("opened: %v", got)
	}
}

func TestNeutralOutcomesKeepHealth(t *testing.T) {
	r, _ := twoWay(t)
	for range 20 {
		serve(r, "a", Outcome{}) // a client error or cancellation
	}
	if got := providersOf(plan(t, r, &Request{Model: "m"})); got[0] != "a" {
		t.Fatalf("client errors opened the circuit: %v", got)
	}
}

func TestStaleAttemptsDoNotMoveNewState(t *testing.T) {
	r, clk := twoWay(t)
	slow := r.Begin("a", "a-m") // begun before the trip
	for range 5 {
		serve(r, "a", failure)
	}
	clk.Advance(15 * time.Second)
	slow.End(ok(20 * time.Second)) // not a probe: the circuit stays half-open
	p := plan(t, r, &Request{Model: "m"})
	if p.Candidates[0].Why != whyProbe {
		t.Fatalf("stale success closed the circuit: %+v", p.Candidates)
	}
}

func TestRateLimitCooldown(t *testing.T) {
	r, clk := twoWay(t)
	serve(r, "a", Outcome{RateLimited: true, RetryAfter: 7 * time.Second})
	p := plan(t, r, &Request{Model: "m"})
	if got := skipReasons(p)["a"]; got != "cooling down after 429 for 7s" || !equal(providersOf(p), []string{"b"}) {
		t.Fatalf("after 429: %+v", p)
	}
	clk.Advance(6500 * time.Millisecond)
	if got := skipReasons(plan(t, r, &Request{Model: "m"}))["a"]; got != "cooling down after 429 for 1s" {
		t.Fatalf("later: %q", got)
	}
	clk.Advance(500 * time.Millisecond)
	if got := providersOf(plan(t, r, &Request{Model: "m"})); !equal(got, []string{"a", "b"}) {
		t.Fatalf("after the cooldown: %v", got)
	}
	// No Retry-After: 1 s. A long one: capped at 60 s. Neither opens the
	// circuit, however many.
	for range 10 {
		serve(r, "a", Outcome{RateLimited: true, Retriable: true})
	}
	if p := plan(t, r, &Request{Model: "m"}); p.RetryAfter != time.Second {
		t.Fatalf("default cooldown %v", p.RetryAfter)
	}
	serve(r, "a", Outcome{RateLimited: true, RetryAfter: time.Hour})
	if p := plan(t, r, &Request{Model: "m"}); p.RetryAfter != time.Minute {
		t.Fatalf("capped cooldown %v", p.RetryAfter)
	}
	clk.Advance(time.Minute)
	if p := plan(t, r, &Request{Model: "m"}); p.Candidates[0].Provider != "a" || p.Candidates[0].Why != whyConfigOrder {
		t.Fatalf("429s touched health: %+v", p.Candidates)
	}
	// Both cooling: no candidates, the shortest wait.
	serve(r, "a", Outcome{RateLimited: true, RetryAfter: 9 * time.Second})
	serve(r, "b", Outcome{RateLimited: true, RetryAfter: 3 * time.Second})
	if p := plan(t, r, &Request{Model: "m"}); len(p.Candidates) != 0 || p.RetryAfter != 3*time.Second || len(p.Skipped) != 2 {
		t.Fatalf("all cooling: %+v", p)
	}
}

func TestAttemptEdges(t *testing.T) {
	r, _ := twoWay(t)
	ep := r.endpoints[endpointKey{"a", "a-m"}]
	a := r.Begin("a", "a-m")
	if n := ep.inFlight.Load(); n != 1 {
		t.Fatalf("in flight %d", n)
	}
	a.End(failure)
	a.End(failure) // ignored
	if ep.inFlight.Load() != 0 || ep.consecutive != 1 {
		t.Fatal("End counted twice")
	}
	r.Begin("zz", "zz").End(failure) // unknown: nothing to do
	var nilAttempt *Attempt
	nilAttempt.End(failure)
}

// An endpoint shared by two models shares its health.
func TestSharedEndpoint(t *testing.T) {
	r, _ := testRouter(t, []config.Model{
		{Name: "m", Deployments: []config.Deployment{dep(t, "a", "1", "1"), dep(t, "b", "1", "1")}},
		{Name: "alias", Deployments: []config.Deployment{dep(t, "a", "1", "1"), dep(t, "b", "1", "1")}},
	}, provs("a", "b"))
	for range 5 {
		serve(r, "a", failure)
	}
	if got := providersOf(plan(t, r, &Request{Model: "alias"})); !equal(got, []string{"b"}) {
		t.Fatalf("alias: %v", got)
	}
}
