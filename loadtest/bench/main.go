// Command bench is Switchyard's proxy benchmark (`make bench`): it starts the
// simulated provider, a bare reverse proxy in front of it (the floor) and
// Switchyard with full logging, each as its own process on loopback, then
// measures all three side by side — latency under open-loop constant-rate
// load, time to first byte of streams, CPU per request, memory, optionally
// peak throughput — and checks that every request Switchyard served was
// stored. Then it measures how soon a request is queryable on the query API
// after its response (freshness), and how many records a second ingester
// moves from Kafka into ClickHouse (ingest rate). DESIGN.md §5 states the
// bars the figures are read against; loadtest/README.md explains them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

type options struct {
	switchyard     string
	rates          []int
	duration       time.Duration
	warmup         time.Duration
	slices         int
	streams        int
	maxMode        bool
	maxWorkers     int
	maxDuration    time.Duration
	recordsTimeout time.Duration
	quietWait      time.Duration
	keep           bool
	holdIngest     bool
	// freshness
	freshRate     int
	freshDuration time.Duration
	freshEvery    int
	freshPoll     time.Duration
	freshPollers  int
	freshTimeout  time.Duration
	freshNaive    bool
	// ingest rate
	ingestRecords int
	ingestTimeout time.Duration
}

func parseFlags() (options, error) {
	var o options
	rates := flag.String("rates", "500,2000", "comma list of constant request rates (req/s) to measure")
	flag.StringVar(&o.switchyard, "switchyard", "bin/switchyard", "the switchyard binary (make build writes it)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured load per target at each rate")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load per target at each rate, before measuring")
	flag.IntVar(&o.slices, "slices", 2, "split each target's measured load into this many slices, interleaved with the other targets'")
	flag.IntVar(&o.streams, "streams", 300, "sequential streaming requests per target for time to first byte (0 skips)")
	flag.BoolVar(&o.maxMode, "max", false, "also measure peak throughput: a closed loop of -max-workers per target")
	flag.IntVar(&o.maxWorkers, "max-workers", 64, "concurrent workers (connections) in -max mode")
	flag.DurationVar(&o.maxDuration, "max-duration", 5*time.Second, "measured closed-loop load per target in -max mode")
	flag.DurationVar(&o.recordsTimeout, "records-timeout", time.Minute, "how long to wait for every record to be stored")
	flag.DurationVar(&o.quietWait, "quiet-wait", 20*time.Second, "before each phase, wait up to this long for other processes to leave the CPUs mostly idle")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's directory (config, logs, data) after a successful run")
	flag.BoolVar(&o.holdIngest, "hold-ingest", false, "pause the ingester (SIGSTOP) during the overhead, streaming and peak phases, as if it and ClickHouse ran on other machines; records wait in Kafka and are stored once it resumes")
	flag.IntVar(&o.freshRate, "fresh-rate", 200, "freshness: constant request rate (req/s) through the proxy (0 skips the freshness phase)")
	flag.DurationVar(&o.freshDuration, "fresh-duration", 10*time.Second, "freshness: how long to send requests")
	flag.IntVar(&o.freshEvery, "fresh-every", 10, "freshness: look up every this many-th request on the query API")
	flag.DurationVar(&o.freshPoll, "fresh-poll", 10*time.Millisecond, "freshness: how often the ingester's committed Kafka offsets are read for a newly stored batch (with -fresh-naive: the pause between look-ups of one request)")
	flag.IntVar(&o.freshPollers, "fresh-pollers", 8, "freshness: most look-ups in flight at once")
	flag.DurationVar(&o.freshTimeout, "fresh-timeout", 10*time.Second, "freshness: give up on a request not queryable this long after its response")
	flag.BoolVar(&o.freshNaive, "fresh-naive", false, "freshness: look each request up every -fresh-poll instead of after each stored batch (loads ClickHouse heavily, which delays what it measures)")
	flag.IntVar(&o.ingestRecords, "ingest-records", 200000, "ingest rate: records produced to Kafka, then timed into ClickHouse (0 skips the ingest-rate phase)")
	flag.DurationVar(&o.ingestTimeout, "ingest-timeout", 2*time.Minute, "ingest rate: give up if the records are not all stored this long after the ingester's start")
	flag.Parse()
	for _, f := range strings.Split(*rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 {
			return o, fmt.Errorf("-rates: %q is not a positive integer", f)
		}
		o.rates = append(o.rates, r)
	}
	if o.duration <= 0 || o.warmup < 0 || o.slices < 1 || o.streams < 0 || o.maxWorkers < 1 || o.maxDuration <= 0 {
		return o, errors.New("-duration and -max-duration must be positive, -warmup and -streams not negative, -slices and -max-workers at least 1")
	}
	if o.freshRate < 0 || o.freshDuration <= 0 || o.freshEvery < 1 || o.freshPoll <= 0 || o.freshPollers < 1 || o.freshTimeout <= 0 {
		return o, errors.New("-fresh-rate must not be negative, -fresh-duration, -fresh-poll and -fresh-timeout must be positive, -fresh-every and -fresh-pollers at least 1")
	}
	if o.ingestRecords < 0 || o.ingestTimeout <= 0 {
		return o, errors.New("-ingest-records must not be negative, -ingest-timeout positive")
	}
	return o, nil
}

