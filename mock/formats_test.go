package mock

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

// endpoints are one valid request to every endpoint of every format.
var endpoints = []struct {
	name, path, body string
	headers          []string
	errorOf          func([]byte) bool // recognises the format's error body
}{
	{"chat", "/alpha/v1/chat/completions", basicBody, nil, isOpenAIErrorAny},
	{"completions", "/alpha/v1/completions", `{"model":"m","prompt":"x","max_tokens":100}`, nil, isOpenAIErrorAny},
	{"embeddings", "/alpha/v1/embeddings", `{"model":"m","input":"x"}`, nil, isOpenAIErrorAny},
	{"rerank", "/alpha/v1/rerank", `{"model":"m","query":"q","documents":["a"]}`, nil, isOpenAIErrorAny},
	{"messages", "/alpha/v1/messages", anthropicBasic, anthropicHeaders, isAnthropicErrorAny},
	{"count_tokens", "/alpha/v1/messages/count_tokens", anthropicBasic, anthropicHeaders, isAnthropicErrorAny},
	{"generateContent", "/alpha/v1beta/models/gemini-2.0-flash:generateContent", geminiBasic, nil, isGeminiErrorAny},
	{"generateContent v1", "/alpha/v1/models/gemini-2.0-flash:generateContent", geminiBasic, nil, isGeminiErrorAny},
	{"countTokens", "/alpha/v1beta/models/gemini-2.0-flash:countTokens", geminiBasic, nil, isGeminiErrorAny},
	{"embedContent", "/alpha/v1beta/models/text-embedding-004:embedContent", `{"content":{"parts":[{"text":"x"}]}}`, nil, isGeminiErrorAny},
}

func isOpenAIErrorAny(b []byte) bool {
	var e struct {
		Error *struct {
			Message, Type string
		} `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Message != "" && e.Error.Type != ""
}

func isAnthropicErrorAny(b []byte) bool {
	var e struct {
		Type  string
		Error *struct{ Type, Message string }
	}
	return json.Unmarshal(b, &e) == nil && e.Type == "error" && e.Error != nil && e.Error.Message != "" && e.Error.Type != ""
}

func isGeminiErrorAny(b []byte) bool {
	var e struct {
		Error *struct {
			Code            int
			Message, Status string
		}
	}
	return json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Code >= 400 && e.Error.Message != "" && e.Error.Status != ""
}

// The X-Mock-* headers and the provider's failure rates work the same on
// every endpoint of every format, each answering in its own shape.
func TestOverridesOnEveryEndpoint(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			s := New([]config.MockProvider{testProvider("alpha")})
			send := func(headers ...string) (int, string, http.Header) {
				rec := serve(t, s, http.MethodPost, ep.path, ep.body, withHeaders(ep.headers, headers...)...)
				return rec.Code, rec.Body.String(), rec.Header()
			}
			if code, body, _ := send(); code != 200 || !json.Valid([]byte(body)) {
				t.Fatalf("status %d: %s", code, body)
			}
			for _, status := range []string{"400", "429", "503"} {
				code, body, h := send(HeaderStatus, status)
				if status == "429" && !strings.Contains(ep.path, "models/") && h.Get("Retry-After") != "1" {
					t.Errorf("429 without Retry-After")
				}
				if itoa(code) != status || !ep.errorOf([]byte(body)) {
					t.Errorf("X-Mock-Status %s: %d %s", status, code, body)
				}
			}
			if code, body, _ := send(HeaderMalformed, "1"); code != 200 || json.Valid([]byte(body)) {
				t.Errorf("X-Mock-Malformed: %d, valid JSON: %s", code, body)
			}
			if code, body, _ := send(HeaderCompletionTokens, "lots"); code != 400 || !ep.errorOf([]byte(body)) {
				t.Errorf("a bad header: %d %s", code, body)
			}
			start := time.Now()
			send(HeaderLatencyMs, "40")
			if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
				t.Errorf("X-Mock-Latency-Ms 40: answered after %v", elapsed)
			}
			if st := s.Stats("alpha"); st.Requests != 7 || st.Errors != 1 || st.RateLimited != 1 {
				t.Errorf("Stats = %+v", st)
			}
			p := testProvider("alpha")
			p.RateLimitRate = 1
			s.SetProvider(p)
			if code, body, _ := send(); code != 429 || !ep.errorOf([]byte(body)) {
				t.Errorf("RateLimitRate 1: %d %s", code, body)
			}
			p.RateLimitRate, p.ErrorRate = 0, 1
			s.SetProvider(p)
			if code, body, _ := send(); code < 500 || !ep.errorOf([]byte(body)) {
				t.Errorf("ErrorRate 1: %d %s", code, body)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// X-Mock-Completion-Tokens sets the reply's length in every format.
func TestCompletionTokensEverywhere(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, tt := range []struct {
		path, body string
		headers    []string
		text       func(map[string]any) any
	}{
		{"/alpha/v1/chat/completions", basicBody, nil, func(m map[string]any) any {
			return m["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
		}},
		{"/alpha/v1/completions", `{"model":"m","prompt":"x"}`, nil, func(m map[string]any) any { return m["choices"].([]any)[0].(map[string]any)["text"] }},
		{"/alpha/v1/messages", anthropicBasic, anthropicHeaders, func(m map[string]any) any { return m["content"].([]any)[0].(map[string]any)["text"] }},
		{"/alpha/v1beta/models/gemini-2.0-flash:generateContent", geminiBasic, nil, func(m map[string]any) any {
			return m["candidates"].([]any)[0].(map[string]any)["content"].(map[string]any)["parts"].([]any)[0].(map[string]any)["text"]
		}},
	} {
		m := decodeObject(t, serve(t, s, http.MethodPost, tt.path, tt.body, withHeaders(tt.headers, HeaderCompletionTokens, "3")...).Body.Bytes())
		if got := tt.text(m); got != expectedContent(3) {
			t.Errorf("%s: %q", tt.path, got)
		}
	}
}

// Concurrent requests share a provider's prompt cache safely (go test
// -race), and each identical request after the first reads it.
func TestAnthropicCacheConcurrently(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	body := `{"model":"c","max_tokens":5,"system":[{"type":"text","text":"` + strings.Repeat("abcd", 1100) + `","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"x"}]}`
	serve(t, s, http.MethodPost, "/alpha/v1/messages", body, anthropicHeaders...)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				rec := serve(t, s, http.MethodPost, "/alpha/v1/messages", body, anthropicHeaders...)
				var m struct {
					Usage struct {
						Read int `json:"cache_read_input_tokens"`
					} `json:"usage"`
				}
				if json.Unmarshal(rec.Body.Bytes(), &m) != nil || m.Usage.Read != 1100 {
					t.Errorf("read %d: %s", m.Usage.Read, rec.Body)
					return
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				s.SetProvider(testProvider("alpha"))
			}
		})
	}
	wg.Wait()
}
