package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/record"
)

const helloBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello"}]}`

func TestChatNonStreaming(t *testing.T) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "p1"})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...)}})
	resp := p.post(t, "/v1/chat/completions", helloBody,
		"X-Switchyard-User", "alice", "X-Switchyard-Tags", "a, b", "X-Switchyard-Meta-Feature", "search", "Helicone-Session-Id", "s-1")
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var out struct {
		Choices []struct {
			Message      struct{ Content string } `json:"message"`
			FinishReason string                   `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int64           `json:"prompt_tokens"`
			CompletionTokens int64           `json:"completion_tokens"`
			Cost             json.RawMessage `json:"cost"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, body)
	}
	if out.Usage.CompletionTokens != 12 || out.Usage.PromptTokens == 0 {
		t.Fatalf("usage = %+v", out.Usage)
	}
	rec := p.sink.next(t)
	wantCost := out.Usage.PromptTokens*2500 + out.Usage.CompletionTokens*10000
	if rec.CostNUSD != wantCost {
		t.Errorf("cost_nusd = %d, want %d", rec.CostNUSD, wantCost)
	}
	if got, want := string(out.Usage.Cost), config.FormatUSD(wantCost); got != want {
		t.Errorf("usage.cost = %s, want %s", got, want)
	}
	for h, want := range map[string]string{"X-Request-Id": rec.RequestID, "X-Switchyard-Provider": "p1", "X-Switchyard-Model": "gpt-4o", "X-Switchyard-Attempts": "1"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if rec.Usage.PromptTokens != out.Usage.PromptTokens || rec.Usage.CompletionTokens != 12 {
		t.Errorf("record usage = %+v, response usage = %+v", rec.Usage, out.Usage)
	}
	if rec.Outcome != record.OutcomeOK || rec.StatusCode != 200 || rec.Provider != "p1" || rec.Model != "gpt-4o" || rec.ModelRequested != "gpt-4o" {
		t.Errorf("record = %+v", rec)
	}
	if rec.FinishReason != "stop" || rec.Stream || rec.Endpoint != "/v1/chat/completions" {
		t.Errorf("finish=%q stream=%v endpoint=%q", rec.FinishReason, rec.Stream, rec.Endpoint)
	}
	if rec.KeyID != "k1" || rec.Team != "team-a" || rec.User != "alice" || rec.SessionID != "s-1" {
		t.Errorf("attribution: key=%q team=%q user=%q session=%q", rec.KeyID, rec.Team, rec.User, rec.SessionID)
	}
	if strings.Join(rec.Tags, ",") != "a,b" || rec.Metadata["feature"] != "search" {
		t.Errorf("tags=%v metadata=%v", rec.Tags, rec.Metadata)
	}
	if rec.RequestBody != helloBody || !strings.Contains(rec.ResponseBody, out.Choices[0].Message.Content) {
		t.Errorf("bodies: request=%q response=%q", rec.RequestBody, rec.ResponseBody)
	}
	if len(rec.Attempts) != 1 || rec.Attempts[0].StatusCode != 200 || rec.Attempts[0].Provider != "p1" {
		t.Errorf("attempts = %+v", rec.Attempts)
	}
	if rec.TraceID == "" || rec.SpanID == "" || rec.Routing.Strategy != "ordered" {
		t.Errorf("trace=%q span=%q routing=%+v", rec.TraceID, rec.SpanID, rec.Routing)
	}
	if rec.StartedAtMs == 0 || rec.LatencyMs < 0 || rec.TTFTMs > rec.LatencyMs {
		t.Errorf("timing: started=%d latency=%d ttft=%d", rec.StartedAtMs, rec.LatencyMs, rec.TTFTMs)
	}
}

