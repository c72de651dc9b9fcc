package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/switchyard/switchyard/config"
)

// freshResult is what the freshness phase measured.
type freshResult struct {
	sent, ok    int             // requests sent to the proxy, answered 2xx
	sampled     int             // answered requests chosen to be looked up
	fresh       []time.Duration // response read → first 200 from the query API, per sample
	atCommit    []time.Duration // response read → the commit of the batch that made it queryable
	late        int             // samples not queryable within -fresh-timeout
	lookErrors  int             // samples given up on an unexpected answer
	lastLookErr string
	lookups     int             // GET /v1/requests/{id} sent
	lookLatency []time.Duration // how long each took to answer
	lookSpan    time.Duration   // first look-up → last answer
	batches     int64           // batches the stack's ingester stored during the phase
	commits     int             // changes of its committed offsets seen
	watchErrors int             // failed reads of its committed offsets
	watchErr    string
	queryCPU    time.Duration // the query API's CPU during the phase
	clickhouse  time.Duration // ClickHouse's
	ingesterCPU time.Duration // the stack's ingester's
	otherCores  float64
}

// freshFallback is the longest a sampled request waits between look-ups
// when no committed batch is seen (the offsets cannot be read).
const freshFallback = 2 * time.Second

// batchWatch follows the offsets the stack's ingester commits to Kafka: it
// commits after each batch it stores, and a request can become queryable
// only then, so look-ups wait for the next commit rather than load
// ClickHouse with 404s. Reading committed offsets (OffsetFetch) costs the
// broker a few microseconds; the ingester itself is not asked.
type batchWatch struct {
	mu        sync.Mutex
	committed int64     // sum of the group's committed offsets, -1 before the first read
	commits   int       // changes seen
	at        time.Time // when the last change was seen
	changed   chan struct{}
	errors    int
	lastErr   error
}

func newBatchWatch() *batchWatch { return &batchWatch{committed: -1, changed: make(chan struct{})} }

// state returns how many commits were seen, when the last one was, and a
// channel closed at the next.
func (w *batchWatch) state() (commits int, at time.Time, next <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.commits, w.at, w.changed
}

