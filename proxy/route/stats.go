package route

import (
	"math"
	"time"
)

// RemoteStat is one provider+model's cluster-wide figures over the query
// API's window (GET /v1/stats/providers). Nil figures had no data.
type RemoteStat struct {
	Provider, Model string
	Requests        int64
	// ErrorRate is every non-ok outcome's share, 429s included;
	// RateLimitRate is the 429s' share.
	ErrorRate, RateLimitRate float64
	LatencyP50Ms             *float64
	TTFTP50Ms                *float64
	ThroughputTPS            *float64
}

// remotePrior is the most observations a remote figure is worth.
const remotePrior = 20

// remoteOutageMinRequests and remoteOutageRate make a significant outage
// from cluster figures: that share of failures (429s aside) among at least
// that many requests.
const (
	remoteOutageMinRequests = 20
	remoteOutageRate        = 0.5
)

// remoteFigures is an endpoint's share of one remote snapshot, immutable.
type remoteFigures struct {
	at       int64 // ns, local clock
	requests int64
	// weight is the prior's full weight: min(requests, remotePrior).
	weight float64
	// latencyLn and ttftLn are ln ms, latencyMs and ttftMs the same
	// unchanged; they and tps are NaN when absent.
	latencyLn, ttftLn, tps float64
	latencyMs, ttftMs      float64
	// success is the share of requests that did not fail (429s aside).
	success float64
	outage  bool
}

// UpdateRemote replaces the cluster-wide figures with a snapshot taken at
// at (on the router's clock). Endpoints absent from stats had no traffic in
// the snapshot's window and lose their remote figures; providers and models
// the router does not know are ignored.
func (r *Router) UpdateRemote(stats []RemoteStat, at time.Time) {
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	atNs := at.UnixNano()
	seen := make([]bool, len(r.all))
	for i := range stats {
		s := &stats[i]
		ep := r.endpoints[endpointKey{s.Provider, s.Model}]
		if ep == nil || s.Requests <= 0 {
			continue
		}
		failed := clamp01(s.ErrorRate - s.RateLimitRate)
		f := &remoteFigures{
			at:        atNs,
			requests:  s.Requests,
			weight:    float64(min(s.Requests, remotePrior)),
			latencyLn: lnOf(s.LatencyP50Ms),
			ttftLn:    lnOf(s.TTFTP50Ms),
			latencyMs: math.NaN(),
			ttftMs:    math.NaN(),
			tps:       math.NaN(),
			success:   1 - failed,
			outage:    s.Requests >= remoteOutageMinRequests && failed >= remoteOutageRate,
		}
		if !math.IsNaN(f.latencyLn) {
			f.latencyMs = *s.LatencyP50Ms
		}
		if !math.IsNaN(f.ttftLn) {
			f.ttftMs = *s.TTFTP50Ms
		}
		if s.ThroughputTPS != nil && *s.ThroughputTPS > 0 && !math.IsInf(*s.ThroughputTPS, 0) {
			f.tps = *s.ThroughputTPS
		}
		ep.remote.Store(f)
		seen[ep.index] = true
	}
	for i, ep := range r.all {
		if !seen[i] {
			ep.remote.Store(nil)
		}
	}
}

func lnOf(ms *float64) float64 {
	if ms == nil || !(*ms >= 0) || math.IsInf(*ms, 0) {
		return math.NaN()
	}
	return math.Log(max(*ms, 0.001))
}

func clamp01(v float64) float64 {
	switch {
	case !(v > 0):
		return 0
	case v > 1:
		return 1
	}
	return v
}

// remoteWeight is a snapshot's weight now: full when fresh, fading to zero
// at StatsTTL.
func (r *Router) remoteWeight(f *remoteFigures, now int64) float64 {
	if f == nil {
		return 0
	}
	age := max(now-f.at, 0)
	if age >= r.statsTTL {
		return 0
	}
	return f.weight * (1 - float64(age)/float64(r.statsTTL))
}

// figure selects one blended figure.
type figure uint8

const (
	figLatency figure = iota
	figTTFT
	figThroughput
)

// blended returns an endpoint's figure now, local and remote blended; ok
// is false when neither has it. Latencies are in ms, throughput in tokens/s.
func (r *Router) blended(ep *endpoint, fig figure, now int64) (float64, bool) {
	var (
		local         *decayed
		remote, plain float64 // plain is remote not in log space
		logs          = fig != figThroughput
	)
	rm := ep.remote.Load()
	switch fig {
	case figLatency:
		local = &ep.latency
		if rm != nil {
			remote, plain = rm.latencyLn, rm.latencyMs
		}
	case figTTFT:
		local = &ep.ttft
		if rm != nil {
			remote, plain = rm.ttftLn, rm.ttftMs
		}
	default:
		local = &ep.tps
		if rm != nil {
			remote, plain = rm.tps, rm.tps
		}
	}
	lv, lw, lok := local.load(now, r.halfLife)
	var rw float64
	if rm != nil && !math.IsNaN(remote) {
		rw = r.remoteWeight(rm, now)
	}
	var v float64
	switch {
	case !lok && rw == 0:
		return 0, false
	case !lok:
		return plain, true
	case rw == 0 || lw+rw == 0:
		v = lv
	default:
		v = (lw*lv + rw*remote) / (lw + rw)
	}
	if logs {
		v = math.Exp(v)
	}
	return v, true
}

// uptime returns the percentage of outcomes over the last five minutes
// that did not fail (429s and neutral ones aside), local and remote
// counts added.
func (r *Router) uptime(ep *endpoint, now int64) (float64, bool) {
	ok, failed := ep.lastFiveMinutes(now)
	n := float64(ok + failed)
	good := float64(ok)
	if rm := ep.remote.Load(); rm != nil {
		if w := r.remoteWeight(rm, now); w > 0 {
			rn := float64(rm.requests) * w / rm.weight
			n += rn
			good += rn * rm.success
		}
	}
	if n == 0 {
		return 0, false
	}
	return 100 * good / n, true
}