func TestChatStreaming(t *testing.T) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "p1", Latency: 20 * time.Millisecond})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...)}})
	for _, tc := range []struct {
		name string
		body string
	}{
		{"usage not requested", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`},
		{"usage requested", `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]}`},
		{"usage refused", `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"Say hello"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := p.post(t, "/v1/chat/completions", tc.body)
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
				t.Fatalf("status %d, content type %q", resp.StatusCode, ct)
			}
			events := sseEvents(t, readBody(t, resp))
			if events[len(events)-1] != "[DONE]" {
				t.Fatalf("last event %q, want [DONE]", events[len(events)-1])
			}
			var content strings.Builder
			usageChunks := 0
			var usage struct {
				PromptTokens     int64           `json:"prompt_tokens"`
				CompletionTokens int64           `json:"completion_tokens"`
				Cost             json.RawMessage `json:"cost"`
			}
			for _, ev := range events[:len(events)-1] {
				var chunk struct {
					Object  string `json:"object"`
					Choices []struct {
						Delta struct{ Content string } `json:"delta"`
					} `json:"choices"`
					Usage json.RawMessage `json:"usage"`
				}
				if err := json.Unmarshal([]byte(ev), &chunk); err != nil {
					t.Fatalf("chunk is not JSON: %v: %s", err, ev)
				}
				if chunk.Object != "chat.completion.chunk" {
					t.Fatalf("object = %q", chunk.Object)
				}
				for _, c := range chunk.Choices {
					content.WriteString(c.Delta.Content)
				}
				if len(chunk.Usage) > 0 && string(chunk.Usage) != "null" {
					usageChunks++
					if err := json.Unmarshal(chunk.Usage, &usage); err != nil {
						t.Fatal(err)
					}
				}
			}
			if usageChunks != 1 {
				t.Fatalf("%d chunks carry usage, want exactly 1", usageChunks)
			}
			rec := p.sink.next(t)
			if !rec.Stream || rec.Outcome != record.OutcomeOK || rec.FinishReason != "stop" {
				t.Errorf("record stream=%v outcome=%q finish=%q", rec.Stream, rec.Outcome, rec.FinishReason)
			}
			if rec.Usage.PromptTokens != usage.PromptTokens || rec.Usage.CompletionTokens != usage.CompletionTokens || usage.CompletionTokens != 12 {
				t.Errorf("record usage %+v, streamed usage %+v", rec.Usage, usage)
			}
			wantCost := usage.PromptTokens*2500 + usage.CompletionTokens*10000
			if rec.CostNUSD != wantCost || string(usage.Cost) != config.FormatUSD(wantCost) {
				t.Errorf("cost: record %d, chunk %s, want %d", rec.CostNUSD, usage.Cost, wantCost)
			}
			if rec.TTFTMs < 20 || rec.TTFTMs > rec.LatencyMs {
				t.Errorf("ttft %d ms (latency %d ms); the provider waits 20 ms before its first token", rec.TTFTMs, rec.LatencyMs)
			}
			var reassembled struct {
				Choices []struct {
					Message struct{ Content string } `json:"message"`
				} `json:"choices"`
			}
			if err := json.Unmarshal([]byte(rec.ResponseBody), &reassembled); err != nil || len(reassembled.Choices) != 1 {
				t.Fatalf("response_body is not a completion: %v: %s", err, rec.ResponseBody)
			}
			if reassembled.Choices[0].Message.Content != content.String() || content.Len() == 0 {
				t.Errorf("reassembled %q, streamed %q", reassembled.Choices[0].Message.Content, content.String())
			}
		})
	}
}

