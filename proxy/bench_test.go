package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

type discardSink struct{}

func (discardSink) Publish(*record.Record) {}

const benchRequest = `{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise the plot of Hamlet in two sentences, please."}],"temperature":0.3}`

const benchResponse = `{"id":"chatcmpl-1","object":"chat.completion","created":1795689777,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Prince Hamlet seeks revenge on his uncle Claudius, who murdered Hamlet's father to seize the throne. His hesitation and feigned madness lead to a tragic chain of deaths, including his own.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":42,"total_tokens":73,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_1"}`

func benchStream(chunks int) string {
	var b strings.Builder
	head := `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795689777,"model":"m","system_fingerprint":"fp_1","choices":[{"index":0,"delta":`
	b.WriteString("data: " + head + `{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	for i := 0; i < chunks; i++ {
		b.WriteString("data: " + head + `{"content":" word` + strconv.Itoa(i) + `"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	}
	b.WriteString("data: " + head + `{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n")
	b.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795689777,"model":"m","choices":[],"usage":{"prompt_tokens":31,"completion_tokens":32,"total_tokens":63}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

// benchServer is the proxy with a canned in-memory upstream: what is
// measured is the proxy's own work per request.
func benchServer(b *testing.B, body string, contentType string) http.Handler {
	cfg := &config.Config{Keys: []config.Key{{ID: "k", Key: testKey}}, Providers: []config.Provider{{Name: "up", Type: "openai", BaseURL: "http://up.invalid"}},
		Models: []config.Model{{Name: "m", Deployments: []config.Deployment{{Provider: "up", Model: "m", Pricing: testPricing}}}}}
	cfg.ApplyDefaults()
	ks, _ := keys.New(cfg.Keys)
	up := upstreamFunc(func(ctx context.Context, path string, b []byte, stream bool) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(strings.NewReader(body))}, nil
	})
	srv := New(Options{Config: &cfg.Proxy, Keys: ks, Router: route.New(cfg.Models, cfg.Providers, route.Options{}), Upstreams: map[string]provider.Adapter{"up": up}, Sink: discardSink{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return srv.Handler()
}

func runBench(b *testing.B, h http.Handler, reqBody string) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(reqBody))
		req.Header.Set("Authorization", "Bearer "+testKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkChatCompletion is the proxy's own cost of one non-streaming
// request: auth, parsing, routing, relaying, pricing and building the
// record (httptest plumbing included).
func BenchmarkChatCompletion(b *testing.B) {
	runBench(b, benchServer(b, benchResponse, "application/json"), benchRequest)
}

// BenchmarkChatCompletionStream is the same for a 32-chunk stream; divide
// by 35 events for the cost per chunk.
func BenchmarkChatCompletionStream(b *testing.B) {
	runBench(b, benchServer(b, benchStream(32), "text/event-stream"), strings.Replace(benchRequest, `"temperature":0.3`, `"temperature":0.3,"stream":true`, 1))
}

// BenchmarkHTTPTestOverhead is the httptest plumbing alone, to subtract.
func BenchmarkHTTPTestOverhead(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(benchResponse))
	})
	runBench(b, h, benchRequest)
}

func BenchmarkRecordEncode(b *testing.B) {
	rec := &record.Record{RequestID: "01a21773-8ae0-75cc-a8fb-165054da3357", TraceID: "5308aa8fcb53d4667d5f0332ba88f1e2", SpanID: "08c3773833c3ee4e",
		Endpoint: "/v1/chat/completions", Model: "m", Provider: "up", Outcome: "ok", StatusCode: 200, Tags: []string{}, Metadata: map[string]string{},
		Attempts: []record.Attempt{{Provider: "up", Model: "m", StatusCode: 200}}, RequestBody: benchRequest, ResponseBody: benchResponse}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = record.Encode(buf[:0], rec)
	}
	_ = bytes.Clone(buf)
}
