package mock

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

var (
	messageIDPattern = regexp.MustCompile(`^msg_01[A-Za-z0-9]{22}$`)
	toolUseIDPattern = regexp.MustCompile(`^toolu_01[A-Za-z0-9]{24}$`)
	requestIDPattern = regexp.MustCompile(`^req_01[A-Za-z0-9]{24}$`)
)

// anthropicBasic is 13 input tokens: the system prompt's 28 bytes (7) and
// a message of 6 bytes (2) with its 4 of framing.
const anthropicBasic = `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"Hello!"}]}`

func anthropicUsageOf(t testing.TB, where string, v any, input, output, write, read int64) {
	t.Helper()
	u := expectKeys(t, where, v, "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation", "output_tokens", "service_tier")
	for _, f := range []struct {
		key  string
		want int64
	}{{"input_tokens", input}, {"output_tokens", output}, {"cache_creation_input_tokens", write}, {"cache_read_input_tokens", read}} {
		if got := number(t, where+"."+f.key, u[f.key]); got != f.want {
			t.Errorf("%s.%s = %d, want %d", where, f.key, got, f.want)
		}
	}
	cc := expectKeys(t, where+".cache_creation", u["cache_creation"], "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")
	if got := number(t, "5m", cc["ephemeral_5m_input_tokens"]) + number(t, "1h", cc["ephemeral_1h_input_tokens"]); got != write {
		t.Errorf("%s.cache_creation adds up to %d, want %d", where, got, write)
	}
	expectValue(t, where+".service_tier", u["service_tier"], "standard")
}

func TestAnthropicMessageShape(t *testing.T) {
	s := New([]config.MockProvider{testProvider("claude")})
	rec := serve(t, s, http.MethodPost, "/claude/v1/messages", anthropicBasic, anthropicHeaders...)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !requestIDPattern.MatchString(rec.Header().Get("Request-Id")) {
		t.Errorf("request-id = %q", rec.Header().Get("Request-Id"))
	}
	m := decodeObject(t, rec.Body.Bytes())
	expectKeys(t, "message", m, "id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage")
	if id, _ := m["id"].(string); !messageIDPattern.MatchString(id) {
		t.Errorf("id = %q", id)
	}
	expectValue(t, "type", m["type"], "message")
	expectValue(t, "role", m["role"], "assistant")
	expectValue(t, "model", m["model"], "claude-sonnet-4-5")
	content := array(t, "content", m["content"])
	if len(content) != 1 {
		t.Fatalf("content = %v", content)
	}
	block := expectKeys(t, "content[0]", content[0], "type", "text")
	expectValue(t, "type", block["type"], "text")
	expectValue(t, "text", block["text"], expectedContent(8))
	expectValue(t, "stop_reason", m["stop_reason"], "end_turn")
	expectValue(t, "stop_sequence", m["stop_sequence"], nil)
	anthropicUsageOf(t, "usage", m["usage"], 13, 8, 0, 0)

	for _, tt := range []struct {
		name, body, stopReason, text string
		stopSequence                 any
		output                       int64
	}{
		{"max_tokens", strings.Replace(anthropicBasic, `"max_tokens":1024`, `"max_tokens":3`, 1), "max_tokens", expectedContent(3), nil, 3},
		{"stop sequence", strings.Replace(anthropicBasic, `"max_tokens":1024`, `"max_tokens":1024,"stop_sequences":["jumps"]`, 1), "stop_sequence", "The quick brown fox ", "jumps", 5},
		{"blocks", `{"model":"c","max_tokens":10,"system":[{"type":"text","text":"You are a helpful assistant."}],"messages":[{"role":"user","content":[{"type":"text","text":"Hello!"}]},{"role":"assistant","content":"Hi"},{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"text","text":"What is it?"}]}]}`, "end_turn", expectedContent(8), nil, 8},
	} {
		m := decodeObject(t, serve(t, s, http.MethodPost, "/claude/v1/messages", tt.body, anthropicHeaders...).Body.Bytes())
		expectValue(t, tt.name+": stop_reason", m["stop_reason"], tt.stopReason)
		expectValue(t, tt.name+": stop_sequence", m["stop_sequence"], tt.stopSequence)
		expectValue(t, tt.name+": text", object(t, "block", array(t, "content", m["content"])[0])["text"], tt.text)
		if got := number(t, "output_tokens", object(t, "usage", m["usage"])["output_tokens"]); got != tt.output {
			t.Errorf("%s: output_tokens %d, want %d", tt.name, got, tt.output)
		}
	}
	// 7 system; 6 for "Hello!"; 5 for "Hi"; 4 + 1,600 for the image + 3.
	m = decodeObject(t, serve(t, s, http.MethodPost, "/claude/v1/messages", `{"model":"c","max_tokens":10,"system":[{"type":"text","text":"You are a helpful assistant."}],"messages":[{"role":"user","content":[{"type":"text","text":"Hello!"}]},{"role":"assistant","content":"Hi"},{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"text","text":"What is it?"}]}]}`, anthropicHeaders...).Body.Bytes())
	anthropicUsageOf(t, "usage", m["usage"], 7+6+5+4+1600+3, 8, 0, 0)
}