func TestFallback(t *testing.T) {
	setup := func(t *testing.T) *testProxy {
		providers, _ := mockProviders(t,
			config.MockProvider{Name: "broken", ErrorRate: 1},
			config.MockProvider{Name: "limited", RateLimitRate: 1},
			config.MockProvider{Name: "healthy"},
		)
		return startProxy(t, testSetup{providers: providers, models: []config.Model{
			modelOn("gpt-4o", providers...),
			modelOn("only-broken", providers[:2]...),
		}})
	}
	attempts := func(rec *record.Record) string {
		var got []string
		for _, a := range rec.Attempts {
			got = append(got, a.Provider+":"+strconv.Itoa(a.StatusCode)+":"+a.ErrorType)
		}
		return strings.Join(got, " ")
	}

	t.Run("to the healthy deployment", func(t *testing.T) {
		p := setup(t)
		for i, stream := range []bool{false, true} {
			body := `{"model":"gpt-4o","stream":` + strconv.FormatBool(stream) + `,"messages":[{"role":"user","content":"hi"}]}`
			resp := p.post(t, "/v1/chat/completions", body)
			readBody(t, resp)
			rec := p.sink.next(t)
			// The 429 cools "limited" down for its Retry-After (1 s): the
			// second request does not try it.
			want := []string{"broken:500:upstream_error limited:429:rate_limited healthy:200:", "broken:500:upstream_error healthy:200:"}[i]
			if got := attempts(rec); got != want {
				t.Errorf("stream=%v: attempts %s, want %s", stream, got, want)
			}
			if resp.StatusCode != 200 || resp.Header.Get("X-Switchyard-Provider") != "healthy" || resp.Header.Get("X-Switchyard-Attempts") != strconv.Itoa(len(rec.Attempts)) {
				t.Fatalf("stream=%v: status %d provider %q attempts %q", stream, resp.StatusCode, resp.Header.Get("X-Switchyard-Provider"), resp.Header.Get("X-Switchyard-Attempts"))
			}
			if rec.Provider != "healthy" || rec.Outcome != record.OutcomeOK || !strings.Contains(rec.Routing.Reason, "served by healthy after") {
				t.Errorf("provider %q outcome %q reason %q", rec.Provider, rec.Outcome, rec.Routing.Reason)
			}
			if i == 1 {
				skipped := ""
				for _, c := range rec.Routing.Candidates {
					if c.Provider == "limited" {
						skipped = c.Skipped
					}
				}
				if !strings.Contains(skipped, "429") {
					t.Errorf("the record does not say why limited was skipped: %+v", rec.Routing.Candidates)
				}
			}
		}
	})

	t.Run("every deployment fails", func(t *testing.T) {
		p := setup(t)
		resp := p.post(t, "/v1/chat/completions", `{"model":"only-broken","messages":[{"role":"user","content":"hi"}]}`)
		e := decodeError(t, resp)
		if resp.StatusCode != http.StatusTooManyRequests || e.Error.Metadata.ErrorType != "rate_limited" || len(e.Error.Metadata.Attempts) != 2 {
			t.Fatalf("status %d, error %+v", resp.StatusCode, e.Error)
		}
		if resp.Header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After = %q, want the provider's 1", resp.Header.Get("Retry-After"))
		}
		rec := p.sink.next(t)
		if rec.Outcome != record.OutcomeRateLimited || rec.StatusCode != 429 || rec.ErrorType != "rate_limited" {
			t.Errorf("record outcome %q status %d error %q", rec.Outcome, rec.StatusCode, rec.ErrorType)
		}
	})
}

