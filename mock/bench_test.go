package mock

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	benchmarkPath(b, "/bench/v1/chat/completions", body)
}

// benchmarkPath serves body to path, with headers, over and over.
func benchmarkPath(b *testing.B, path, body string, headers ...string) {
	s := New([]config.MockProvider{{Name: "bench", CompletionTokens: 32}})
	reader := bytes.NewReader([]byte(body))
	req := httptest.NewRequest(http.MethodPost, path, reader)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
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
	if status := w.header.Get("Content-Type"); status == "" {
		b.Fatal("no Content-Type")
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
		promptTokens(req.Messages, req.toolTokens())
	}
}

// BenchmarkChatToolCalls is a request with two tools that the model calls,
// arguments generated from their schemas.
func BenchmarkChatToolCalls(b *testing.B) {
	for _, stream := range []string{"", `,"stream":true`} {
		b.Run("stream="+strconv.FormatBool(stream != ""), func(b *testing.B) {
			benchmarkServe(b, toolsBody(`"required"`, `{"role":"user","content":"What is the weather in Paris?"}`, stream))
		})
	}
}

// BenchmarkChatJSONSchema is a structured output from a Pydantic-style
// schema.
func BenchmarkChatJSONSchema(b *testing.B) {
	benchmarkServe(b, `{"model":"gpt-4o","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":`+schemaCases["pydantic"]+`}},"messages":[{"role":"user","content":"Solve 8x + 7 = -23"}]}`)
}

func BenchmarkTextCompletion(b *testing.B) {
	benchmarkPath(b, "/bench/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Write a tagline for an ice cream shop.","max_tokens":32}`)
}

// BenchmarkEmbeddings is one input of text-embedding-3-small (1,536
// dimensions), as floats and as base64.
func BenchmarkEmbeddings(b *testing.B) {
	for _, format := range []string{"float", "base64"} {
		b.Run(format, func(b *testing.B) {
			benchmarkPath(b, "/bench/v1/embeddings", `{"model":"text-embedding-3-small","input":"The food was delicious and the waiter was friendly.","encoding_format":"`+format+`"}`)
		})
	}
}

func BenchmarkRerank(b *testing.B) {
	benchmarkPath(b, "/bench/v1/rerank", `{"model":"rerank-v3.5","query":"What is the capital of France?","documents":["Paris is the capital of France.","Berlin is the capital of Germany.","The Eiffel Tower is in Paris.","France is in Europe."],"top_n":2}`)
}

// BenchmarkAnthropicMessages is benchRequest in Anthropic's format, plain
// and streamed, with a cached system prompt for the plain one.
func BenchmarkAnthropicMessages(b *testing.B) {
	body := `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"You are a helpful assistant that answers briefly.","messages":[{"role":"user","content":"What is the capital of France, and why is it famous?"}]`
	b.Run("plain", func(b *testing.B) { benchmarkPath(b, "/bench/v1/messages", body+`}`, anthropicHeaders...) })
	b.Run("stream", func(b *testing.B) {
		benchmarkPath(b, "/bench/v1/messages", body+`,"stream":true}`, anthropicHeaders...)
	})
	cached := `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":[{"type":"text","text":"` + strings.Repeat("abcd", 1100) + `","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"What is the capital of France?"}]}`
	b.Run("cached", func(b *testing.B) { benchmarkPath(b, "/bench/v1/messages", cached, anthropicHeaders...) })
}

// BenchmarkGeminiGenerateContent is benchRequest in Gemini's format, plain
// and streamed as server-sent events.
func BenchmarkGeminiGenerateContent(b *testing.B) {
	body := `{"systemInstruction":{"parts":[{"text":"You are a helpful assistant that answers briefly."}]},"contents":[{"role":"user","parts":[{"text":"What is the capital of France, and why is it famous?"}]}]}`
	b.Run("plain", func(b *testing.B) {
		benchmarkPath(b, "/bench/v1beta/models/gemini-2.5-flash:generateContent", body)
	})
	b.Run("stream", func(b *testing.B) {
		benchmarkPath(b, "/bench/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body)
	})
}