func TestAnthropicAuthAndValidation(t *testing.T) {
	p := testProvider("claude")
	p.APIKey = "sk-ant-secret"
	s := New([]config.MockProvider{p})
	for _, tt := range []struct {
		name    string
		headers []string
		status  int
		errType string
	}{
		{"x-api-key", []string{"x-api-key", "sk-ant-secret", "anthropic-version", "2023-06-01"}, 200, ""},
		{"bearer", []string{"Authorization", "Bearer sk-ant-secret", "anthropic-version", "2023-06-01"}, 200, ""},
		{"no key", []string{"anthropic-version", "2023-06-01"}, 401, "authentication_error"},
		{"wrong key", []string{"x-api-key", "sk-ant-other", "anthropic-version", "2023-06-01"}, 401, "authentication_error"},
		{"no version", []string{"x-api-key", "sk-ant-secret"}, 400, "invalid_request_error"},
	} {
		rec := serve(t, s, http.MethodPost, "/claude/v1/messages", anthropicBasic, tt.headers...)
		if rec.Code != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, rec.Code, tt.status, rec.Body)
			continue
		}
		if tt.status != 200 {
			checkAnthropicError(t, rec.Body.Bytes(), tt.errType)
			if strings.Contains(rec.Body.String(), "sk-ant") {
				t.Errorf("the error echoes a key")
			}
		}
	}

	s = New([]config.MockProvider{testProvider("claude")})
	for _, body := range []string{
		`{"max_tokens":10,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"c","messages":[{"role":"user","content":"x"}]}`,
		`{"model":"c","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"c","max_tokens":10}`,
		`{"model":"c","max_tokens":10,"messages":[]}`,
		`{"model":"c","max_tokens":10,"messages":[{"role":"system","content":"x"}]}`,
		`{"model":"c","max_tokens":10,"messages":[{"role":"user"}]}`,
		`{"model":"c","max_tokens":10,"messages":[{"role":"user","content":5}]}`,
		`{"model":"c","max_tokens":"10","messages":[{"role":"user","content":"x"}]}`,
		`{"model":"c","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"t"}]}`,
		`{"model":"c","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"any"}}`,
		`{"model":"c","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"t","input_schema":{}}],"tool_choice":{"type":"tool","name":"u"}}`,
		`not json`, `[]`,
	} {
		rec := serve(t, s, http.MethodPost, "/claude/v1/messages", body, anthropicHeaders...)
		if rec.Code != 400 {
			t.Errorf("%s: status %d", body, rec.Code)
			continue
		}
		checkAnthropicError(t, rec.Body.Bytes(), "invalid_request_error")
	}
}

func checkAnthropicError(t testing.TB, body []byte, errType string) {
	t.Helper()
	m := decodeObject(t, body)
	expectKeys(t, "error body", m, "type", "error")
	expectValue(t, "type", m["type"], "error")
	e := expectKeys(t, "error", m["error"], "type", "message")
	expectValue(t, "error.type", e["type"], errType)
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("empty message")
	}
}

