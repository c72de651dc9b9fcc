package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// The bars of DESIGN.md §5, as differences from (or ratios to) the floor
// measured in the same run.
const (
	barP50Over       = 60 * time.Microsecond
	barP99Over       = 500 * time.Microsecond
	barCPURatio      = 1.3
	barRSSLoad       = 80 << 20
	barRSSIdle       = 30 << 20
	barTTFTP99Added  = 500 * time.Microsecond
	barPerChunkAdded = 20 * time.Microsecond
	barPeakRatio     = 0.85
	barIngestRate    = 150000 // records/s, Kafka → ClickHouse, bodies included
	barFreshP99      = 2 * time.Second
)

// report prints the figures in fixed-width columns.
type report struct {
	o options
	s *stack
	w io.Writer
}

func newReport(o options, s *stack) *report {
	return &report{o: o, s: s, w: os.Stdout}
}

func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

func (r *report) header() {
	r.printf("\nSwitchyard proxy overhead, on loopback, side by side with a bare httputil.ReverseProxy (the floor)\n")
	r.printf("  direct      the simulated provider (latency 0, 16 completion tokens)\n")
	r.printf("  floor       loadtest/floorproxy in front of it\n")
	r.printf("  switchyard  %s proxy in front of it, full logging (bodies recorded, Kafka, ingest, ClickHouse)\n", r.o.switchyard)
	if r.o.holdIngest {
		r.printf("              with the ingester paused until the peak phase ends (-hold-ingest): records wait in Kafka,\n")
		r.printf("              as if the ingester and ClickHouse ran on other machines\n")
	}
	r.printf("  open loop at a constant rate; %s measured per target per rate in %d interleaved slices after %s of warm-up\n",
		r.o.duration, r.o.slices, r.o.warmup)
}

func us(d time.Duration) string { return fmt.Sprintf("%d", d.Microseconds()) }

func signedUS(d time.Duration) string { return fmt.Sprintf("%+d", d.Microseconds()) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISS"
}

func (r *report) rate(rate int, t map[string]*tally, idle map[string]memory, otherCores float64) {
	r.printf("\n── %d req/s ─────────────────────────────────────────────────────────────────────\n", rate)
	r.printf("  %-12s %9s %9s %9s %10s %9s %12s\n", "target", "p50 µs", "p90 µs", "p99 µs", "ok req/s", "success", "CPU µs/req")
	for _, name := range []string{"direct", "floor", "switchyard"} {
		x := t[name]
		cpu := "–"
		if name != "direct" {
			cpu = fmt.Sprintf("%.1f", float64(x.cpuPerRequest().Nanoseconds())/1e3)
		}
		r.printf("  %-12s %9s %9s %9s %10.1f %8.2f%% %12s\n", name,
			us(x.quantile(0.50)), us(x.quantile(0.90)), us(x.quantile(0.99)), x.achievedRate(), 100*x.successRatio(), cpu)
	}
	d, f, s := t["direct"], t["floor"], t["switchyard"]
	r.printf("\n  %-22s %9s %9s\n", "overhead µs", "p50", "p99")
	r.printf("  %-22s %9s %9s\n", "floor − direct", signedUS(f.quantile(.5)-d.quantile(.5)), signedUS(f.quantile(.99)-d.quantile(.99)))
	r.printf("  %-22s %9s %9s\n", "switchyard − direct", signedUS(s.quantile(.5)-d.quantile(.5)), signedUS(s.quantile(.99)-d.quantile(.99)))
	p50Over, p99Over := s.quantile(.5)-f.quantile(.5), s.quantile(.99)-f.quantile(.99)
	r.printf("  %-22s %9s %9s   bar ≤ +%s / ≤ +%s: %s / %s\n", "switchyard − floor", signedUS(p50Over), signedUS(p99Over),
		us(barP50Over), us(barP99Over), verdict(p50Over <= barP50Over), verdict(p99Over <= barP99Over))
	if f.cpuPerRequest() > 0 {
		ratio := float64(s.cpuPerRequest()) / float64(f.cpuPerRequest())
		r.printf("  %-22s %8.2f×   bar ≤ %.1f×: %s\n", "CPU/req sw ÷ floor", ratio, barCPURatio, verdict(ratio <= barCPURatio))
	}
	r.printf("  %-22s %8.1f µs/req of CPU on the same cores (Kafka broker, ClickHouse, ingester), not counted above\n",
		"logging pipeline", float64(s.pipelineCPUPerRequest().Nanoseconds())/1e3)
	r.printf("  %-22s idle %s, end of rate %s, peak so far %s   bar ≤ %s: %s\n", "RSS switchyard",
		mb(idle["switchyard"].RSS), mb(s.memory.RSS), mb(s.memory.Peak), mb(barRSSLoad), verdict(s.memory.Peak <= barRSSLoad))
	r.printf("  %-22s idle %s, end of rate %s, peak so far %s\n", "RSS floor", mb(idle["floor"].RSS), mb(f.memory.RSS), mb(f.memory.Peak))
	r.noise(otherCores)
	for _, name := range []string{"direct", "floor", "switchyard"} {
		if problems := t[name].problems(); problems != "" {
			r.printf("  %s: %s\n", name, problems)
		}
	}
}

