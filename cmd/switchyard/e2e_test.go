package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/mock"
	"github.com/switchyard/switchyard/record"
)

// TestMain runs the tests, or — when a test starts this binary again with
// SWITCHYARD_TEST_RUN set — the switchyard command itself, so that fault
// tests can kill a real process.
func TestMain(m *testing.M) {
	if args := os.Getenv("SWITCHYARD_TEST_RUN"); args != "" {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	testenv.Main(m)
}

const e2eKey = "sk-e2e-key-0001"

// e2eConfig is a complete config, as a user would write it, for the given
// broker, database and simulated provider.
func e2eConfig(t *testing.T, brokers []string, ch config.ClickHouse, mockURL string) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`
proxy: {listen: "127.0.0.1:0", spool: {dir: %q}}
query: {listen: "127.0.0.1:0"}
ingest: {listen: "127.0.0.1:0", flush_interval: 100ms}
kafka: {brokers: [%q], create_topics: true, partitions: 3}
clickhouse: {addr: [%q], database: %s}
keys:
  - id: e2e
    key: ${E2E_KEY}
    team: qa
providers:
  - {name: sim, type: openai, base_url: "%s/sim/v1"}
models:
  - name: gpt-4o-mini
    deployments:
      - provider: sim
        model: gpt-4o-mini-2024-07-18
        pricing: {input: 0.15, output: 0.60, cached_input: 0.075}
`, t.TempDir(), brokers[0], ch.Addr[0], ch.Database, mockURL)
	cfg, err := config.Parse([]byte(text), func(k string) (string, bool) {
		if k == "E2E_KEY" {
			return e2eKey, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startStack runs ingest, query and proxy as the binary wires them and
// returns the proxy's and the query API's base URLs.
func startStack(t *testing.T, cfg *config.Config) (proxyURL, queryURL string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	run := func(f func(context.Context) error) {
		ch := make(chan error, 1)
		go func() { ch <- f(ctx) }()
		done = append(done, ch)
	}
	startCtx, cancelStart := context.WithTimeout(ctx, time.Minute)
	defer cancelStart()
	in, err := newIngestApp(startCtx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	run(in.run)
	q, err := newQueryApp(startCtx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	run(q.run)
	p, err := newProxyApp(startCtx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	run(p.run)
	t.Cleanup(func() {
		cancel()
		for _, ch := range done {
			if err := <-ch; err != nil {
				t.Errorf("service stopped with: %v", err)
			}
		}
	})
	return "http://" + p.ln.Addr().String(), "http://" + q.ln.Addr().String()
}

// lookup polls the query API until the request is stored.
func lookup(t *testing.T, queryURL, path string, out any) {
	t.Helper()
	lookupUntil(t, queryURL, path, out, func() bool { return true })
}

// lookupUntil is lookup that also waits, up to the same deadline, for
// ready to hold of out. ClickHouse makes an inserted row visible in its
// table a moment before the materialized views fed by that insert have it,
// so a request can be found by id just before its trace lists it.
func lookupUntil(t *testing.T, queryURL, path string, out any, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, queryURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+e2eKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			if ready() || time.Now().After(deadline) {
				return
			}
		} else if resp.StatusCode != http.StatusNotFound || time.Now().After(deadline) {
			t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEndToEnd sends a streaming and a non-streaming chat completion with
// the official OpenAI Go SDK through the proxy to a simulated provider,
// then finds both through the query API, under one trace, with the
// client's exact token counts and the right cost.
func TestEndToEnd(t *testing.T) {
	chcfg := testenv.ClickHouse(t)
	brokers := testenv.Kafka(t)
	sim := httptest.NewServer(mock.New([]config.MockProvider{{Name: "sim", Latency: 30 * time.Millisecond, TokensPerSecond: 500, CompletionTokens: 24}}))
	t.Cleanup(sim.Close)
	cfg := e2eConfig(t, brokers, chcfg, sim.URL)
	proxyURL, queryURL := startStack(t, cfg)

	const traceID = "0af7651916cd43dd8448eb211c80319c"
	client := openai.NewClient(
		option.WithBaseURL(proxyURL+"/v1/"),
		option.WithAPIKey(e2eKey),
		option.WithHeader("traceparent", "00-"+traceID+"-b7ad6b7169203331-01"),
		option.WithMaxRetries(0),
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Write a haiku about switchyards.")},
	}

	var plainResp *http.Response
	plain, err := client.Chat.Completions.New(ctx, params, option.WithResponseInto(&plainResp))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Usage.CompletionTokens != 24 || plain.Choices[0].Message.Content == "" {
		t.Fatalf("completion = %+v", plain)
	}
	plainID := plainResp.Header.Get("X-Request-Id")

	var streamResp *http.Response
	stream := client.Chat.Completions.NewStreaming(ctx, params, option.WithResponseInto(&streamResp))
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	streamID := streamResp.Header.Get("X-Request-Id")
	if acc.Usage.CompletionTokens != 24 || acc.Usage.PromptTokens == 0 || acc.Choices[0].Message.Content != plain.Choices[0].Message.Content {
		t.Fatalf("streamed usage %+v content %q", acc.Usage, acc.Choices[0].Message.Content)
	}

	// USD per million tokens → nano-USD per token: 0.15 → 150, 0.60 → 600.
	for _, tc := range []struct {
		id       string
		stream   bool
		usage    openai.CompletionUsage
		response string
	}{
		{plainID, false, plain.Usage, plain.Choices[0].Message.Content},
		{streamID, true, acc.Usage, acc.Choices[0].Message.Content},
	} {
		var rec record.Record
		lookup(t, queryURL, "/v1/requests/"+tc.id, &rec)
		if rec.Usage.PromptTokens != tc.usage.PromptTokens || rec.Usage.CompletionTokens != tc.usage.CompletionTokens {
			t.Errorf("%s: stored usage %+v, the client saw %+v", tc.id, rec.Usage, tc.usage)
		}
		if want := tc.usage.PromptTokens*150 + tc.usage.CompletionTokens*600; rec.CostNUSD != want {
			t.Errorf("%s: cost %d nano-USD, want %d", tc.id, rec.CostNUSD, want)
		}
		if rec.Provider != "sim" || rec.Model != "gpt-4o-mini-2024-07-18" || rec.ModelRequested != "gpt-4o-mini" || rec.Stream != tc.stream {
			t.Errorf("%s: provider %q model %q requested %q stream %v", tc.id, rec.Provider, rec.Model, rec.ModelRequested, rec.Stream)
		}
		if rec.LatencyMs < 30 || rec.TTFTMs < 30 || rec.TTFTMs > rec.LatencyMs || rec.Outcome != record.OutcomeOK || rec.KeyID != "e2e" || rec.Team != "qa" {
			t.Errorf("%s: latency %d ttft %d outcome %q key %q team %q", tc.id, rec.LatencyMs, rec.TTFTMs, rec.Outcome, rec.KeyID, rec.Team)
		}
		if rec.TraceID != traceID || rec.ParentSpanID != "b7ad6b7169203331" {
			t.Errorf("%s: trace %q parent %q", tc.id, rec.TraceID, rec.ParentSpanID)
		}
		if !strings.Contains(rec.ResponseBody, tc.response) || !strings.Contains(rec.RequestBody, "haiku") {
			t.Errorf("%s: bodies not stored: %q / %q", tc.id, rec.RequestBody, rec.ResponseBody)
		}
	}

	var trace struct {
		TraceID  string `json:"trace_id"`
		Requests int    `json:"requests"`
		Roots    []struct {
			Request record.Record `json:"request"`
		} `json:"roots"`
	}
	lookupUntil(t, queryURL, "/v1/traces/"+traceID, &trace, func() bool { return trace.Requests >= 2 })
	if trace.Requests != 2 || len(trace.Roots) != 2 || trace.Roots[0].Request.RequestID != plainID || trace.Roots[1].Request.RequestID != streamID {
		t.Fatalf("trace = %+v", trace)
	}
}