func TestUpstreamFailures(t *testing.T) {
	goodChunk := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`
	var secondCalled int
	reply := func(status int, contentType, body string) upstreamFunc {
		return func(ctx context.Context, path string, b []byte, stream bool) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(strings.NewReader(body))}, nil
		}
	}
	second := func(ctx context.Context, path string, b []byte, stream bool) (*http.Response, error) {
		secondCalled++
		if stream {
			return reply(200, "text/event-stream", "data: "+goodChunk+"\n\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")(ctx, path, b, stream)
		}
		return reply(200, "application/json", `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)(ctx, path, b, stream)
	}
	tests := []struct {
		name       string
		stream     bool
		first      upstreamFunc
		wantStatus int
		wantType   string // error_type of the first attempt
		fellBack   bool
	}{
		{"garbage body falls back", false, reply(200, "application/json", "<html>oops"), 200, "upstream_malformed", true},
		{"an error object with 200 falls back", false, reply(200, "application/json", `{"error":{"message":"busy"}}`), 200, "upstream_malformed", true},
		{"stream ending before data falls back", true, reply(200, "text/event-stream", ""), 200, "upstream_malformed", true},
		{"garbage first chunk falls back", true, reply(200, "text/event-stream", "data: nope\n\n"), 200, "upstream_malformed", true},
		{"connection error falls back", false, func(ctx context.Context, path string, b []byte, stream bool) (*http.Response, error) {
			return nil, io.ErrUnexpectedEOF
		}, 200, "upstream_error", true},
		{"client error is not retried", false, reply(400, "application/json", `{"error":{"message":"Invalid value for temperature: 7","type":"invalid_request_error"}}`), 400, "upstream_rejected", false},
		{"mid-stream cut ends with an error chunk", true, reply(200, "text/event-stream", "data: "+goodChunk+"\n\n"), 200, "upstream_error", false},
		{"mid-stream garbage ends with an error chunk", true, reply(200, "text/event-stream", "data: "+goodChunk+"\n\ndata: {broken\n\n"), 200, "upstream_malformed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secondCalled = 0
			p := startProxy(t, testSetup{
				providers: []config.Provider{{Name: "first", Type: "openai", BaseURL: "http://first.invalid"}, {Name: "second", Type: "openai", BaseURL: "http://second.invalid"}},
				models:    []config.Model{{Name: "m", Deployments: []config.Deployment{{Provider: "first", Model: "m", Pricing: testPricing}, {Provider: "second", Model: "m", Pricing: testPricing}}}},
			})
			p.srv.upstreams = map[string]provider.Adapter{"first": tt.first, "second": upstreamFunc(second)}
			body := `{"model":"m","stream":` + strconv.FormatBool(tt.stream) + `,"messages":[{"role":"user","content":"hi"}]}`
			resp := p.post(t, "/v1/chat/completions", body)
			raw := readBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, raw)
			}
			rec := p.sink.next(t)
			if rec.Attempts[0].ErrorType != tt.wantType {
				t.Errorf("first attempt error_type %q, want %q", rec.Attempts[0].ErrorType, tt.wantType)
			}
			if (secondCalled > 0) != tt.fellBack {
				t.Errorf("second deployment called %d times, fell back = %v", secondCalled, tt.fellBack)
			}
			if tt.wantStatus == 400 && !strings.Contains(string(raw), "Invalid value for temperature") {
				t.Errorf("the provider's message is not passed on: %s", raw)
			}
			if tt.stream && !tt.fellBack {
				events := sseEvents(t, raw)
				if len(events) < 3 || events[len(events)-1] != "[DONE]" {
					t.Fatalf("events %q", events)
				}
				var last struct {
					Choices []struct {
						FinishReason string `json:"finish_reason"`
					} `json:"choices"`
					Error struct{ Message, Code string } `json:"error"`
				}
				if err := json.Unmarshal([]byte(events[len(events)-2]), &last); err != nil {
					t.Fatal(err)
				}
				if last.Choices[0].FinishReason != "error" || last.Error.Code != tt.wantType {
					t.Errorf("error chunk %s", events[len(events)-2])
				}
				if rec.Outcome != record.OutcomeError || rec.ErrorType != tt.wantType || rec.FinishReason != "error" {
					t.Errorf("record outcome %q error %q finish %q", rec.Outcome, rec.ErrorType, rec.FinishReason)
				}
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	providers, m := mockProviders(t, config.MockProvider{Name: "p1"})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...)}, tweak: func(c *config.Proxy) { c.MaxRequestBytes = 1024 }})
	tests := []struct {
		name, body string
		status     int
		errorType  string
		param      string
	}{
		{"malformed JSON", `{"model":`, 400, "invalid_json", ""},
		{"not an object", `[1,2]`, 400, "invalid_request", ""},
		{"model of the wrong type", `{"model":5,"messages":[]}`, 400, "invalid_request", "model"},
		{"no model", `{"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request", "model"},
		{"no messages", `{"model":"gpt-4o"}`, 400, "invalid_request", "messages"},
		{"empty messages", `{"model":"gpt-4o","messages":[]}`, 400, "invalid_request", "messages"},
		{"unknown model", `{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}`, 404, "model_not_found", "model"},
		{"body too large", `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, 413, "body_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := p.post(t, "/v1/chat/completions", tt.body)
			e := decodeError(t, resp)
			if resp.StatusCode != tt.status || e.Error.Code != tt.errorType || e.Error.Metadata.ErrorType != tt.errorType {
				t.Fatalf("status %d code %q metadata %q; want %d %q", resp.StatusCode, e.Error.Code, e.Error.Metadata.ErrorType, tt.status, tt.errorType)
			}
			if tt.param != "" && (e.Error.Param == nil || *e.Error.Param != tt.param) {
				t.Errorf("param = %v, want %q", e.Error.Param, tt.param)
			}
			rec := p.sink.next(t)
			if rec.StatusCode != tt.status || rec.ErrorType != tt.errorType || rec.Outcome != record.OutcomeError || e.Error.Metadata.RequestID != rec.RequestID {
				t.Errorf("record status %d error %q outcome %q id %q (error says %q)", rec.StatusCode, rec.ErrorType, rec.Outcome, rec.RequestID, e.Error.Metadata.RequestID)
			}
		})
	}
	if n := m.Stats("p1").Requests; n != 0 {
		t.Errorf("the provider saw %d requests; bad requests must not reach it", n)
	}
}

