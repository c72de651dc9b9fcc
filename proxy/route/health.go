package route

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome is how one upstream attempt ended.
type Outcome struct {
	Success bool
	// Retriable marks a failure that counts against the endpoint's health
	// (connection error, timeout, 5xx). A failure that is not retriable
	// (a client error, a cancellation) is neutral.
	Retriable bool
	// RateLimited is a 429: the endpoint cools down for RetryAfter and its
	// health is untouched.
	RateLimited bool
	RetryAfter  time.Duration
	// Latency is the attempt's whole duration and TTFT its time to first
	// token (streams); both of successful attempts feed the statistics.
	Latency, TTFT    time.Duration
	CompletionTokens int64
	Stream           bool
}

// Attempt is one upstream attempt in flight, from Begin to End.
type Attempt struct {
	ep    *endpoint
	r     *Router
	gen   uint64 // the breaker's generation at Begin
	probe bool
	ended atomic.Bool
}

// Begin marks an attempt at provider+model as in flight. On a half-open
// circuit the first Begin takes the probe slot. An endpoint the router does
// not know gets an Attempt whose End does nothing.
func (r *Router) Begin(provider, model string) *Attempt {
	ep := r.endpoints[endpointKey{provider, model}]
	a := &Attempt{r: r, ep: ep}
	if ep == nil {
		return a
	}
	ep.inFlight.Add(1)
	if ep.open.Load() {
		now := r.now().UnixNano()
		ep.mu.Lock()
		if ep.isOpen && now >= ep.openUntilNs && !ep.isProbing {
			ep.isProbing = true
			ep.probing.Store(true)
			a.probe = true
		}
		a.gen = ep.gen
		ep.mu.Unlock()
		return a
	}
	a.gen = ep.genPub.Load()
	return a
}

// End reports the attempt's outcome. Only the first call counts.
func (a *Attempt) End(o Outcome) {
	if a == nil || a.ep == nil || !a.ended.CompareAndSwap(false, true) {
		return
	}
	ep, r := a.ep, a.r
	ep.inFlight.Add(-1)
	now := r.now().UnixNano()
	healthFailure := !o.Success && o.Retriable && !o.RateLimited

	ep.mu.Lock()
	ep.count(now, o, healthFailure)
	if o.Success {
		ep.observe(now, o, r.halfLife)
	}
	if o.RateLimited {
		wait := o.RetryAfter
		if wait <= 0 {
			wait = r.breaker.DefaultRetryAfter
		}
		wait = min(wait, r.breaker.MaxRetryAfter)
		if until := now + int64(wait); until > ep.coolUntil.Load() {
			ep.coolUntil.Store(until)
		}
	}
	ep.breakerOutcome(r, a, now, o.Success, healthFailure)
	ep.mu.Unlock()
}

// ringSlots divide the breaker's window.
const ringSlots = 6

// bucketNs and buckets are the outcome counts kept for five minutes.
const (
	bucketNs = int64(5 * time.Second)
	buckets  = 60
	// localExpiry drops in-process figures not refreshed for this long.
	localExpiry = int64(5 * time.Minute)
	// outageMinFailures is the fewest failures in the breaker's window that
	// make a significant outage.
	outageMinFailures = 3
)

// counts are outcome counts of one slot or bucket.
type counts struct {
	epoch                  int64
	ok, failed, limited, n int32 // n counts every outcome, neutral ones too
}

