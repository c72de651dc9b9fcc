package mock

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

var completionIDPattern = regexp.MustCompile(`^chatcmpl-[A-Za-z0-9]{29}$`)

func TestChatCompletionShape(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	before := time.Now().Unix()
	rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
		t.Errorf("Content-Length = %q, body is %d bytes", cl, rec.Body.Len())
	}

	m := decodeObject(t, rec.Body.Bytes())
	expectKeys(t, "completion", m, "id", "object", "created", "model", "choices", "usage", "service_tier", "system_fingerprint")
	if id, _ := m["id"].(string); !completionIDPattern.MatchString(id) {
		t.Errorf("id = %q", id)
	}
	expectValue(t, "object", m["object"], "chat.completion")
	if created := number(t, "created", m["created"]); created < before || created > time.Now().Unix() {
		t.Errorf("created = %d, not now", created)
	}
	expectValue(t, "model", m["model"], "gpt-4o-mini")
	expectValue(t, "service_tier", m["service_tier"], "default")
	if fp, _ := m["system_fingerprint"].(string); !regexp.MustCompile(`^fp_[0-9a-f]{10}$`).MatchString(fp) {
		t.Errorf("system_fingerprint = %q", fp)
	}

	choices, ok := m["choices"].([]any)
	if !ok || len(choices) != 1 {
		t.Fatalf("choices = %#v", m["choices"])
	}
	choice := expectKeys(t, "choices[0]", choices[0], "index", "message", "logprobs", "finish_reason")
	expectValue(t, "choices[0].index", choice["index"], "0")
	expectValue(t, "choices[0].logprobs", choice["logprobs"], nil)
	expectValue(t, "choices[0].finish_reason", choice["finish_reason"], "stop")
	msg := expectKeys(t, "message", choice["message"], "role", "content", "refusal", "annotations")
	expectValue(t, "message.role", msg["role"], "assistant")
	expectValue(t, "message.content", msg["content"], "The quick brown fox jumps over the lazy")
	expectValue(t, "message.refusal", msg["refusal"], nil)
	if a, ok := msg["annotations"].([]any); !ok || len(a) != 0 {
		t.Errorf("message.annotations = %#v, want []", msg["annotations"])
	}
	checkUsage(t, "usage", m["usage"], basicPromptTokens, 8, 0)
}