func TestAnthropicInjectedFailures(t *testing.T) {
	p := testProvider("claude")
	p.ErrorRate = 1
	s := New([]config.MockProvider{p})
	rec := serve(t, s, http.MethodPost, "/claude/v1/messages", anthropicBasic, anthropicHeaders...)
	if rec.Code != statusOverloaded {
		t.Fatalf("ErrorRate 1: status %d, want 529", rec.Code)
	}
	checkAnthropicError(t, rec.Body.Bytes(), "overloaded_error")
	for _, tt := range []struct {
		status, want int
		errType      string
	}{{429, 429, "rate_limit_error"}, {500, 500, "api_error"}, {529, 529, "overloaded_error"}, {401, 401, "authentication_error"}, {404, 404, "not_found_error"}, {200, 200, ""}} {
		rec := serve(t, s, http.MethodPost, "/claude/v1/messages", anthropicBasic, withHeaders(anthropicHeaders, HeaderStatus, strconv.Itoa(tt.status))...)
		if rec.Code != tt.want {
			t.Errorf("X-Mock-Status %d: status %d", tt.status, rec.Code)
			continue
		}
		if tt.errType != "" {
			checkAnthropicError(t, rec.Body.Bytes(), tt.errType)
		}
		if got := rec.Header().Get("Retry-After"); (got == "1") != (tt.status == 429) {
			t.Errorf("X-Mock-Status %d: retry-after %q", tt.status, got)
		}
	}
	rec = serve(t, s, http.MethodPost, "/claude/v1/messages", anthropicBasic, withHeaders(anthropicHeaders, HeaderLatencyMs, "soon")...)
	if rec.Code != 400 {
		t.Fatalf("bad header: %d", rec.Code)
	}
	checkAnthropicError(t, rec.Body.Bytes(), "invalid_request_error")
	if st := s.Stats("claude"); st.Errors != 3 || st.RateLimited != 1 || st.Requests != 8 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestAnthropicToolUse(t *testing.T) {
	s := New([]config.MockProvider{testProvider("claude")})
	tools := `"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}},{"name":"get_time","input_schema":{"type":"object","properties":{}}},{"type":"web_search_20250305","name":"web_search"}]`
	body := func(choice, text string) string {
		b := `{"model":"c","max_tokens":100,` + tools
		if choice != "" {
			b += `,"tool_choice":` + choice
		}
		return b + `,"messages":[{"role":"user","content":"` + text + `"}]}`
	}
	for _, tt := range []struct {
		name  string
		body  string
		text  bool
		calls []string
	}{
		{"auto, asked: text then every custom tool", body("", "Call the tools"), true, []string{"get_weather", "get_time"}},
		{"auto, not asked", body(`{"type":"auto"}`, "Hello"), true, nil},
		{"any: tool_use alone", body(`{"type":"any"}`, "Hello"), false, []string{"get_weather", "get_time"}},
		{"any, no parallel use", body(`{"type":"any","disable_parallel_tool_use":true}`, "Hello"), false, []string{"get_weather"}},
		{"a named tool", body(`{"type":"tool","name":"get_time"}`, "Hello"), false, []string{"get_time"}},
		{"none", body(`{"type":"none"}`, "call"), true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeObject(t, serve(t, s, http.MethodPost, "/claude/v1/messages", tt.body, anthropicHeaders...).Body.Bytes())
			content := array(t, "content", m["content"])
			i := 0
			if tt.text {
				expectValue(t, "first block", object(t, "block", content[0])["type"], "text")
				i = 1
			}
			if len(content)-i != len(tt.calls) {
				t.Fatalf("content %v, want calls %v", content, tt.calls)
			}
			for k, name := range tt.calls {
				b := expectKeys(t, "tool_use", content[i+k], "type", "id", "name", "input")
				expectValue(t, "type", b["type"], "tool_use")
				expectValue(t, "name", b["name"], name)
				if !toolUseIDPattern.MatchString(b["id"].(string)) {
					t.Errorf("id %q", b["id"])
				}
				in := object(t, "input", b["input"])
				if name == "get_weather" && in["location"] == nil {
					t.Errorf("input %v", in)
				}
			}
			want := "end_turn"
			if len(tt.calls) > 0 {
				want = "tool_use"
			}
			expectValue(t, "stop_reason", m["stop_reason"], want)
		})
	}
}

