package main

import (
	"context"
	"net"
	"net/http"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// A realistic small chat request: a system prompt and one user turn.
const chatBody = `{"model":"bench-model","messages":[` +
	`{"role":"system","content":"You are a concise assistant for an online bookshop. Answer in one short paragraph and never invent prices."},` +
	`{"role":"user","content":"Do you have a second-hand copy of The Left Hand of Darkness, and how long does delivery to Lyon take?"}]}`

// target is one of the three ways to reach the simulated provider.
type target struct {
	name      string // "direct", "floor" or "switchyard"
	url       string // the chat completions URL
	streamURL string // the same for the long-completion (streaming) provider
	proc      *child // the proxy process in the path; nil for direct
	// pipeline are the processes that handle the target's records (broker,
	// ClickHouse, ingester): Switchyard's logging, on the same cores.
	pipeline []*child
	client   *http.Client
}

func newTarget(name, url, streamURL string, proc *child) *target {
	// One client per target, shared by every attack on it, so that the
	// connections warmed up stay in use. No proxy from the environment: the
	// load stays on loopback.
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        10000,
		MaxIdleConnsPerHost: 10000,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &target{name: name, url: url, streamURL: streamURL, proc: proc, client: &http.Client{Transport: transport, Timeout: 10 * time.Second}}
}

func requestHeader() http.Header {
	return http.Header{
		"Authorization": {"Bearer " + benchKey},
		"Content-Type":  {"application/json"},
	}
}

// tally accumulates the results of one target's attacks at one rate.
type tally struct {
	latencies []time.Duration // every answered request's latency
	sent      int             // requests issued
	ok        int             // 2xx answers
	elapsed   time.Duration   // wall time of the attacks, tails included
	cpu       time.Duration   // CPU time the target's proxy process used
	pipeCPU   time.Duration   // CPU time its logging pipeline used
	codes     map[uint16]int  // answers by status; 0 is "no answer"
	errors    map[string]int  // client-side errors by message
	noReqID   int             // 2xx answers without X-Request-Id (switchyard only)
	memory    memory          // the proxy's memory at the end of its last attack
}

func newTally() *tally {
	return &tally{codes: map[uint16]int{}, errors: map[string]int{}}
}

func (t *tally) add(r *vegeta.Result, wantRequestID bool) {
	t.sent++
	t.codes[r.Code]++
	if r.Code != 0 {
		t.latencies = append(t.latencies, r.Latency)
	}
	if r.Code >= 200 && r.Code < 300 {
		t.ok++
		if wantRequestID && r.Headers.Get("X-Request-Id") == "" {
			t.noReqID++
		}
	} else if r.Error != "" && len(t.errors) < 10 {
		t.errors[r.Error]++
	}
}

// achievedRate is successful answers per second of attack.
func (t *tally) achievedRate() float64 {
	if t.elapsed <= 0 {
		return 0
	}
	return float64(t.ok) / t.elapsed.Seconds()
}

func (t *tally) successRatio() float64 {
	if t.sent == 0 {
		return 0
	}
	return float64(t.ok) / float64(t.sent)
}

// cpuPerRequest is the proxy's CPU time per answered request.
func (t *tally) cpuPerRequest() time.Duration {
	if t.ok == 0 {
		return 0
	}
	return t.cpu / time.Duration(t.ok)
}

// pipelineCPUPerRequest is the logging pipeline's CPU time per answered
// request.
func (t *tally) pipelineCPUPerRequest() time.Duration {
	if t.ok == 0 {
		return 0
	}
	return t.pipeCPU / time.Duration(t.ok)
}

// quantile returns the q-quantile (nearest rank) of the latencies.
func (t *tally) quantile(q float64) time.Duration {
	if len(t.latencies) == 0 {
		return 0
	}
	if !slices.IsSorted(t.latencies) {
		slices.Sort(t.latencies)
	}
	i := int(q*float64(len(t.latencies))+0.5) - 1
	return t.latencies[max(0, min(i, len(t.latencies)-1))]
}

// attack sends chat requests to tgt with pacer for dur and adds the results
// to into (nil: discard them, as for a warm-up). A zero pacer with workers > 0
// is a closed loop of that many workers. It returns how many requests it sent
// and how many of them got an HTTP answer.
func attack(ctx context.Context, tgt *target, pacer vegeta.Pacer, dur time.Duration, workers uint64, into *tally) (sent, answered int64) {
	opts := []func(*vegeta.Attacker){
		vegeta.Client(tgt.client),
		// Read nothing into memory: the body is drained and discarded.
		vegeta.MaxBody(0),
	}
	if workers > 0 {
		opts = append(opts, vegeta.Workers(workers), vegeta.MaxWorkers(workers))
	}
	a := vegeta.NewAttacker(opts...)
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: tgt.url, Body: []byte(chatBody), Header: requestHeader()})

	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			a.Stop()
		case <-stopped:
		}
	}()

	var cpuBefore, pipeBefore time.Duration
	if into != nil && tgt.proc != nil {
		cpuBefore, _ = cpuTime(tgt.proc.pid())
		pipeBefore = pipelineCPU(tgt.pipeline)
	}
	began := time.Now()
	for r := range a.Attack(targeter, pacer, dur, tgt.name) {
		sent++
		if r.Code != 0 {
			answered++
		}
		if into != nil {
			into.add(r, tgt.name == "switchyard")
		}
	}
	if into != nil {
		into.elapsed += time.Since(began)
		if tgt.proc != nil {
			// Let work the requests left behind (for Switchyard: encoding
			// and publishing their records) land in this target's account.
			time.Sleep(settle)
			if cpuAfter, err := cpuTime(tgt.proc.pid()); err == nil {
				into.cpu += cpuAfter - cpuBefore
			}
			into.pipeCPU += pipelineCPU(tgt.pipeline) - pipeBefore
			if m, err := readMemory(tgt.proc.pid()); err == nil {
				into.memory = m
			}
		}
	}
	return sent, answered
}

// settle is the pause after each attack on a proxy, before its CPU time is
// read and the next target's attack begins.
const settle = 250 * time.Millisecond

// pipelineCPU sums the CPU time of the processes (and their children) that
// carry records.
func pipelineCPU(procs []*child) time.Duration {
	var total time.Duration
	for _, c := range procs {
		total += treeCPU(c.pid())
	}
	return total
}