func TestChatCompletionIDsAreUnique(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	seen := map[string]bool{}
	for range 100 {
		m := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody).Body.Bytes())
		id := m["id"].(string)
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestTokenCounts(t *testing.T) {
	long := strings.Repeat("abcd", 1250) // 1,250 tokens
	tests := []struct {
		name           string
		body           string
		headers        []string
		completion     int64
		prompt, cached int64
		finishReason   string
	}{
		{name: "basic", body: basicBody, completion: 8, prompt: basicPromptTokens, finishReason: "stop"},
		{
			name:       "escapes count as the text they decode to",
			body:       `{"model":"m","messages":[{"role":"user","content":"a\u003cb\n\"é\u00e9\ud83d\ude00"}]}`,
			completion: 8, prompt: 4 + 4 + 3, finishReason: "stop", // 1+1+1+1+2+2+4 = 12 bytes
		},
		{
			name:       "content parts: text counted, images 85 each, others nothing",
			body:       `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"abcdefgh"},{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`,
			completion: 8, prompt: 4 + 2 + 85 + 3, finishReason: "stop",
		},
		{
			name:       "null content and tool messages",
			body:       `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"42"}]}`,
			completion: 8, prompt: 4 + (4 + 1) + 3, finishReason: "stop",
		},
		{
			name:       "max_tokens caps the completion",
			body:       `{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"Hello!"}]}`,
			completion: 3, prompt: 4 + 2 + 3, finishReason: "length",
		},
		{
			name:       "max_completion_tokens caps the completion",
			body:       `{"model":"m","max_completion_tokens":5,"messages":[{"role":"user","content":"Hello!"}]}`,
			completion: 5, prompt: 9, finishReason: "length",
		},
		{
			name:       "the smaller limit wins",
			body:       `{"model":"m","max_tokens":6,"max_completion_tokens":2,"messages":[{"role":"user","content":"Hello!"}]}`,
			completion: 2, prompt: 9, finishReason: "length",
		},
		{
			name:       "a limit equal to the length is a natural stop",
			body:       `{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"Hello!"}]}`,
			completion: 8, prompt: 9, finishReason: "stop",
		},
		{
			name:       "X-Mock-Completion-Tokens",
			body:       basicBody,
			headers:    []string{HeaderCompletionTokens, "40"},
			completion: 40, prompt: basicPromptTokens, finishReason: "stop",
		},
		{
			name:       "X-Mock-Completion-Tokens is still capped by max_tokens",
			body:       `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"Hello!"}]}`,
			headers:    []string{HeaderCompletionTokens, "40"},
			completion: 10, prompt: 9, finishReason: "length",
		},
		{
			name:       "zero tokens",
			body:       basicBody,
			headers:    []string{HeaderCompletionTokens, "0"},
			completion: 0, prompt: basicPromptTokens, finishReason: "stop",
		},
		{
			name:       "function tools count their name and parameters",
			body:       `{"model":"m","tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}],"messages":[{"role":"user","content":"Hello!"}]}`,
			completion: 8, prompt: (6+17+3)/4 + 4 + 2 + 3, finishReason: "stop",
		},
		{
			name:       "a long prefix is cached in 1024+128k steps",
			body:       `{"model":"m","messages":[{"role":"system","content":"` + long + `"},{"role":"user","content":"hi"}]}`,
			completion: 8, prompt: 1254 + 5 + 3, cached: 1152, finishReason: "stop",
		},
		{
			name:       "a single long message is not cached",
			body:       `{"model":"m","messages":[{"role":"user","content":"` + long + `"}]}`,
			completion: 8, prompt: 1254 + 3, cached: 0, finishReason: "stop",
		},
	}
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var firstContent any
			for attempt := range 3 { // the same request always counts the same
				rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", tt.body, tt.headers...)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				m := decodeObject(t, rec.Body.Bytes())
				checkUsage(t, "usage", m["usage"], tt.prompt, tt.completion, tt.cached)
				choice := m["choices"].([]any)[0].(map[string]any)
				expectValue(t, "finish_reason", choice["finish_reason"], tt.finishReason)
				content := choice["message"].(map[string]any)["content"]
				expectValue(t, "content", content, expectedContent(int(tt.completion)))
				if attempt == 0 {
					firstContent = content
				} else if content != firstContent {
					t.Errorf("content changed between identical requests")
				}
			}
		})
	}
}

func TestEscapedAndPlainPromptsCountAlike(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	plain := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"<b>&amp;</b> naïve"}]}`)
	escaped := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"\u003cb\u003e\u0026amp;\u003c/b\u003e na\u00efve"}]}`)
	p := decodeObject(t, plain.Body.Bytes())["usage"].(map[string]any)["prompt_tokens"]
	e := decodeObject(t, escaped.Body.Bytes())["usage"].(map[string]any)["prompt_tokens"]
	if p != e {
		t.Errorf("prompt_tokens %v (plain) != %v (escaped)", p, e)
	}
}

