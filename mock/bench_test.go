package mock

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// discardWriter is the cheapest http.ResponseWriter and Flusher, so that the
// benchmarks measure the mock rather than a recorder.
type discardWriter struct {
	header  http.Header
	written int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(int)     {}
func (w *discardWriter) Flush()              {}
func (w *discardWriter) Write(b []byte) (int, error) {
	w.written += len(b)
	return len(b), nil
}

// benchRequest is a realistic small request: a system prompt, a question.
const benchRequest = `{"model":"gpt-4o-mini","temperature":0.7,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},{"role":"user","content":"What is the capital of France, and why is it famous?"}]`

func benchmarkServe(b *testing.B, body string) {
	s := New([]config.MockProvider{{Name: "bench", CompletionTokens: 32}})
	reader := bytes.NewReader([]byte(body))
	req := httptest.NewRequest(http.MethodPost, "/bench/v1/chat/completions", reader)
	req.ContentLength = int64(len(body))
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		reader.Reset([]byte(body))
		req.Body = io.NopCloser(reader)
		clear(w.header)
		s.ServeHTTP(w, req)
	}
	if w.written == 0 {
		b.Fatal("nothing written")
	}
}

// BenchmarkChatCompletion is the CPU and allocations of one non-streaming
// request of 32 completion tokens, parsing included, HTTP excluded.
func BenchmarkChatCompletion(b *testing.B) {
	benchmarkServe(b, benchRequest+`}`)
}

// BenchmarkChatCompletionStream is one streaming request of 32 chunks with
// usage.
func BenchmarkChatCompletionStream(b *testing.B) {
	benchmarkServe(b, benchRequest+`,"stream":true,"stream_options":{"include_usage":true}}`)
}

// BenchmarkChatCompletionHTTP is a whole round trip on loopback through
// net/http, client included: what a benchmark's upstream costs.
func BenchmarkChatCompletionHTTP(b *testing.B) {
	for _, stream := range []bool{false, true} {
		name, body := "plain", benchRequest+`}`
		if stream {
			name, body = "stream", benchRequest+`,"stream":true,"stream_options":{"include_usage":true}}`
		}
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(New([]config.MockProvider{{Name: "bench", CompletionTokens: 32}}))
			defer srv.Close()
			client := srv.Client()
			url := srv.URL + "/bench/v1/chat/completions"
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(url, "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

func BenchmarkPromptTokens(b *testing.B) {
	var req chatRequest
	body := []byte(benchRequest + `}`)
	b.ReportAllocs()
	for b.Loop() {
		req = chatRequest{}
		if err := parseChatRequest(body, &req); err != nil {
			b.Fatal(err)
		}
		promptTokens(req.Messages)
	}
}