func TestAuth(t *testing.T) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "p1"})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...)}})
	for _, auth := range []string{"", "Bearer wrong-key-123", "Basic " + testKey, testKey} {
		req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/chat/completions", strings.NewReader(helloBody))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw := readBody(t, resp)
		resp.Body.Close()
		if resp.StatusCode != 401 || strings.Contains(string(raw), testKey) || strings.Contains(string(raw), "wrong-key-123") {
			t.Errorf("auth %q: status %d body %s", auth, resp.StatusCode, raw)
		}
	}
	select {
	case r := <-p.sink.ch:
		t.Fatalf("an unauthenticated request was recorded: %+v", r)
	default:
	}
}

func TestTraceContext(t *testing.T) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "p1"})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...)}})
	const trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := p.post(t, "/v1/chat/completions", helloBody, "traceparent", "00-"+trace+"-"+parent+"-01")
	readBody(t, resp)
	rec := p.sink.next(t)
	if rec.TraceID != trace || rec.ParentSpanID != parent || len(rec.SpanID) != 16 || rec.SpanID == parent {
		t.Fatalf("trace %q parent %q span %q", rec.TraceID, rec.ParentSpanID, rec.SpanID)
	}
	if got, want := resp.Header.Get("Traceparent"), "00-"+trace+"-"+rec.SpanID+"-01"; got != want {
		t.Errorf("traceparent out = %q, want %q", got, want)
	}
	// An invalid traceparent starts a new trace.
	resp = p.post(t, "/v1/chat/completions", helloBody, "traceparent", "00-"+strings.Repeat("0", 32)+"-"+parent+"-01")
	readBody(t, resp)
	rec = p.sink.next(t)
	if rec.TraceID == "" || rec.TraceID == strings.Repeat("0", 32) || rec.ParentSpanID != "" {
		t.Errorf("invalid traceparent: trace %q parent %q", rec.TraceID, rec.ParentSpanID)
	}
}