func TestModelIsEchoedEscaped(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"we\"ird\\mo\u0001del\u2028é","messages":[{"role":"user","content":"x"}]}`)
	m := decodeObject(t, rec.Body.Bytes())
	expectValue(t, "model", m["model"], "we\"ird\\mo\x01del\u2028é")
}

func TestRequestValidation(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		status      int
		code, param string
	}{
		{"malformed JSON", `{"model":`, 400, "", ""},
		{"not JSON", `hello`, 400, "", ""},
		{"empty body", ``, 400, "", ""},
		{"not an object", `[1,2]`, 400, "", ""},
		{"null", `null`, 400, "missing_required_parameter", "model"},
		{"missing model", `{"messages":[{"role":"user","content":"x"}]}`, 400, "missing_required_parameter", "model"},
		{"empty model", `{"model":"","messages":[{"role":"user","content":"x"}]}`, 400, "missing_required_parameter", "model"},
		{"missing messages", `{"model":"m"}`, 400, "missing_required_parameter", "messages"},
		{"empty messages", `{"model":"m","messages":[]}`, 400, "empty_array", "messages"},
		{"messages not an array", `{"model":"m","messages":{}}`, 400, "invalid_type", "messages"},
		{"model not a string", `{"model":4,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_type", "model"},
		{"stream not a boolean", `{"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]}`, 400, "invalid_type", "stream"},
		{"missing role", `{"model":"m","messages":[{"role":"user","content":"x"},{"content":"y"}]}`, 400, "missing_required_parameter", "messages[1].role"},
		{"unknown role", `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, 400, "invalid_value", "messages[0].role"},
		{"content a number", `{"model":"m","messages":[{"role":"user","content":5}]}`, 400, "invalid_type", "messages.content"},
		{"max_tokens zero", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, 400, "integer_below_min_value", "max_tokens"},
		{"max_completion_tokens negative", `{"model":"m","max_completion_tokens":-3,"messages":[{"role":"user","content":"x"}]}`, 400, "integer_below_min_value", "max_completion_tokens"},
		{"max_tokens not an integer", `{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_type", "max_tokens"},
		{"unknown fields are ignored", `{"model":"m","temperature":0.2,"tools":[],"user":"u","messages":[{"role":"developer","content":"x","name":"n"}]}`, 200, "", ""},
	}
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status != 200 {
				checkError(t, rec.Body.Bytes(), "invalid_request_error", tt.code, tt.param)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	p := testProvider("secure")
	p.APIKey = "sk-mock-secret"
	s := New([]config.MockProvider{p})
	tests := []struct {
		name   string
		header string
		status int
	}{
		{"no header", "", 401},
		{"wrong key", "Bearer sk-other", 401},
		{"wrong scheme", "Basic sk-mock-secret", 401},
		{"prefix of the key", "Bearer sk-mock", 401},
		{"right key", "Bearer sk-mock-secret", 200},
		{"scheme is case-insensitive", "bearer sk-mock-secret", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/secure/v1/chat/completions", "/secure/v1/models"} {
				method := http.MethodPost
				if strings.HasSuffix(path, "models") {
					method = http.MethodGet
				}
				var headers []string
				if tt.header != "" {
					headers = []string{"Authorization", tt.header}
				}
				rec := serve(t, s, method, path, basicBody, headers...)
				if rec.Code != tt.status {
					t.Fatalf("%s: status %d, want %d: %s", path, rec.Code, tt.status, rec.Body)
				}
				if tt.status == 401 {
					checkError(t, rec.Body.Bytes(), "invalid_request_error", "invalid_api_key", "")
					if strings.Contains(rec.Body.String(), "sk-") {
						t.Errorf("the error echoes a key: %s", rec.Body)
					}
				}
			}
		})
	}
}

func TestInjectedFailures(t *testing.T) {
	tests := []struct {
		name       string
		provider   func(*config.MockProvider)
		body       string
		headers    []string
		status     int
		errType    string
		code       string
		param      string
		retryAfter bool
		stats      Stats
	}{
		{
			name:     "ErrorRate 1 gives 500",
			provider: func(p *config.MockProvider) { p.ErrorRate = 1 },
			status:   500, errType: "server_error",
			stats: Stats{Requests: 1, Errors: 1},
		},
		{
			name:     "RateLimitRate 1 gives 429 with Retry-After",
			provider: func(p *config.MockProvider) { p.RateLimitRate = 1 },
			status:   429, errType: "rate_limit_exceeded", code: "rate_limit_exceeded", retryAfter: true,
			stats: Stats{Requests: 1, RateLimited: 1},
		},
		{
			name:     "X-Mock-Status 2xx turns failures off",
			provider: func(p *config.MockProvider) { p.ErrorRate = 1 },
			headers:  []string{HeaderStatus, "200"},
			status:   200,
			stats:    Stats{Requests: 1},
		},
		{
			name:    "X-Mock-Status 503",
			headers: []string{HeaderStatus, "503"},
			status:  503, errType: "server_error",
			stats: Stats{Requests: 1, Errors: 1},
		},
		{
			name:    "X-Mock-Status 429",
			headers: []string{HeaderStatus, "429"},
			status:  429, errType: "rate_limit_exceeded", code: "rate_limit_exceeded", retryAfter: true,
			stats: Stats{Requests: 1, RateLimited: 1},
		},
		{
			name:    "X-Mock-Status 401",
			headers: []string{HeaderStatus, "401"},
			status:  401, errType: "invalid_request_error", code: "invalid_api_key",
			stats: Stats{Requests: 1},
		},
		{
			name:    "X-Mock-Status 404",
			headers: []string{HeaderStatus, "404"},
			status:  404, errType: "invalid_request_error", code: "model_not_found",
			stats: Stats{Requests: 1},
		},
		{
			name:    "X-Mock-Status 400",
			headers: []string{HeaderStatus, "400"},
			status:  400, errType: "invalid_request_error",
			stats: Stats{Requests: 1},
		},
		{
			name:    "X-Mock-Status out of range",
			headers: []string{HeaderStatus, "302"},
			status:  400, errType: "invalid_request_error", code: "invalid_header", param: HeaderStatus,
			stats: Stats{Requests: 1},
		},
		{
			name:     "an invalid request gets 400 before any failure is injected",
			provider: func(p *config.MockProvider) { p.ErrorRate = 1 },
			body:     `{"messages":[{"role":"user","content":"x"}]}`,
			status:   400, errType: "invalid_request_error", code: "missing_required_parameter", param: "model",
			stats: Stats{Requests: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProvider("flaky")
			if tt.provider != nil {
				tt.provider(&p)
			}
			s := New([]config.MockProvider{p})
			body := basicBody
			if tt.body != "" {
				body = tt.body
			}
			for _, stream := range []bool{false, true} {
				b := body
				if stream {
					b = strings.Replace(body, `{`, `{"stream":true,`, 1)
				}
				rec := serve(t, s, http.MethodPost, "/flaky/v1/chat/completions", b, tt.headers...)
				if rec.Code != tt.status {
					t.Fatalf("stream=%v: status %d, want %d: %s", stream, rec.Code, tt.status, rec.Body)
				}
				if tt.status != 200 {
					checkError(t, rec.Body.Bytes(), tt.errType, tt.code, tt.param)
					if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
						t.Errorf("Content-Type = %q", ct)
					}
				}
				if got := rec.Header().Get("Retry-After"); (got == "1") != tt.retryAfter {
					t.Errorf("Retry-After = %q", got)
				}
			}
			want := tt.stats
			want.Requests *= 2
			want.Errors *= 2
			want.RateLimited *= 2
			if tt.status == 200 {
				want.Streams = 1
			}
			if got := s.Stats("flaky"); got != want {
				t.Errorf("Stats = %+v, want %+v", got, want)
			}
		})
	}
}