// The stream is exactly Anthropic's sequence of events, and what it
// carries adds up to the plain response.
func TestAnthropicStream(t *testing.T) {
	s := New([]config.MockProvider{{Name: "claude", CompletionTokens: 3}})
	schema := `{"type":"object","properties":{"location":{"type":"string"}}}`
	body := `{"model":"c","max_tokens":100,"stream":true,"tools":[{"name":"get_weather","input_schema":` + schema + `}],"messages":[{"role":"user","content":"please call"}]}`
	// The tool counts its name and schema; the message 4 + 3.
	inputTokens := int64((len("get_weather")+len(schema)+3)/4 + 4 + 3)
	rec := serve(t, s, http.MethodPost, "/claude/v1/messages", body, anthropicHeaders...)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type %q", ct)
	}
	events := parseNamedSSE(t, rec.Body.String())
	var names []string
	for _, ev := range events {
		names = append(names, ev.name)
		if ev.data["type"] != ev.name {
			t.Errorf("event %s has data type %v", ev.name, ev.data["type"])
		}
	}
	want := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_delta content_block_delta content_block_delta content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("events:\n%s\nwant\n%s", got, want)
	}
	start := expectKeys(t, "message_start", events[0].data, "type", "message")
	msg := expectKeys(t, "message", start["message"], "id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage")
	if len(array(t, "content", msg["content"])) != 0 || msg["stop_reason"] != nil {
		t.Errorf("message_start message = %v", msg)
	}
	anthropicUsageOf(t, "message_start usage", msg["usage"], inputTokens, 1, 0, 0)

	expectValue(t, "text block", object(t, "block", events[1].data["content_block"])["type"], "text")
	var text, input strings.Builder
	for _, ev := range events {
		if ev.name != "content_block_delta" {
			continue
		}
		d := object(t, "delta", ev.data["delta"])
		switch d["type"] {
		case "text_delta":
			expectValue(t, "index", ev.data["index"], "0")
			text.WriteString(d["text"].(string))
		case "input_json_delta":
			expectValue(t, "index", ev.data["index"], "1")
			input.WriteString(d["partial_json"].(string))
		default:
			t.Errorf("delta %v", d)
		}
	}
	toolStart := object(t, "tool block", events[7].data["content_block"])
	// The first input_json_delta is empty, as Anthropic sends it.
	expectValue(t, "first partial_json", object(t, "delta", events[8].data["delta"])["partial_json"], "")
	expectKeys(t, "tool_use start", toolStart, "type", "id", "name", "input")
	if len(object(t, "input", toolStart["input"])) != 0 {
		t.Errorf("tool_use starts with input %v", toolStart["input"])
	}
	delta := expectKeys(t, "message_delta", events[len(events)-2].data, "type", "delta", "usage")
	expectValue(t, "stop_reason", object(t, "delta", delta["delta"])["stop_reason"], "tool_use")
	expectValue(t, "stop_sequence", object(t, "delta", delta["delta"])["stop_sequence"], nil)
	usage := expectKeys(t, "message_delta usage", delta["usage"], "output_tokens")

	plain := decodeObject(t, serve(t, s, http.MethodPost, "/claude/v1/messages", strings.Replace(body, `"stream":true,`, "", 1), anthropicHeaders...).Body.Bytes())
	content := array(t, "content", plain["content"])
	expectValue(t, "streamed text", text.String(), object(t, "text", content[0])["text"])
	if in := decodeAny(t, input.String()); in.(map[string]any)["location"] != object(t, "input", object(t, "tool", content[1])["input"])["location"] {
		t.Errorf("streamed input %s", input.String())
	}
	expectValue(t, "output_tokens", usage["output_tokens"], object(t, "usage", plain["usage"])["output_tokens"].(interface{ String() string }).String())
}

func TestAnthropicStreamFaults(t *testing.T) {
	s := New([]config.MockProvider{{Name: "claude", CompletionTokens: 5}})
	body := strings.Replace(anthropicBasic, `{`, `{"stream":true,`, 1)
	rec := serve(t, s, http.MethodPost, "/claude/v1/messages", body, withHeaders(anthropicHeaders, HeaderMalformed, "1")...)
	if !strings.Contains(rec.Body.String(), "\"text\":\"\n\n") || !strings.HasSuffix(rec.Body.String(), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Errorf("malformed stream:\n%s", rec.Body)
	}
	srv := newHTTPServer(t, s)
	resp := post(t, srv+"/claude/v1/messages", body, withHeaders(anthropicHeaders, HeaderCutAfter, "2")...)
	got, err := readAllErr(resp)
	if err == nil || strings.Contains(string(got), "message_stop") || strings.Count(string(got), "event: content_block_delta") != 2 {
		t.Errorf("cut stream (err %v):\n%s", err, got)
	}
}

