package route

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

// statsBody is GET /v1/stats/providers as query/stats.go writes it.
const statsBody = `{"window_seconds":300,"from_ms":1735732560000,"generated_at_ms":1735732800000,"data":[
 {"provider":"a","model":"a-m","requests":120,"errors":6,"rate_limited":2,"error_rate":0.05,"rate_limit_rate":0.0166,
  "latency_ms":{"p50":450,"p90":900,"p99":1500},"ttft_ms":{"p50":120,"p90":300,"p99":700},"throughput_tps":85.5,
  "cost_nusd_per_request":1200.5,"cost_nusd":144060,"prompt_tokens":12000,"completion_tokens":3400},
 {"provider":"b","model":"b-m","requests":3,"errors":3,"rate_limited":0,"error_rate":1,"rate_limit_rate":0,
  "latency_ms":null,"ttft_ms":null,"throughput_tps":null,"cost_nusd_per_request":0,"cost_nusd":0,"prompt_tokens":0,"completion_tokens":0}
]}`

// lockedBuffer is a log sink safe for the poller's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestPoller(t *testing.T) {
	var failing atomic.Bool
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		polls.Add(1)
		if req.URL.Path != "/v1/stats/providers" || req.URL.Query().Get("window") != "5m" {
			http.NotFound(w, req)
			return
		}
		if req.Header.Get("Authorization") != "Bearer sk-query" {
			http.Error(w, `{"error":"bad key"}`, http.StatusUnauthorized)
			return
		}
		if failing.Load() {
			http.Error(w, `{"error":"clickhouse down"}`, http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(statsBody))
	}))
	defer srv.Close()

	r, _ := testRouter(t, []config.Model{{Name: "m", Deployments: []config.Deployment{dep(t, "a", "1", "1"), dep(t, "b", "1", "1")}}},
		provs("a", "b"))
	var logs lockedBuffer
	p := &Poller{URL: srv.URL + "/", Key: "sk-query", Interval: 10 * time.Millisecond, Router: r,
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	eps, _ := r.Endpoints("m")
	a := eps[0]
	if a.LatencyP50Ms == nil || *a.LatencyP50Ms != 450 || *a.TTFTP50Ms != 120 || *a.ThroughputTPS != 85.5 {
		t.Fatalf("a: %+v", a)
	}
	if eps[1].LatencyP50Ms != nil || *eps[1].UptimeLast5m != 0 {
		t.Fatalf("b: %+v", eps[1])
	}

	bad := &Poller{URL: srv.URL, Key: "wrong", Router: r}
	if err := bad.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad key: %v", err)
	}

	// Run survives failures, logs the outage once and the recovery, and
	// stops with its context.
	failing.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		p.Run(ctx)
		close(done)
	}()
	waitFor(t, func() bool { return polls.Load() >= 6 })
	failing.Store(false)
	waitFor(t, func() bool { return strings.Contains(logs.String(), "recovered") })
	cancel()
	<-done
	out := logs.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "502") || strings.Contains(out, "sk-query") {
		t.Fatalf("logs:\n%s", out)
	}
}

func TestPollerRejectsMalformed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"data":[{"provider":1}]}`))
	}))
	defer srv.Close()
	r, _ := testRouter(t, nil, nil)
	if err := (&Poller{URL: srv.URL, Router: r}).Poll(context.Background()); err == nil {
		t.Fatal("malformed stats accepted")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
