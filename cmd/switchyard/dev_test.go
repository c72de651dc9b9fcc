package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/chserver"
	"github.com/switchyard/switchyard/internal/testenv"
)

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		p, err := chserver.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	return ports
}

func devArgs(ports []int, dir string, extra ...string) []string {
	args := []string{
		"--proxy-port", fmt.Sprint(ports[0]), "--query-port", fmt.Sprint(ports[1]), "--ingest-port", fmt.Sprint(ports[2]),
		"--mock-port", fmt.Sprint(ports[3]), "--kafka-port", fmt.Sprint(ports[4]),
		"--clickhouse-port", fmt.Sprint(ports[5]), "--clickhouse-http-port", fmt.Sprint(ports[6]), "--data-dir", dir,
	}
	return append(args, extra...)
}

// startDev runs dev mode in-process; stop cancels it as SIGTERM would and
// returns runDev's error.
func startDev(t *testing.T, args []string) (stop func() error, out *syncBuffer) {
	t.Helper()
	out = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- runDev(ctx, args, out, io.Discard, log) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(2 * time.Minute):
			t.Fatal("dev mode did not stop")
			return nil
		}
	}, out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func spendTotal(t *testing.T, queryPort int) (requests, cost int64) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/v1/spend", queryPort), nil)
	req.Header.Set("Authorization", "Bearer sk-switchyard-dev")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Total struct {
			Requests int64 `json:"requests"`
			CostNUSD int64 `json:"cost_nusd"`
		} `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.Total.Requests, s.Total.CostNUSD
}

// TestDevModeLosesNothingOnStop runs the whole product in one process,
// serves traffic, stops it as SIGTERM would, and checks that the ClickHouse
// child is gone and that every request is stored when dev mode comes back.
func TestDevModeLosesNothingOnStop(t *testing.T) {
	testenv.RequireClickHouseBinary(t)
	t.Setenv("SWITCHYARD_DEV_KEY", "")
	ports := freePorts(t, 7)
	dir := t.TempDir()
	stop, out := startDev(t, devArgs(ports, dir))
	waitUntil(t, "the proxy", func() bool { return listening(ports[0]) })
	for _, want := range []string{fmt.Sprintf("http://127.0.0.1:%d/v1", ports[0]), "sk-switchyard-dev", "curl"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the welcome text lacks %q:\n%s", want, out.String())
		}
	}

	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	served := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
			req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", ports[0]), strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer sk-switchyard-dev")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("X-Request-Id") != "" {
				mu.Lock()
				served++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if served != n {
		t.Fatalf("%d of %d requests answered with an id", served, n)
	}
	if err := stop(); err != nil {
		t.Fatalf("dev mode stopped with: %v", err)
	}
	for _, p := range ports {
		if listening(p) {
			t.Errorf("port %d still listens after stop", p)
		}
	}

	// Everything sent before the stop is there after a restart.
	stop, _ = startDev(t, devArgs(ports, dir))
	defer stop()
	waitUntil(t, "the query API", func() bool { return listening(ports[1]) })
	if got, _ := spendTotal(t, ports[1]); got != n {
		t.Fatalf("%d requests stored, want %d", got, n)
	}
}

func TestDevPrintConfig(t *testing.T) {
	ports := freePorts(t, 7)
	var out bytes.Buffer
	if err := runDev(context.Background(), devArgs(ports, t.TempDir(), "--print-config"), &out, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(out.Bytes(), os.LookupEnv)
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, out.String())
	}
	if cfg.Proxy.Listen != fmt.Sprintf("127.0.0.1:%d", ports[0]) || cfg.Kafka.Brokers[0] != fmt.Sprintf("127.0.0.1:%d", ports[4]) ||
		cfg.ClickHouse.Addr[0] != fmt.Sprintf("127.0.0.1:%d", ports[5]) || cfg.Providers[0].BaseURL != fmt.Sprintf("http://127.0.0.1:%d/sim-flaky/v1", ports[3]) {
		t.Errorf("ports not in the config: %+v", cfg)
	}
	if len(cfg.Mock.Providers) < 3 || len(cfg.Models[0].Deployments) < 3 {
		t.Errorf("dev mode must serve a model through three simulated providers: %+v", cfg.Models)
	}
}

func TestDevOnlyRejectsUnknownParts(t *testing.T) {
	err := runDev(context.Background(), []string{"--only", "broker,kafka"}, io.Discard, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), `unknown part "kafka"`) {
		t.Fatalf("err = %v", err)
	}
}
