package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/mock"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

const (
	testKey = "sk-test-key-0001"
	// zdrKey is a key with zero retention: no bodies in its records.
	zdrKey = "sk-test-key-zdr1"
)

// recordSink collects published records for assertions.
type recordSink struct {
	mu     sync.Mutex
	recs   []*record.Record
	ch     chan *record.Record
	filter *BodyFilter
}

func newRecordSink() *recordSink { return &recordSink{ch: make(chan *record.Record, 1024)} }

func (s *recordSink) Publish(r *record.Record) {
	s.filter.Apply(r)
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
	s.ch <- r
}

// next waits for the next record.
func (s *recordSink) next(t *testing.T) *record.Record {
	t.Helper()
	select {
	case r := <-s.ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no record published")
		return nil
	}
}

// testProxy is a proxy in front of upstreams, with its records collected.
type testProxy struct {
	url  string
	sink *recordSink
	srv  *Server
}

type testSetup struct {
	providers []config.Provider
	models    []config.Model
	tweak     func(*config.Proxy)
}

func price(usd string) config.Price {
	n, err := config.ParseUSD(usd)
	if err != nil {
		panic(err)
	}
	return config.USD(n)
}

var testPricing = config.Pricing{Input: price("2.50"), Output: price("10"), CachedInput: price("1.25")}

func startProxy(t *testing.T, setup testSetup) *testProxy {
	t.Helper()
	cfg := &config.Config{Keys: []config.Key{{ID: "k1", Key: testKey, Team: "team-a"}, {ID: "k-zdr", Key: zdrKey, ZeroRetention: true}},
		Providers: setup.providers, Models: setup.models}
	cfg.ApplyDefaults()
	cfg.Proxy.FirstByteTimeout = 5 * time.Second
	cfg.Proxy.TotalTimeout = 10 * time.Second
	if setup.tweak != nil {
		setup.tweak(&cfg.Proxy)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ks, err := keys.New(cfg.Keys)
	if err != nil {
		t.Fatal(err)
	}
	transport := NewTransport(&cfg.Proxy)
	t.Cleanup(transport.CloseIdleConnections)
	hc := &http.Client{Transport: transport}
	ups, err := NewAdapters(cfg.Providers, hc, "switchyard-test")
	if err != nil {
		t.Fatal(err)
	}
	sink := newRecordSink()
	// Bodies are readied as the publisher readies them.
	if sink.filter, err = NewBodyFilter(&cfg.Proxy); err != nil {
		t.Fatal(err)
	}
	srv := New(Options{
		Config: &cfg.Proxy, Keys: ks, Router: route.New(cfg.Models, cfg.Providers, route.Options{}), Upstreams: ups, Providers: cfg.Providers, Sink: sink,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testProxy{url: ts.URL, sink: sink, srv: srv}
}

// mockProviders starts simulated providers and returns their provider
// configs, in order.
func mockProviders(t *testing.T, ps ...config.MockProvider) ([]config.Provider, *mock.Server) {
	t.Helper()
	for i := range ps {
		if ps[i].CompletionTokens == 0 {
			ps[i].CompletionTokens = 12
		}
	}
	m := mock.New(ps)
	ts := httptest.NewServer(m)
	t.Cleanup(ts.Close)
	var out []config.Provider
	for _, p := range ps {
		out = append(out, config.Provider{Name: p.Name, Type: config.ProviderOpenAI, BaseURL: ts.URL + "/" + p.Name + "/v1"})
	}
	return out, m
}

// modelOn serves model by the providers, in order.
func modelOn(model string, providers ...config.Provider) config.Model {
	m := config.Model{Name: model}
	for _, p := range providers {
		m.Deployments = append(m.Deployments, config.Deployment{Provider: p.Name, Model: model, Pricing: testPricing})
	}
	return m
}

func (p *testProxy) post(t *testing.T, path, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Authorization" {
			req.Header.Set("Authorization", header[i+1])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apiErrorBody is the proxy's error shape.
type apiErrorBody struct {
	Error struct {
		Message  string  `json:"message"`
		Type     string  `json:"type"`
		Code     string  `json:"code"`
		Param    *string `json:"param"`
		Metadata struct {
			ErrorType string           `json:"error_type"`
			RequestID string           `json:"request_id"`
			Attempts  []record.Attempt `json:"attempts"`
		} `json:"metadata"`
	} `json:"error"`
}

func decodeError(t *testing.T, resp *http.Response) apiErrorBody {
	t.Helper()
	raw := readBody(t, resp)
	var e apiErrorBody
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, raw)
	}
	if e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("error body lacks message or type: %s", raw)
	}
	return e
}

// upstreamFunc is an adapter built from a function, for upstream
// behaviours the simulated providers do not cover.
type upstreamFunc func(ctx context.Context, path string, body []byte, stream bool) (*http.Response, error)

func (f upstreamFunc) Send(ctx context.Context, r *provider.Request) (*http.Response, error) {
	return f(ctx, r.Path, r.Body, r.Stream)
}

// sseEvents splits an SSE body into its data payloads.
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, block := range strings.Split(string(bytes.TrimSpace(body)), "\n\n") {
		if !strings.HasPrefix(block, "data: ") {
			t.Fatalf("unexpected SSE block %q", block)
		}
		out = append(out, strings.TrimPrefix(block, "data: "))
	}
	return out
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