func main() {
	os.Exit(run())
}

func run() int {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if err := preflight(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "switchyard-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	s, err := startStack(ctx, o.switchyard, dir)
	if err == nil {
		err = measure(ctx, o, s)
	}
	progress("stopping every process")
	s.stop()
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		if !o.keep {
			os.RemoveAll(dir)
		}
		return 130
	case err != nil:
		fmt.Fprintf(os.Stderr, "bench: %v\nlogs and data are in %s\n", err, dir)
		return 1
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "logs and data are in %s\n", dir)
	} else {
		os.RemoveAll(dir)
	}
	return 0
}

// preflight fails clearly on what the harness cannot fix itself.
func preflight(o options) error {
	if _, err := os.Stat("loadtest/floorproxy"); err != nil {
		return errors.New("run me from the repository root (make bench)")
	}
	if _, err := os.Stat(o.switchyard); err != nil {
		return fmt.Errorf("%s not found: build it first (make build, or make bench which does)", o.switchyard)
	}
	return findClickHouse()
}

// measure runs every measurement against a started stack and prints the
// figures as they come.
func measure(ctx context.Context, o options, s *stack) error {
	mock := fmt.Sprintf("http://127.0.0.1:%d", s.ports.Mock)
	floorURL := fmt.Sprintf("http://127.0.0.1:%d", s.ports.Floor)
	proxyURL := fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", s.ports.Proxy)
	direct := newTarget("direct", mock+"/bench/v1/chat/completions", mock+"/bench-stream/v1/chat/completions", nil)
	floor := newTarget("floor", floorURL+"/bench/v1/chat/completions", floorURL+"/bench-stream/v1/chat/completions", s.floor)
	switchyard := newTarget("switchyard", proxyURL, proxyURL, s.proxy)
	switchyard.pipeline = []*child{s.dev, s.ingester}
	targets := []*target{direct, floor, switchyard}

	// Every request sent to Switchyard must come out of ClickHouse.
	var count requestCount
	run := func(t *target, pacer vegeta.Pacer, dur time.Duration, workers uint64, into *tally) {
		sent, answered := attack(ctx, t, pacer, dur, workers, into)
		if t == switchyard {
			count.add(sent, answered)
		}
	}

	for _, t := range targets {
		if err := checkTarget(ctx, t); err != nil {
			return err
		}
	}
	count.add(1, 1)

	// Idle memory once the processes have settled after start-up.
	time.Sleep(time.Second)
	idle := map[string]memory{}
	for _, t := range targets[1:] {
		idle[t.name], _ = readMemory(t.proc.pid())
	}

	r := newReport(o, s)
	r.header()
	resumeIngest := func() {}
	if o.holdIngest {
		// Records wait in Kafka meanwhile. The ingester resumes before the
		// freshness phase and the record check, and on every way out.
		if err := s.ingester.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		var once sync.Once
		resumeIngest = func() {
			once.Do(func() {
				progress("resuming the ingester")
				_ = s.ingester.signal(syscall.SIGCONT)
			})
		}
		defer resumeIngest()
	}
	for _, rate := range o.rates {
		waitQuiet(ctx, o.quietWait)
		pacer := vegeta.ConstantPacer{Freq: rate, Per: time.Second}
		progress("rate %d req/s: warming up each target for %s, then %s each in %d interleaved slices", rate, o.warmup, o.duration, o.slices)
		if o.warmup > 0 {
			for _, t := range targets {
				run(t, pacer, o.warmup, 0, nil)
			}
		}
		tallies := map[string]*tally{}
		for _, t := range targets {
			tallies[t.name] = newTally()
		}
		slice := o.duration / time.Duration(o.slices)
		noise := sampleNoise()
		for i := range o.slices {
			// Rotate the order so that no target always follows the same one.
			for j := range targets {
				t := targets[(i+j)%len(targets)]
				run(t, pacer, slice, 0, tallies[t.name])
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.rate(rate, tallies, idle, noise.otherCores())
		if err := s.died(); err != nil {
			return err
		}
	}

	if o.streams > 0 {
		waitQuiet(ctx, o.quietWait)
		progress("streaming: %d sequential requests per target from one client, in rotating blocks of %d", o.streams, streamBlock)
		noise := sampleNoise()
		streams := measureStreams(ctx, targets, o.streams, 20, &count)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.streaming(streams, noise.otherCores())
	}

	if o.maxMode {
		waitQuiet(ctx, o.quietWait)
		progress("peak throughput: closed loop, %d workers, %s per target", o.maxWorkers, o.maxDuration)
		peaks := map[string]*tally{}
		noise := sampleNoise()
		for _, t := range targets {
			run(t, vegeta.ConstantPacer{}, time.Second, uint64(o.maxWorkers), nil)
			peaks[t.name] = newTally()
			run(t, vegeta.ConstantPacer{}, o.maxDuration, uint64(o.maxWorkers), peaks[t.name])
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.peak(peaks, noise.otherCores())
	}

	resumeIngest()

	if o.freshRate > 0 {
		// Start with the pipeline caught up: a backlog left by the peak
		// phase would be measured as staleness.
		progress("freshness: waiting for the ingester to store what earlier phases sent")
		checkRecords(ctx, s, count, o.recordsTimeout)
		waitQuiet(ctx, o.quietWait)
		progress("freshness: %d req/s through the proxy for %s; every %s request looked up on the query API until stored",
			o.freshRate, o.freshDuration, ordinal(o.freshEvery))
		f := measureFreshness(ctx, o, s, switchyard, &count)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.freshness(f)
		if err := s.died(); err != nil {
			return err
		}
	}

	if o.ingestRecords > 0 {
		x, err := measureIngest(ctx, o, s)
		if err != nil {
			return err
		}
		r.ingest(x)
		if err := s.died(); err != nil {
			return err
		}
	}

	progress("waiting for every record to reach ClickHouse")
	rc := checkRecords(ctx, s, count, o.recordsTimeout)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.summary(rc, idle)
	if err := s.died(); err != nil {
		return err
	}
	if !rc.complete() {
		return fmt.Errorf("records were lost or late: %v", rc.err)
	}
	return nil
}

// checkTarget sends one request and fails clearly if the target does not
// answer it with 200.
func checkTarget(ctx context.Context, t *target) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(chatBody))
	if err != nil {
		return err
	}
	req.Header = requestHeader()
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: POST %s answered %s: %s", t.name, t.url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