// problems summarises non-2xx answers and client errors, if any.
func (t *tally) problems() string {
	var parts []string
	codes := make([]int, 0, len(t.codes))
	for c := range t.codes {
		if c < 200 || c >= 300 {
			codes = append(codes, int(c))
		}
	}
	sort.Ints(codes)
	for _, c := range codes {
		label := fmt.Sprintf("%d", c)
		if c == 0 {
			label = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%d × %s", t.codes[uint16(c)], label))
	}
	for msg, n := range t.errors {
		parts = append(parts, fmt.Sprintf("%d × %q", n, msg))
	}
	if t.noReqID > 0 {
		parts = append(parts, fmt.Sprintf("%d answers without X-Request-Id", t.noReqID))
	}
	return strings.Join(parts, "; ")
}

func (r *report) streaming(st map[string]*streamTally, otherCores float64) {
	r.printf("\n── streaming: one client, %d sequential streams per target ─────────────────────────\n", r.o.streams)
	r.printf("  %-12s %13s %13s %17s %8s %7s\n", "target", "TTFB p50 µs", "TTFB p99 µs", "per chunk p50 µs", "chunks", "failed")
	for _, name := range []string{"direct", "floor", "switchyard"} {
		x := st[name]
		r.printf("  %-12s %13s %13s %17.1f %8d %7d\n", name, us(quantileOf(x.ttfb, .5)), us(quantileOf(x.ttfb, .99)),
			float64(quantileOf(x.perChunk, .5).Nanoseconds())/1e3, x.chunks, x.failed)
	}
	d, f, s := st["direct"], st["floor"], st["switchyard"]
	chunkUS := func(x *streamTally) float64 { return float64(quantileOf(x.perChunk, .5).Nanoseconds()) / 1e3 }
	r.printf("\n  %-22s %13s %13s %17s\n", "added", "TTFB p50", "TTFB p99", "per chunk")
	r.printf("  %-22s %13s %13s %+17.1f\n", "floor − direct", signedUS(quantileOf(f.ttfb, .5)-quantileOf(d.ttfb, .5)),
		signedUS(quantileOf(f.ttfb, .99)-quantileOf(d.ttfb, .99)), chunkUS(f)-chunkUS(d))
	ttftAdded := quantileOf(s.ttfb, .99) - quantileOf(d.ttfb, .99)
	chunkAdded := chunkUS(s) - chunkUS(d)
	r.printf("  %-22s %13s %13s %+17.1f   bar ≤ +%s / ≤ +%s: %s / %s\n", "switchyard − direct", signedUS(quantileOf(s.ttfb, .5)-quantileOf(d.ttfb, .5)),
		signedUS(ttftAdded), chunkAdded, us(barTTFTP99Added), us(barPerChunkAdded),
		verdict(ttftAdded <= barTTFTP99Added), verdict(chunkAdded <= float64(barPerChunkAdded.Microseconds())))
	r.printf("  %-22s %13s %13s %+17.1f\n", "switchyard − floor", signedUS(quantileOf(s.ttfb, .5)-quantileOf(f.ttfb, .5)),
		signedUS(quantileOf(s.ttfb, .99)-quantileOf(f.ttfb, .99)), chunkUS(s)-chunkUS(f))
	r.noise(otherCores)
	for _, name := range []string{"direct", "floor", "switchyard"} {
		if st[name].lastErr != nil {
			r.printf("  %s: last error: %v\n", name, st[name].lastErr)
		}
	}
}

func (r *report) peak(t map[string]*tally, otherCores float64) {
	r.printf("\n── peak throughput: closed loop, %d workers, %s per target ───────────────────────\n", r.o.maxWorkers, r.o.maxDuration)
	r.printf("  %-12s %10s %9s %9s %9s %12s\n", "target", "ok req/s", "success", "p50 µs", "p99 µs", "CPU µs/req")
	for _, name := range []string{"direct", "floor", "switchyard"} {
		x := t[name]
		cpu := "–"
		if name != "direct" {
			cpu = fmt.Sprintf("%.1f", float64(x.cpuPerRequest().Nanoseconds())/1e3)
		}
		r.printf("  %-12s %10.1f %8.2f%% %9s %9s %12s\n", name, x.achievedRate(), 100*x.successRatio(), us(x.quantile(.5)), us(x.quantile(.99)), cpu)
	}
	if f := t["floor"].achievedRate(); f > 0 {
		ratio := t["switchyard"].achievedRate() / f
		r.printf("  %-22s %8.0f%%   bar ≥ %.0f%% (with every record delivered, below): %s\n", "switchyard ÷ floor", 100*ratio, 100*barPeakRatio, verdict(ratio >= barPeakRatio))
	}
	r.printf("  %-22s %8.1f µs/req of CPU on the same cores (Kafka broker, ClickHouse, ingester), not counted above\n",
		"logging pipeline", float64(t["switchyard"].pipelineCPUPerRequest().Nanoseconds())/1e3)
	r.noise(otherCores)
	r.printf("  (the load generator shares the machine's cores with the processes it measures)\n")
}

// thousands formats n with separators: 150,000.
func thousands(n int64) string {
	s := fmt.Sprintf("%d", max(n, -n))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if n < 0 {
		return "-" + s
	}
	return s
}

func ms(d time.Duration) string { return thousands(d.Milliseconds()) }

// ordinal spells n as "1st", "2nd", "10th".
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

func (r *report) freshness(f *freshResult) {
	every := "every request"
	if r.o.freshEvery > 1 {
		every = "every " + ordinal(r.o.freshEvery) + " request"
	}
	r.printf("\n── freshness: %d req/s through the proxy for %s, %s looked up by id ──────────────\n", r.o.freshRate, r.o.freshDuration, every)
	r.printf("  %-22s %d sent, %d answered 2xx; %d looked up with GET /v1/requests/{id} until it answered 200\n", "requests", f.sent, f.ok, f.sampled)
	if r.o.freshNaive {
		r.printf("  %-22s every %s, at most %d at once\n", "look-ups", r.o.freshPoll, r.o.freshPollers)
	} else {
		r.printf("  %-22s after each batch the ingester commits (its Kafka offsets read every %s), at most %d at once\n", "look-ups", r.o.freshPoll, r.o.freshPollers)
	}
	r.printf("  %-22s %9s %9s %9s %9s %9s\n", "freshness ms", "p50", "p90", "p99", "max", "measured")
	row := func(label string, d []time.Duration) (time.Duration, bool, string) {
		cell := func(q float64) string {
			v, ok := quantileLate(d, f.late, q)
			switch {
			case ok:
				return ms(v)
			case len(d)+f.late == 0:
				return "–"
			}
			return ">" + ms(r.o.freshTimeout)
		}
		r.printf("  %-22s %9s %9s %9s %9s %9d", label, cell(.5), cell(.9), cell(.99), cell(1), len(d))
		p99, ok := quantileLate(d, f.late, .99)
		return p99, ok, cell(.99)
	}
	p99, ok, _ := row("  to the first 200", f.fresh)
	r.printf("   bar p99 ≤ %s: %s\n", ms(barFreshP99), verdict(ok && p99 <= barFreshP99))
	row("  to the commit", f.atCommit)
	r.printf("\n")
	r.printf("  %-22s (from the instant the client had read the whole response; \"to the commit\": to the ingester's commit\n", "")
	r.printf("  %-22s of the batch that made the request queryable, as seen by the harness — the pipeline without the look-up)\n", "")
	if f.late > 0 {
		r.printf("  %-22s %d looked-up requests were not queryable within %s (counted as later than every other)\n", "late", f.late, r.o.freshTimeout)
	}
	if f.lookErrors > 0 {
		r.printf("  %-22s %d look-ups given up on an unexpected answer (last: %s); not in the figures\n", "errors", f.lookErrors, f.lastLookErr)
	}
	rate := 0.0
	if f.lookSpan > 0 {
		rate = float64(f.lookups) / f.lookSpan.Seconds()
	}
	r.printf("  %-22s %d GETs (%.0f/s, %.1f per looked-up request), answered in %.1f ms at p50, %.1f ms at p99\n",
		"look-up cost", f.lookups, rate, float64(f.lookups)/float64(max(f.sampled, 1)),
		float64(quantileOf(f.lookLatency, .5).Microseconds())/1e3, float64(quantileOf(f.lookLatency, .99).Microseconds())/1e3)
	if f.watchErrors > 0 {
		r.printf("  %-22s %d reads of the ingester's committed offsets failed (last: %s); look-ups fell back to every %s\n", "", f.watchErrors, f.watchErr, freshFallback)
	}
	r.printf("  %-22s query API %.2f s, ClickHouse %.2f s, ingester %.2f s of CPU; %d batches stored (%d commits seen)\n",
		"during the phase", f.queryCPU.Seconds(), f.clickhouse.Seconds(), f.ingesterCPU.Seconds(), f.batches, f.commits)
	r.noise(f.otherCores)
}

func (r *report) ingest(x *ingestResult) {
	r.printf("\n── ingest rate: %s records, Kafka → ClickHouse, bodies included ─────────────────────────────\n", thousands(int64(x.records)))
	n := int64(max(x.records, 1))
	r.printf("  %-22s produced to %s (%d partitions) before the clock started, in %.1f s; %s B each on average, %s B of it bodies\n",
		"records", ingestTopic, ingestPartitions, x.produceTime.Seconds(), thousands(x.bytes/n), thousands(x.bodyBytes/n))
	r.printf("  %-22s a second `switchyard ingest` with its own consumer group and database (%s); batch_size %s, flush_interval %s (defaults)\n",
		"ingester", ingestDatabase, thousands(int64(x.batchSize)), x.flush)
	secs := x.elapsed.Seconds()
	r.printf("  %-22s %.2f s from its start to %s stored: /metrics up after %.2f s, first %s stored after %.2f s; %d batches\n",
		"elapsed", secs, thousands(x.storedAtStop), x.ready.Seconds(), thousands(x.firstCount), x.firstBatch.Seconds(), x.batches)
	rate := float64(x.storedAtStop) / secs
	r.printf("  %-22s %9s records/s   bar ≥ %s: %s\n", "rate", thousands(int64(rate)), thousands(barIngestRate),
		verdict(!x.timedOut && x.deadLetters == 0 && rate >= barIngestRate))
	stored := float64(x.storedAtStop) / float64(n) // of the records, and so of their bytes
	r.printf("  %-22s %9.1f MB/s of record JSON (message values, uncompressed)\n", "", stored*float64(x.bytes)/(1<<20)/secs)
	if x.firstBatch > 0 && x.elapsed > x.firstBatch && x.storedAtStop > x.firstCount {
		r.printf("  %-22s %9s records/s after the first batch (start-up and the first fill left out)\n", "",
			thousands(int64(float64(x.storedAtStop-x.firstCount)/(x.elapsed-x.firstBatch).Seconds())))
	}
	avail := secs * float64(cores())
	r.printf("  %-22s %9s %9s %10s\n", "CPU", "s", "share", "µs/record")
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"ingester", x.ingesterCPU}, {"ClickHouse", x.clickhouse}, {"Kafka broker", x.broker}} {
		r.printf("  %-22s %9.2f %8.0f%% %10.1f\n", "  "+p.name, p.d.Seconds(), 100*p.d.Seconds()/avail, float64(p.d.Microseconds())/float64(max(x.storedAtStop, 1)))
	}
	r.printf("  %-22s %9.2f %8s\n", fmt.Sprintf("  %d cores × %.2f s", cores(), secs), avail, "100%")
	r.printf("  %-22s ClickHouse used %.2f s of CPU in the %s after (merges of the inserted parts)\n", "afterwards", x.afterCH.Seconds(), ingestAfter)
	if x.messages != int64(x.records) {
		r.printf("  %s messages in the topic for %s records produced: a write was taken twice, and the ingester counts a repeat\n"+
			"  as stored; the measurement may have ended that many records early\n", thousands(x.messages), thousands(int64(x.records)))
	}
	if x.timedOut {
		r.printf("  MISS: only %s of %s records stored within %s\n", thousands(x.storedAtStop), thousands(int64(x.records)), r.o.ingestTimeout)
	}
	if x.deadLetters > 0 {
		r.printf("  %d records went to the dead-letter topic: the generated records are invalid\n", x.deadLetters)
	}
	if x.storeErrors > 0 {
		r.printf("  %d failed ClickHouse calls (retried)\n", x.storeErrors)
	}
	r.noise(x.otherCores)
}

