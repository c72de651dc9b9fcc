package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// stack is everything one run starts: the simulated provider, the floor
// proxy, dev mode's broker and ClickHouse, the Switchyard proxy, the ingester
// and the query API, each its own process.
type stack struct {
	dir      string
	ports    stackPorts
	mock     *child
	floor    *child
	dev      *child // broker and ClickHouse
	proxy    *child
	ingester *child
	query    *child   // the query API, for the freshness measurement
	children []*child // in start order
}

// startStack builds the floor proxy and starts every process, waiting for
// each to be ready before the next.
func startStack(ctx context.Context, switchyardBin, dir string) (*stack, error) {
	s := &stack{dir: dir}
	ports, err := freePorts(8)
	if err != nil {
		return s, err
	}
	s.ports = stackPorts{Mock: ports[0], Floor: ports[1], Proxy: ports[2], Ingest: ports[3], Query: ports[4],
		Kafka: ports[5], ClickHouse: ports[6], ClickHouseHTTP: ports[7]}
	cfgPath := filepath.Join(dir, "bench.yaml")
	if err := writeBenchConfig(cfgPath, s.ports); err != nil {
		return s, err
	}

	progress("building the floor proxy (go build ./loadtest/floorproxy)")
	floorBin := filepath.Join(dir, "floorproxy")
	build := exec.CommandContext(ctx, "go", "build", "-o", floorBin, "./loadtest/floorproxy")
	if out, err := build.CombinedOutput(); err != nil {
		return s, fmt.Errorf("go build ./loadtest/floorproxy: %v\n%s", err, out)
	}

	start := func(name, bin string, args ...string) (*child, error) {
		c, err := startChild(dir, name, bin, args...)
		if err == nil {
			s.children = append(s.children, c)
		}
		return c, err
	}
	mockURL := fmt.Sprintf("http://127.0.0.1:%d", s.ports.Mock)
	progress("starting the simulated provider on %s", mockURL)
	if s.mock, err = start("mock", switchyardBin, "mock", "--config", cfgPath); err != nil {
		return s, err
	}
	if err := waitReady(ctx, s.mock, 30*time.Second, httpOK(mockURL+"/healthz")); err != nil {
		return s, err
	}

	floorAddr := fmt.Sprintf("127.0.0.1:%d", s.ports.Floor)
	progress("starting the floor proxy on %s", floorAddr)
	if s.floor, err = start("floorproxy", floorBin, "--listen", floorAddr, "--upstream", mockURL); err != nil {
		return s, err
	}
	// The floor proxies everything, /healthz included, to the mock.
	if err := waitReady(ctx, s.floor, 30*time.Second, httpOK("http://"+floorAddr+"/healthz")); err != nil {
		return s, err
	}

	progress("starting the Kafka broker and ClickHouse (switchyard dev --only broker,clickhouse)")
	s.dev, err = start("dev", switchyardBin, "dev", "--only", "broker,clickhouse", "--data-dir", filepath.Join(dir, "data"),
		"--kafka-port", strconv.Itoa(s.ports.Kafka),
		"--clickhouse-port", strconv.Itoa(s.ports.ClickHouse),
		"--clickhouse-http-port", strconv.Itoa(s.ports.ClickHouseHTTP))
	if err != nil {
		return s, err
	}
	// Dev mode prints its welcome once the broker is up, ClickHouse is up
	// and the migrations are applied.
	if err := waitReady(ctx, s.dev, 3*time.Minute, logContains(s.dev, "Switchyard dev mode is running")); err != nil {
		return s, err
	}

	progress("starting the Switchyard ingester and proxy (full logging: bodies recorded, every record to Kafka and ClickHouse)")
	if s.ingester, err = start("ingest", switchyardBin, "ingest", "--config", cfgPath); err != nil {
		return s, err
	}
	if err := waitReady(ctx, s.ingester, time.Minute, httpOK(fmt.Sprintf("http://127.0.0.1:%d/healthz", s.ports.Ingest))); err != nil {
		return s, err
	}
	if s.proxy, err = start("proxy", switchyardBin, "proxy", "--config", cfgPath); err != nil {
		return s, err
	}
	if err := waitReady(ctx, s.proxy, time.Minute, httpOK(fmt.Sprintf("http://127.0.0.1:%d/healthz", s.ports.Proxy))); err != nil {
		return s, err
	}
	progress("starting the Switchyard query API")
	if s.query, err = start("query", switchyardBin, "query", "--config", cfgPath); err != nil {
		return s, err
	}
	if err := waitReady(ctx, s.query, time.Minute, httpOK(fmt.Sprintf("http://127.0.0.1:%d/healthz", s.ports.Query))); err != nil {
		return s, err
	}
	return s, nil
}

// stop ends the children in reverse start order: the query API, then the
// proxy, so that it drains its records into Kafka, then the ingester, then dev
// mode (which stops its ClickHouse), the floor and the mock.
func (s *stack) stop() {
	for i := len(s.children) - 1; i >= 0; i-- {
		s.children[i].stop(45 * time.Second)
	}
}

// died returns an error naming any child that exited on its own.
func (s *stack) died() error {
	var errs []error
	for _, c := range s.children {
		if c.exited() {
			errs = append(errs, fmt.Errorf("%s exited during the run (%v); the end of %s:\n%s", c.name, c.err, c.logPath, c.logTail(10)))
		}
	}
	return errors.Join(errs...)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "· "+format+"\n", args...)
}