func TestFailureRatesAreRoughlyHonoured(t *testing.T) {
	p := testProvider("flaky")
	p.ErrorRate, p.RateLimitRate = 0.2, 0.3
	s := New([]config.MockProvider{p})
	const n = 4000
	for range n {
		serve(t, s, http.MethodPost, "/flaky/v1/chat/completions", basicBody)
	}
	st := s.Stats("flaky")
	// Binomial standard deviations are about 25 and 29: allow six.
	if st.Errors < 800-150 || st.Errors > 800+150 || st.RateLimited < 1200-175 || st.RateLimited > 1200+175 {
		t.Errorf("of %d requests, %d errors and %d rate limited; want about 800 and 1200", n, st.Errors, st.RateLimited)
	}
}

func TestBadOverrideHeaders(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, h := range [][2]string{
		{HeaderStatus, "abc"}, {HeaderStatus, "100"}, {HeaderStatus, "600"},
		{HeaderLatencyMs, "-1"}, {HeaderLatencyMs, "1.5"},
		{HeaderCompletionTokens, "-1"}, {HeaderCompletionTokens, "99999999"},
		{HeaderTokensPerSecond, "NaN"}, {HeaderTokensPerSecond, "-2"},
		{HeaderCutAfter, "x"}, {HeaderMalformed, "maybe"},
	} {
		rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody, h[0], h[1])
		if rec.Code != 400 {
			t.Errorf("%s: %s gave %d, want 400", h[0], h[1], rec.Code)
			continue
		}
		checkError(t, rec.Body.Bytes(), "invalid_request_error", "invalid_header", h[0])
	}
}