func (r *report) summary(rc recordCount, idle map[string]memory) {
	r.printf("\n── records ───────────────────────────────────────────────────────────────────────\n")
	r.printf("  records: sent %d, published %d, stored %d, dropped %d\n", rc.sent, rc.published, rc.stored, rc.dropped)
	if rc.answered < rc.sent {
		r.printf("  (%d of the requests sent got no answer: the client gave up; the proxy counted %d requests)\n", rc.sent-rc.answered, rc.served)
	}
	if rc.complete() {
		r.printf("  every answered request stored, nothing dropped: ok\n")
	} else {
		r.printf("  MISS: %v\n", rc.err)
	}
	if m, err := readMemory(r.s.proxy.pid()); err == nil {
		r.printf("  %-22s idle %s (bar ≤ %s: %s), now %s, peak %s\n", "RSS switchyard", mb(idle["switchyard"].RSS), mb(barRSSIdle),
			verdict(idle["switchyard"].RSS <= barRSSIdle), mb(m.RSS), mb(m.Peak))
	}
	if m, err := readMemory(r.s.floor.pid()); err == nil {
		r.printf("  %-22s idle %s, now %s, peak %s\n", "RSS floor", mb(idle["floor"].RSS), mb(m.RSS), mb(m.Peak))
	}
	r.printf("\n")
}

// noise says how busy other processes kept the machine while it measured.
func (r *report) noise(otherCores float64) {
	if otherCores < 0 {
		return
	}
	r.printf("  %-22s %.2f of %d cores busy with processes outside this benchmark", "other load", otherCores, cores())
	if otherCores >= 0.2 {
		r.printf("   (noisy: compare figures across runs)")
	}
	r.printf("\n")
}