// endpoint is one provider+model's health and statistics. Fields read by
// Plan are atomics; the rest is guarded by mu, and End publishes.
type endpoint struct {
	provider, model string
	index           int

	inFlight atomic.Int64

	// Published for lock-free reads.
	open        atomic.Bool  // the circuit is open or half-open
	openUntil   atomic.Int64 // ns; the end of the open state's cooldown
	probing     atomic.Bool  // a half-open probe is in flight
	coolUntil   atomic.Int64 // ns; the end of a 429 cooldown
	outageUntil atomic.Int64 // ns; a significant outage is recent until then
	genPub      atomic.Uint64
	latency     decayed // ln ms of successful attempts
	ttft        decayed // ln ms of successful streams' first token
	tps         decayed // tokens/s of successful streams' generation
	remote      atomic.Pointer[remoteFigures]

	mu          sync.Mutex
	isOpen      bool
	openUntilNs int64
	isProbing   bool
	gen         uint64
	consecutive int
	trips       int
	closedAt    int64
	ring        [ringSlots]counts
	window      [buckets]counts
	// Decayed sums behind the published figures.
	latSum, latW, latAt    float64
	ttftSum, ttftW, ttftAt float64
	tokSum, genSum, tpsW   float64
	tpsAt                  float64
}

// available reports whether Plan would consider the endpoint healthy now:
// its circuit is not open (half-open counts) and it is not cooling down.
func (ep *endpoint) available(now int64) bool {
	if ep.open.Load() && now < ep.openUntil.Load() {
		return false
	}
	return now >= ep.coolUntil.Load()
}

// outage reports a significant recent outage.
func (ep *endpoint) outage(now int64, r *Router) bool {
	if now < ep.outageUntil.Load() {
		return true
	}
	rm := ep.remote.Load()
	return rm != nil && rm.outage && r.remoteWeight(rm, now) > 0
}

// count adds an outcome to the five-minute buckets. mu is held.
func (ep *endpoint) count(now int64, o Outcome, healthFailure bool) {
	epoch := now / bucketNs
	b := &ep.window[int(uint64(epoch)%buckets)]
	if b.epoch != epoch {
		*b = counts{epoch: epoch}
	}
	b.n++
	switch {
	case o.Success:
		b.ok++
	case o.RateLimited:
		b.limited++
	case healthFailure:
		b.failed++
	}
}

// lastFiveMinutes sums the buckets of the last five minutes.
func (ep *endpoint) lastFiveMinutes(now int64) (ok, failed int64) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	epoch := now / bucketNs
	for i := range ep.window {
		b := &ep.window[i]
		if b.epoch > epoch-buckets && b.epoch <= epoch {
			ok += int64(b.ok)
			failed += int64(b.failed)
		}
	}
	return ok, failed
}

// breakerOutcome moves the circuit breaker. mu is held.
func (ep *endpoint) breakerOutcome(r *Router, a *Attempt, now int64, success, healthFailure bool) {
	cfg := &r.breaker
	if a.probe {
		ep.isProbing = false
		ep.probing.Store(false)
	}
	if a.gen != ep.gen {
		// Begun before the last trip: it says nothing of the new state.
		return
	}
	if ep.isOpen {
		switch {
		case !a.probe:
		case success:
			ep.close(now)
		case healthFailure:
			ep.trip(r, now)
		}
		return
	}
	if !success && !healthFailure {
		return
	}
	slot := now / r.ringSlot
	s := &ep.ring[int(uint64(slot)%ringSlots)]
	if s.epoch != slot {
		*s = counts{epoch: slot}
	}
	if success {
		s.ok++
		ep.consecutive = 0
		return
	}
	s.failed++
	ep.consecutive++
	var okN, failedN int
	for i := range ep.ring {
		if c := &ep.ring[i]; c.epoch > slot-ringSlots && c.epoch <= slot {
			okN += int(c.ok)
			failedN += int(c.failed)
		}
	}
	total := okN + failedN
	if ep.consecutive >= cfg.ConsecutiveFailures ||
		total >= cfg.MinRequests && float64(failedN) >= cfg.ErrorRate*float64(total) {
		ep.trip(r, now)
		return
	}
	if failedN >= outageMinFailures && float64(failedN) >= cfg.ErrorRate/2*float64(total) {
		ep.outageUntil.Store(now + int64(cfg.Window))
	}
}