func TestLatency(t *testing.T) {
	tests := []struct {
		name     string
		provider config.MockProvider
		headers  []string
		atLeast  time.Duration
	}{
		{name: "provider latency", provider: config.MockProvider{Name: "slow", Latency: 80 * time.Millisecond}, atLeast: 80 * time.Millisecond},
		{name: "latency plus jitter", provider: config.MockProvider{Name: "slow", Latency: 50 * time.Millisecond, Jitter: 30 * time.Millisecond}, atLeast: 50 * time.Millisecond},
		{name: "header overrides", provider: config.MockProvider{Name: "slow"}, headers: []string{HeaderLatencyMs, "120"}, atLeast: 120 * time.Millisecond},
		{name: "500s wait too", provider: config.MockProvider{Name: "slow", ErrorRate: 1, Latency: 60 * time.Millisecond}, atLeast: 60 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New([]config.MockProvider{tt.provider})
			start := time.Now()
			rec := serve(t, s, http.MethodPost, "/slow/v1/chat/completions", basicBody, tt.headers...)
			if elapsed := time.Since(start); elapsed < tt.atLeast {
				t.Errorf("answered (%d) after %v, want at least %v", rec.Code, elapsed, tt.atLeast)
			}
		})
	}
}

func TestClientGoneStopsTheWait(t *testing.T) {
	s := New([]config.MockProvider{{Name: "slow", Latency: time.Hour}})
	for _, body := range []string{basicBody, `{"stream":true,` + basicBody[1:]} {
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/slow/v1/chat/completions", strings.NewReader(body))
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.ServeHTTP(httptest.NewRecorder(), req)
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the handler kept waiting after its client went away")
		}
	}
	if got := s.Stats("slow"); got.Canceled != 2 || got.Requests != 2 || got.Streams != 0 {
		t.Errorf("Stats = %+v, want 2 requests, 2 canceled", got)
	}
}

func TestRouting(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha"), testProvider("beta")})
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", "/alpha/v1/chat/completions", 200, ""},
		{"POST", "/beta/v1/chat/completions", 200, ""},
		{"POST", "/gamma/v1/chat/completions", 404, "unknown_provider"},
		{"POST", "/", 404, "unknown_provider"},
		{"POST", "/v1/chat/completions", 404, "unknown_provider"},
		{"GET", "/alpha/v1/chat/completions", 405, ""},
		{"POST", "/alpha/v1/models", 405, ""},
		{"POST", "/alpha/v1/audio/speech", 404, ""},
		{"GET", "/alpha/v1/embeddings", 405, ""},
		{"POST", "/alpha/v1/embeddings", 400, ""}, // basicBody has no input
		{"GET", "/alpha/v1/models", 200, ""},
		{"GET", "/alpha/v1/models/gpt-4o-mini", 200, ""},
		{"GET", "/alpha/v1/models/nope", 404, "model_not_found"},
		{"GET", "/healthz", 200, ""},
	}
	for _, tt := range tests {
		rec := serve(t, s, tt.method, tt.path, basicBody)
		if rec.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.status)
			continue
		}
		if tt.status != 200 {
			m := decodeObject(t, rec.Body.Bytes())
			e := expectKeys(t, tt.path, m["error"], "message", "type", "param", "code")
			expectValue(t, "type", e["type"], "invalid_request_error")
			if tt.code != "" {
				expectValue(t, "code", e["code"], tt.code)
			}
		}
	}
}