// run reads the group's committed offsets every interval until ctx ends.
func (w *batchWatch) run(ctx context.Context, broker string, interval time.Duration) {
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 5 * time.Second}
	topic, group := config.DefaultTopic, config.DefaultConsumerGroup
	var req *kafka.OffsetFetchRequest
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var sum int64
		var err error
		if req == nil {
			var md *kafka.MetadataResponse
			if md, err = client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}}); err == nil {
				err = fmt.Errorf("topic %s not found", topic)
				for _, mt := range md.Topics {
					if mt.Name == topic && mt.Error == nil && len(mt.Partitions) > 0 {
						req = &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: nil}}
						for _, p := range mt.Partitions {
							req.Topics[topic] = append(req.Topics[topic], p.ID)
						}
						err = nil
					}
				}
			}
		}
		if req != nil {
			var resp *kafka.OffsetFetchResponse
			if resp, err = client.OffsetFetch(ctx, req); err == nil {
				err = resp.Error
				for _, p := range resp.Topics[topic] {
					sum += max(p.CommittedOffset, 0)
				}
			}
		}
		w.mu.Lock()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				w.errors++
				w.lastErr = err
			}
		case sum != w.committed:
			if w.committed >= 0 { // not the first reading
				w.commits++
				w.at = time.Now()
				close(w.changed)
				w.changed = make(chan struct{})
			}
			w.committed = sum
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// measureFreshness sends chat requests through the proxy at o.freshRate for
// o.freshDuration and, for every o.freshEvery-th answered one, looks it up
// with GET /v1/requests/{id} on the query API until it answers 200: after
// each batch the stack's ingester stores and commits (its committed offsets
// read every o.freshPoll), or with -fresh-naive every o.freshPoll. Freshness is the
// arrival of that 200 minus the instant the client had read the whole
// response.
func measureFreshness(ctx context.Context, o options, s *stack, t *target, count *requestCount) *freshResult {
	res := &freshResult{}
	queryURL := fmt.Sprintf("http://127.0.0.1:%d/v1/requests/", s.ports.Query)
	client := &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        o.freshPollers,
			MaxIdleConnsPerHost: o.freshPollers,
			IdleConnTimeout:     90 * time.Second,
		},
		Timeout: 10 * time.Second,
	}
	defer client.CloseIdleConnections()

	noise := sampleNoise()
	queryBefore, chBefore, ingBefore := statOr0(s.query.pid()), clickHouseCPU(s.dev), statOr0(s.ingester.pid())
	ingestMetrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", s.ports.Ingest)
	batchesBefore := scrapeOr0(ingestMetrics, "switchyard_ingest_batches_total")
	broker := fmt.Sprintf("127.0.0.1:%d", s.ports.Kafka)

	watch := newBatchWatch()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		watch.run(watchCtx, broker, o.freshPoll)
	}()

	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		firstLook time.Time
		lastLook  time.Time
		slots     = make(chan struct{}, o.freshPollers)
	)
	// lookup sends one GET; code is 0 when no answer came.
	lookup := func(id string) (code int, status string, sent, arrived time.Time) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return 0, ctx.Err().Error(), time.Now(), time.Now()
		}
		defer func() { <-slots }()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, queryURL+id, nil)
		if err != nil {
			return 0, err.Error(), time.Now(), time.Now()
		}
		req.Header.Set("Authorization", "Bearer "+benchKey)
		sent = time.Now()
		resp, err := client.Do(req)
		arrived = time.Now()
		if err != nil {
			return 0, err.Error(), sent, arrived
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Status, sent, arrived
	}
	// follow looks id up until it answers 200, a look-up fails, or
	// o.freshTimeout has passed since the response was read.
	follow := func(id string, answered time.Time) {
		defer wg.Done()
		giveUp := time.NewTimer(time.Until(answered.Add(o.freshTimeout)))
		defer giveUp.Stop()
		start, _, next := watch.state()
		for first := true; ; first = false {
			// Wait for a reason to look: a batch committed since the last
			// look-up (or, naive, the poll interval).
			wait, fallback := next, time.After(freshFallback)
			if o.freshNaive {
				wait, fallback = nil, time.After(o.freshPoll)
				if first {
					fallback = time.After(0)
				}
			}
			select {
			case <-wait:
			case <-fallback:
			case <-giveUp.C:
				mu.Lock()
				res.late++
				mu.Unlock()
				return
			case <-ctx.Done():
				return
			}
			// A batch committed while this look-up runs triggers the next.
			var before int
			var committedAt time.Time
			before, committedAt, next = watch.state()
			code, status, sent, arrived := lookup(id)
			if code == http.StatusOK {
				// Which commit made it queryable: the last one seen before
				// the look-up, unless another was seen during it or just
				// after (a batch is queryable a moment before its commit
				// is seen). Then say nothing more precise than the 200.
				atCommit := arrived.Sub(answered)
				time.Sleep(3 * o.freshPoll)
				if after, _, _ := watch.state(); after == before && before > start {
					atCommit = committedAt.Sub(answered)
				}
				mu.Lock()
				res.atCommit = append(res.atCommit, atCommit)
				mu.Unlock()
			}
			mu.Lock()
			res.lookups++
			res.lookLatency = append(res.lookLatency, arrived.Sub(sent))
			if firstLook.IsZero() || sent.Before(firstLook) {
				firstLook = sent
			}
			if arrived.After(lastLook) {
				lastLook = arrived
			}
			switch {
			case code == http.StatusOK:
				res.fresh = append(res.fresh, arrived.Sub(answered))
			case code != http.StatusNotFound && ctx.Err() == nil:
				res.lookErrors++
				res.lastLookErr = status
			}
			mu.Unlock()
			if code != http.StatusNotFound {
				return
			}
		}
	}

	a := vegeta.NewAttacker(vegeta.Client(t.client), vegeta.MaxBody(0))
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: t.url, Body: []byte(chatBody), Header: requestHeader()})
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			a.Stop()
		case <-stopped:
		}
	}()
	var answered int64
	for r := range a.Attack(targeter, vegeta.ConstantPacer{Freq: o.freshRate, Per: time.Second}, o.freshDuration, "freshness") {
		res.sent++
		if r.Code != 0 {
			answered++
		}
		if r.Code < 200 || r.Code >= 300 {
			continue
		}
		res.ok++
		id := r.Headers.Get("X-Request-Id")
		if id == "" || r.Seq%uint64(o.freshEvery) != 0 {
			continue
		}
		// The response body was read to its end at Timestamp + Latency:
		// vegeta's latency runs until the body is drained.
		res.sampled++
		wg.Add(1)
		go follow(id, r.Timestamp.Add(r.Latency))
	}
	close(stopped)
	count.add(int64(res.sent), answered)
	wg.Wait()
	stopWatch()
	<-watchDone

	if !firstLook.IsZero() {
		res.lookSpan = lastLook.Sub(firstLook)
	}
	res.batches = scrapeOr0(ingestMetrics, "switchyard_ingest_batches_total") - batchesBefore
	res.watchErrors, res.commits = watch.errors, watch.commits
	if watch.lastErr != nil {
		res.watchErr = watch.lastErr.Error()
	}
	res.queryCPU = statOr0(s.query.pid()) - queryBefore
	res.clickhouse = clickHouseCPU(s.dev) - chBefore
	res.ingesterCPU = statOr0(s.ingester.pid()) - ingBefore
	res.otherCores = noise.otherCores()
	return res
}

// scrapeOr0 reads one metric, 0 if it cannot.
func scrapeOr0(url, name string) int64 {
	m, err := scrapeMetrics(url)
	if err != nil {
		return 0
	}
	return int64(m[name])
}

// quantile is the q-quantile (nearest rank) of d over every sample, those
// never queryable (late) counting as later than any other; ok is false when
// it falls on one of those.
func quantileLate(d []time.Duration, late int, q float64) (time.Duration, bool) {
	n := len(d) + late
	if n == 0 {
		return 0, false
	}
	i := max(0, min(int(q*float64(n)+0.5)-1, n-1))
	if i >= len(d) {
		return 0, false
	}
	if !slices.IsSorted(d) {
		slices.Sort(d)
	}
	return d[i], true
}