func TestUpstreamRequest(t *testing.T) {
	var got struct {
		path string
		body map[string]json.RawMessage
	}
	p := startProxy(t, testSetup{
		providers: []config.Provider{{Name: "up", Type: "openai", BaseURL: "http://up.invalid"}},
		models:    []config.Model{{Name: "public", Deployments: []config.Deployment{{Provider: "up", Model: "private-v2", Pricing: testPricing}}}},
	})
	p.srv.upstreams = map[string]provider.Adapter{"up": upstreamFunc(func(ctx context.Context, path string, b []byte, stream bool) (*http.Response, error) {
		got.path = path
		if err := json.Unmarshal(b, &got.body); err != nil {
			t.Errorf("upstream body is not JSON: %s", b)
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}`))}, nil
	})}
	resp := p.post(t, "/v1/chat/completions", `{"model":"public","messages":[{"role":"user","content":"x"}],"models":["a"],"provider":{"sort":"price"},"session_id":"s","temperature":0.5,"stream":true,"stream_options":{"include_usage":false}}`)
	readBody(t, resp)
	p.sink.next(t)
	if got.path != "/chat/completions" {
		t.Errorf("path %q", got.path)
	}
	if string(got.body["model"]) != `"private-v2"` {
		t.Errorf("upstream model %s, want the deployment's", got.body["model"])
	}
	for _, k := range []string{"models", "provider", "session_id"} {
		if _, ok := got.body[k]; ok {
			t.Errorf("router-only field %q was sent upstream", k)
		}
	}
	if string(got.body["temperature"]) != "0.5" || string(got.body["stream_options"]) != `{"include_usage":true}` {
		t.Errorf("temperature %s stream_options %s", got.body["temperature"], got.body["stream_options"])
	}
}

func TestClientCancelsStream(t *testing.T) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "slow", TokensPerSecond: 20, CompletionTokens: 200})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...)}})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	rec := p.sink.next(t)
	if rec.Outcome != record.OutcomeCanceled || rec.ErrorType != "canceled" || rec.StatusCode != 200 {
		t.Fatalf("record outcome %q error %q status %d", rec.Outcome, rec.ErrorType, rec.StatusCode)
	}
	if rec.LatencyMs >= 5000 {
		t.Errorf("latency %d ms: the upstream was not cancelled with the client", rec.LatencyMs)
	}
}

func TestModels(t *testing.T) {
	p := startProxy(t, testSetup{
		providers: []config.Provider{{Name: "up", Type: "openai", BaseURL: "http://up.invalid"}},
		models: []config.Model{{Name: "m", Deployments: []config.Deployment{{Provider: "up", Model: "m",
			Pricing: config.Pricing{Input: price("0.15"), Output: price("0.60"), CachedInput: price("0.075"), Request: price("0.001")}}}},
			// Priced by the shipped catalog, but for its own input price.
			{Name: "sonnet", Deployments: []config.Deployment{{Provider: "up", Model: "claude-sonnet-4-5-20250929",
				Pricing: config.Pricing{Input: price("2.5")}}}}},
	})
	req, _ := http.NewRequest(http.MethodGet, p.url+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Object string `json:"object"`
		Data   []struct {
			ID, Object, OwnedBy string
			Pricing             map[string]string `json:"pricing"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Object != "list" || len(out.Data) != 2 || out.Data[0].ID != "m" || out.Data[1].ID != "sonnet" {
		t.Fatalf("models = %+v", out)
	}
	for i, want := range []map[string]string{
		{"prompt": "0.00000015", "completion": "0.0000006", "input_cache_read": "0.000000075", "input_cache_write": "0.00000015", "request": "0.001"},
		{"prompt": "0.0000025", "completion": "0.000015", "input_cache_read": "0.0000003", "input_cache_write": "0.00000375", "request": "0"},
	} {
		for k, v := range want {
			if out.Data[i].Pricing[k] != v {
				t.Errorf("%s: pricing.%s = %q, want %q", out.Data[i].ID, k, out.Data[i].Pricing[k], v)
			}
		}
	}
}

func TestUnknownRoute(t *testing.T) {
	p := startProxy(t, testSetup{})
	resp := p.post(t, "/v1/nope", `{}`)
	if e := decodeError(t, resp); resp.StatusCode != 404 || e.Error.Code != "not_found" {
		t.Fatalf("status %d code %q", resp.StatusCode, e.Error.Code)
	}
}