func TestModels(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	rec := serve(t, s, http.MethodGet, "/alpha/v1/models", "")
	m := decodeObject(t, rec.Body.Bytes())
	expectKeys(t, "list", m, "object", "data")
	expectValue(t, "object", m["object"], "list")
	data, _ := m["data"].([]any)
	if len(data) == 0 {
		t.Fatal("no models")
	}
	for i, d := range data {
		model := expectKeys(t, "data["+strconv.Itoa(i)+"]", d, "id", "object", "created", "owned_by")
		expectValue(t, "object", model["object"], "model")
		expectValue(t, "owned_by", model["owned_by"], "alpha")
		if number(t, "created", model["created"]) <= 0 {
			t.Errorf("created not set")
		}
	}
	one := decodeObject(t, serve(t, s, http.MethodGet, "/alpha/v1/models/gpt-4o", "").Body.Bytes())
	expectValue(t, "id", one["id"], "gpt-4o")
}

func TestMalformedAndCutPlainResponses(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	srv := httptest.NewServer(s)
	defer srv.Close()

	resp := post(t, srv.URL+"/alpha/v1/chat/completions", basicBody, HeaderMalformed, "1")
	body := readAll(t, resp)
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	if jsonValid(body) {
		t.Errorf("malformed body is valid JSON: %s", body)
	}

	resp = post(t, srv.URL+"/alpha/v1/chat/completions", basicBody, HeaderCutAfter, "10")
	got, err := readAllErr(resp)
	if err == nil {
		t.Errorf("reading a cut body succeeded: %s", got)
	}
	if len(got) != 10 {
		t.Errorf("got %d bytes before the cut, want 10", len(got))
	}
}

// Rejections do not wait for the latency: with an hour of it, they would
// never come.
func TestRejectionsAreImmediate(t *testing.T) {
	s := New([]config.MockProvider{{Name: "slow", APIKey: "sk-k", Latency: time.Hour}})
	tests := []struct {
		name    string
		body    string
		headers []string
		status  int
	}{
		{"bad key", basicBody, []string{"Authorization", "Bearer nope"}, 401},
		{"invalid request", `{"model":"m"}`, []string{"Authorization", "Bearer sk-k"}, 400},
		{"forced 429", basicBody, []string{"Authorization", "Bearer sk-k", HeaderStatus, "429"}, 429},
		{"forced 403", basicBody, []string{"Authorization", "Bearer sk-k", HeaderStatus, "403"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan int, 1)
			go func() {
				req := httptest.NewRequest(http.MethodPost, "/slow/v1/chat/completions", strings.NewReader(tt.body))
				for i := 0; i+1 < len(tt.headers); i += 2 {
					req.Header.Set(tt.headers[i], tt.headers[i+1])
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				done <- rec.Code
			}()
			select {
			case code := <-done:
				if code != tt.status {
					t.Errorf("status %d, want %d", code, tt.status)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the rejection waited for the latency")
			}
		})
	}
}

type endlessReader struct{}

func (endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestBodyTooLarge(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	declared := httptest.NewRequest(http.MethodPost, "/alpha/v1/chat/completions", strings.NewReader(basicBody))
	declared.ContentLength = maxRequestBytes + 1
	undeclared := httptest.NewRequest(http.MethodPost, "/alpha/v1/chat/completions", io.LimitReader(endlessReader{}, maxRequestBytes+1))
	undeclared.ContentLength = -1
	for _, req := range []*http.Request{declared, undeclared} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", rec.Code)
		}
		checkError(t, rec.Body.Bytes(), "invalid_request_error", "", "")
	}
}