func TestAnthropicPromptCaching(t *testing.T) {
	s := New([]config.MockProvider{testProvider("claude")})
	long := strings.Repeat("abcd", 1200) // 1,200 tokens
	cached := func(extra string) string {
		return `{"model":"claude-sonnet-4-5","max_tokens":10,"system":[{"type":"text","text":"` + long + `","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Hello!"}` + extra + `]}`
	}
	send := func(body string, headers ...string) map[string]any {
		t.Helper()
		rec := serve(t, s, http.MethodPost, "/claude/v1/messages", body, withHeaders(anthropicHeaders, headers...)...)
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		return decodeObject(t, rec.Body.Bytes())
	}
	// First sight: the system prompt is written; then read.
	anthropicUsageOf(t, "first", send(cached(""))["usage"], 6, 8, 1200, 0)
	anthropicUsageOf(t, "second", send(cached(""))["usage"], 6, 8, 0, 1200)
	// A stream reads it too, and says so in message_start.
	events := parseNamedSSE(t, serve(t, s, http.MethodPost, "/claude/v1/messages", strings.Replace(cached(""), `{`, `{"stream":true,`, 1), anthropicHeaders...).Body.String())
	anthropicUsageOf(t, "stream", object(t, "message", events[0].data["message"])["usage"], 6, 1, 0, 1200)
	// A failure writes nothing, and neither does another model.
	serve(t, s, http.MethodPost, "/claude/v1/messages", strings.Replace(cached(""), "claude-sonnet-4-5", "claude-opus-4", 1), withHeaders(anthropicHeaders, HeaderStatus, "529")...)
	anthropicUsageOf(t, "other model", send(strings.Replace(cached(""), "claude-sonnet-4-5", "claude-opus-4", 1))["usage"], 6, 8, 1200, 0)

	// The next turn moves the breakpoint to its last message: the earlier
	// prefix is found by looking back, and only the rest is written.
	turn := `,{"role":"assistant","content":"Hi there"},{"role":"user","content":[{"type":"text","text":"` + long + `","cache_control":{"type":"ephemeral","ttl":"1h"}}]}`
	m := send(cached(turn))
	anthropicUsageOf(t, "next turn", m["usage"], 0, 8, (4+2)+(4+2)+(4+1200), 1200)
	cc := object(t, "cache_creation", object(t, "usage", m["usage"])["cache_creation"])
	expectValue(t, "ephemeral_1h_input_tokens", cc["ephemeral_1h_input_tokens"], "1216")
	anthropicUsageOf(t, "next turn again", send(cached(turn))["usage"], 0, 8, 0, 1200+1216)

	// Under the minimum nothing is cached: 1,024 tokens, 2,048 for Haiku.
	short := strings.Replace(cached(""), long, strings.Repeat("abcd", 1000), 1)
	anthropicUsageOf(t, "short", send(short)["usage"], 1006, 8, 0, 0)
	anthropicUsageOf(t, "short again", send(short)["usage"], 1006, 8, 0, 0)
	haiku := strings.Replace(cached(""), "claude-sonnet-4-5", "claude-haiku-4-5", 1)
	anthropicUsageOf(t, "haiku", send(haiku)["usage"], 1206, 8, 0, 0)

	// Entries expire five minutes after their last read.
	p := s.provider("claude")
	now := time.Now()
	p.cache.now = func() time.Time { return now }
	anthropicUsageOf(t, "written", send(cached(`,{"role":"assistant","content":"x"},{"role":"user","content":"y"}`))["usage"], 6+5+5, 8, 0, 1200)
	now = now.Add(4 * time.Minute)
	anthropicUsageOf(t, "within five minutes", send(cached(""))["usage"], 6, 8, 0, 1200)
	now = now.Add(6 * time.Minute)
	anthropicUsageOf(t, "expired", send(cached(""))["usage"], 6, 8, 1200, 0)
	// The one-hour entry of the earlier turn is still there.
	anthropicUsageOf(t, "one hour", send(cached(turn))["usage"], 0, 8, 0, 1200+1216)
}

func TestPromptCacheEviction(t *testing.T) {
	c := newPromptCache(2)
	c.store(1, time.Minute)
	c.store(2, time.Minute)
	c.lookup(1, time.Minute) // 2 is now the least recently used
	c.store(3, time.Minute)
	if !c.lookup(1, time.Minute) || c.lookup(2, time.Minute) || !c.lookup(3, time.Minute) {
		t.Errorf("LRU eviction wrong")
	}
	if len(c.entries) != 2 || c.order.Len() != 2 {
		t.Errorf("%d entries", len(c.entries))
	}
}

func TestAnthropicCountTokens(t *testing.T) {
	s := New([]config.MockProvider{testProvider("claude")})
	rec := serve(t, s, http.MethodPost, "/claude/v1/messages/count_tokens", `{"model":"c","system":"You are a helpful assistant.","messages":[{"role":"user","content":"Hello!"}]}`, anthropicHeaders...)
	m := decodeObject(t, rec.Body.Bytes())
	expectKeys(t, "count", m, "input_tokens")
	expectValue(t, "input_tokens", m["input_tokens"], "13")
}