// trip opens the circuit. mu is held.
func (ep *endpoint) trip(r *Router, now int64) {
	cfg := &r.breaker
	if !ep.isOpen && now-ep.closedAt > int64(cfg.MaxCooldown) {
		ep.trips = 0
	}
	ep.trips++
	cooldown := cfg.Cooldown
	for i := 1; i < ep.trips && cooldown < cfg.MaxCooldown; i++ {
		cooldown *= 2
	}
	cooldown = min(cooldown, cfg.MaxCooldown)
	ep.isOpen = true
	ep.openUntilNs = now + int64(cooldown)
	ep.gen++
	ep.consecutive = 0
	ep.ring = [ringSlots]counts{}
	ep.openUntil.Store(ep.openUntilNs)
	ep.genPub.Store(ep.gen)
	ep.outageUntil.Store(now + int64(cfg.Window))
	ep.open.Store(true)
}

// close closes the circuit after a successful probe. mu is held.
func (ep *endpoint) close(now int64) {
	ep.isOpen = false
	ep.closedAt = now
	ep.consecutive = 0
	ep.ring = [ringSlots]counts{}
	ep.outageUntil.Store(0)
	ep.open.Store(false)
}

// observe folds a successful attempt into the decayed figures and
// publishes them. mu is held.
func (ep *endpoint) observe(now int64, o Outcome, halfLife int64) {
	t := float64(now)
	if o.Latency > 0 {
		decay(&ep.latSum, &ep.latW, &ep.latAt, t, halfLife)
		ep.latSum += lnMs(o.Latency)
		ep.latW++
		ep.latency.publish(ep.latSum/ep.latW, ep.latW, now)
	}
	if !o.Stream || o.TTFT <= 0 {
		return
	}
	decay(&ep.ttftSum, &ep.ttftW, &ep.ttftAt, t, halfLife)
	ep.ttftSum += lnMs(o.TTFT)
	ep.ttftW++
	ep.ttft.publish(ep.ttftSum/ep.ttftW, ep.ttftW, now)
	if gen := o.Latency - o.TTFT; gen > 0 && o.CompletionTokens > 0 {
		f := decayFactor(t-ep.tpsAt, halfLife)
		if ep.tpsAt == 0 {
			f = 0
		}
		ep.tokSum = ep.tokSum*f + float64(o.CompletionTokens)
		ep.genSum = ep.genSum*f + gen.Seconds()
		ep.tpsW = ep.tpsW*f + 1
		ep.tpsAt = t
		ep.tps.publish(ep.tokSum/ep.genSum, ep.tpsW, now)
	}
}

func decay(sum, weight, at *float64, now float64, halfLife int64) {
	f := decayFactor(now-*at, halfLife)
	if *at == 0 {
		f = 0
	}
	*sum *= f
	*weight *= f
	*at = now
}

func decayFactor(elapsedNs float64, halfLife int64) float64 {
	if elapsedNs <= 0 {
		return 1
	}
	return math.Exp2(-elapsedNs / float64(halfLife))
}

func lnMs(d time.Duration) float64 {
	return math.Log(max(float64(d)/1e6, 0.001))
}

// decayed is a published, time-decayed figure: its value, its weight (the
// decayed number of observations) when last updated, and when that was.
// Readers may see the three from different updates; routing tolerates that.
type decayed struct {
	value, weight atomic.Uint64 // float64 bits
	at            atomic.Int64  // ns; 0 = never
}

func (d *decayed) publish(value, weight float64, at int64) {
	d.value.Store(math.Float64bits(value))
	d.weight.Store(math.Float64bits(weight))
	d.at.Store(at)
}

// load returns the value and its weight decayed to now; ok is false when
// there is none or it expired.
func (d *decayed) load(now, halfLife int64) (value, weight float64, ok bool) {
	at := d.at.Load()
	if at == 0 || now-at > localExpiry {
		return 0, 0, false
	}
	value = math.Float64frombits(d.value.Load())
	weight = math.Float64frombits(d.weight.Load()) * decayFactor(float64(now-at), halfLife)
	return value, weight, true
}
