package mock

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

var callIDPattern = regexp.MustCompile(`^call_[A-Za-z0-9]{24}$`)

const weatherTool = `{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":` + `{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location","unit"],"additionalProperties":false}` + `}}`
const timeTool = `{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"}}}}}`

func toolsBody(toolChoice, lastMessage string, extra string) string {
	b := `{"model":"gpt-4o","tools":[` + weatherTool + `,` + timeTool + `]`
	if toolChoice != "" {
		b += `,"tool_choice":` + toolChoice
	}
	return b + extra + `,"messages":[{"role":"system","content":"You help."},` + lastMessage + `]}`
}

func TestToolCalls(t *testing.T) {
	ask := `{"role":"user","content":"Please CALL the weather tool for Paris"}`
	chat := `{"role":"user","content":"Hello!"}`
	toolResult := `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"20C"}`
	tests := []struct {
		name  string
		body  string
		calls []string
	}{
		{"auto, the user asks to call: every tool, in parallel", toolsBody("", ask, ""), []string{"get_weather", "get_time"}},
		{"auto, said as a part", toolsBody(`"auto"`, `{"role":"user","content":[{"type":"text","text":"call it"}]}`, ""), []string{"get_weather", "get_time"}},
		{"auto, parallel calls off", toolsBody("", ask, `,"parallel_tool_calls":false`), []string{"get_weather"}},
		{"auto, the user does not ask", toolsBody("", chat, ""), nil},
		{"auto, a tool result comes last", toolsBody("", ask+","+toolResult, ""), nil},
		{"required", toolsBody(`"required"`, chat, ""), []string{"get_weather", "get_time"}},
		{"required, parallel calls off", toolsBody(`"required"`, chat, `,"parallel_tool_calls":false`), []string{"get_weather"}},
		{"a named function", toolsBody(`{"type":"function","function":{"name":"get_time"}}`, chat, ""), []string{"get_time"}},
		{"none", toolsBody(`"none"`, ask, ""), nil},
		{"allowed tools", toolsBody(`{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"get_time"}}]}}`, chat, ""), []string{"get_time"}},
	}
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", tt.body)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			m := decodeObject(t, rec.Body.Bytes())
			choice := object(t, "choice", array(t, "choices", m["choices"])[0])
			u := object(t, "usage", m["usage"])
			if len(tt.calls) == 0 {
				expectValue(t, "finish_reason", choice["finish_reason"], "stop")
				expectKeys(t, "message", choice["message"], "role", "content", "refusal", "annotations")
				return
			}
			expectValue(t, "finish_reason", choice["finish_reason"], "tool_calls")
			msg := expectKeys(t, "message", choice["message"], "role", "content", "tool_calls", "refusal", "annotations")
			expectValue(t, "content", msg["content"], nil)
			calls := array(t, "tool_calls", msg["tool_calls"])
			if len(calls) != len(tt.calls) {
				t.Fatalf("%d calls, want %v", len(calls), tt.calls)
			}
			wantTokens := int64(0)
			ids := map[string]bool{}
			for i, c := range calls {
				call := expectKeys(t, "call", c, "id", "type", "function")
				id, _ := call["id"].(string)
				if !callIDPattern.MatchString(id) || ids[id] {
					t.Errorf("id %q", id)
				}
				ids[id] = true
				expectValue(t, "type", call["type"], "function")
				fn := expectKeys(t, "function", call["function"], "name", "arguments")
				expectValue(t, "name", fn["name"], tt.calls[i])
				args := fn["arguments"].(string)
				schema := `{"type":"object","properties":{"zone":{"type":"string"}}}`
				if tt.calls[i] == "get_weather" {
					schema = `{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location","unit"],"additionalProperties":false}`
				}
				if errs := newSchemaChecker(t, schema).check(decodeAny(t, schema), decodeAny(t, args), "$"); len(errs) > 0 {
					t.Errorf("arguments %s: %v", args, errs)
				}
				wantTokens += int64(4 + (len(tt.calls[i])+len(args)+3)/4)
			}
			if got := number(t, "completion_tokens", u["completion_tokens"]); got != wantTokens {
				t.Errorf("completion_tokens = %d, want %d", got, wantTokens)
			}
		})
	}
}

// The streamed tool-call deltas, put together as SDKs do (by index),
// rebuild the plain response's calls.
func TestToolCallStream(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	body := toolsBody(`"required"`, `{"role":"user","content":"x"}`, `,"stream":true,"stream_options":{"include_usage":true}`)
	events := parseSSE(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", body).Body.String())
	type call struct{ id, name, args string }
	var calls []call
	var finish any
	for i, ev := range events[:len(events)-2] {
		m := decodeObject(t, []byte(ev.data))
		choice := object(t, "choice", array(t, "choices", m["choices"])[0])
		delta := object(t, "delta", choice["delta"])
		if i == 0 {
			expectValue(t, "role", delta["role"], "assistant")
			expectValue(t, "content", delta["content"], nil)
		}
		if choice["finish_reason"] != nil {
			finish = choice["finish_reason"]
			continue
		}
		tcs := array(t, "tool_calls", delta["tool_calls"])
		if len(tcs) != 1 {
			t.Fatalf("chunk %d: %d tool calls", i, len(tcs))
		}
		tc := object(t, "tool_call", tcs[0])
		k := int(number(t, "index", tc["index"]))
		if k == len(calls) {
			expectKeys(t, "new call", tc, "index", "id", "type", "function")
			fn := object(t, "function", tc["function"])
			calls = append(calls, call{id: tc["id"].(string), name: fn["name"].(string)})
			expectValue(t, "arguments", fn["arguments"], "")
			continue
		}
		expectKeys(t, "call delta", tc, "index", "function")
		calls[k].args += object(t, "function", tc["function"])["arguments"].(string)
	}
	expectValue(t, "finish_reason", finish, "tool_calls")
	if len(calls) != 2 || calls[0].name != "get_weather" || calls[1].name != "get_time" {
		t.Fatalf("calls %+v", calls)
	}
	plain := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", strings.Replace(body, `"stream":true`, `"stream":false`, 1)).Body.Bytes())
	for i, c := range array(t, "tool_calls", object(t, "message", object(t, "choice", plain["choices"].([]any)[0])["message"])["tool_calls"]) {
		if args := object(t, "function", object(t, "call", c)["function"])["arguments"]; args != calls[i].args {
			t.Errorf("call %d: streamed %q, plain %q", i, calls[i].args, args)
		}
	}
	usage := decodeObject(t, []byte(events[len(events)-2].data))["usage"]
	if usage == nil || number(t, "completion_tokens", object(t, "usage", usage)["completion_tokens"]) != number(t, "completion_tokens", object(t, "usage", plain["usage"])["completion_tokens"]) {
		t.Errorf("stream usage %v differs from the plain response's", usage)
	}
}

func TestToolValidation(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	msgs := `,"messages":[{"role":"user","content":"x"}]}`
	for _, tt := range []struct {
		body, code, param string
	}{
		{`{"model":"m","tools":[{"function":{"name":"f"}}]` + msgs, "missing_required_parameter", "tools[0].type"},
		{`{"model":"m","tools":[{"type":"magic","function":{"name":"f"}}]` + msgs, "invalid_value", "tools[0].type"},
		{`{"model":"m","tools":[{"type":"function"}]` + msgs, "missing_required_parameter", "tools[0].function"},
		{`{"model":"m","tools":[{"type":"function","function":{}}]` + msgs, "missing_required_parameter", "tools[0].function.name"},
		{`{"model":"m","tools":[{"type":"function","function":{"name":"a b"}}]` + msgs, "invalid_value", "tools[0].function.name"},
		{`{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":[]}}]` + msgs, "invalid_type", "tools[0].function.parameters"},
		{`{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":{"type":5}}}],"tool_choice":"required"` + msgs, "invalid_function_parameters", "tools[0].function.parameters"},
		{`{"model":"m","tool_choice":"required"` + msgs, "", "tool_choice"},
		{`{"model":"m","tools":[` + timeTool + `],"tool_choice":"sometimes"` + msgs, "invalid_value", "tool_choice"},
		{`{"model":"m","tools":[` + timeTool + `],"tool_choice":{"type":"function","function":{"name":"nope"}}` + msgs, "invalid_value", "tool_choice"},
	} {
		rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", tt.body)
		if rec.Code != 400 {
			t.Errorf("%s: status %d", tt.body, rec.Code)
			continue
		}
		checkError(t, rec.Body.Bytes(), "invalid_request_error", tt.code, tt.param)
	}
}

func TestStructuredOutputs(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	for name, schema := range schemaCases {
		if !strings.HasPrefix(strings.TrimSpace(schema), `{"type":"object"`) && name != "pydantic" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			body := `{"model":"gpt-4o","response_format":{"type":"json_schema","json_schema":{"name":"out","strict":true,"schema":` + schema + `}},"messages":[{"role":"user","content":"x"}]}`
			m := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", body).Body.Bytes())
			choice := object(t, "choice", array(t, "choices", m["choices"])[0])
			content := object(t, "message", choice["message"])["content"].(string)
			if errs := newSchemaChecker(t, schema).check(decodeAny(t, schema), decodeAny(t, content), "$"); len(errs) > 0 {
				t.Errorf("%s: %v", content, errs)
			}
			// JSON output counts at four bytes a token.
			expectValue(t, "completion_tokens", object(t, "usage", m["usage"])["completion_tokens"], strconv.Itoa(countPieces([]byte(content))))
		})
	}
	// json_object: a JSON object, and OpenAI's rule that the messages say
	// "json".
	m := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"Answer in JSON"}]}`).Body.Bytes())
	content := object(t, "message", object(t, "choice", m["choices"].([]any)[0])["message"])["content"].(string)
	var obj map[string]any
	if err := json.Unmarshal([]byte(content), &obj); err != nil || obj["answer"] != expectedContent(8) {
		t.Errorf("json_object content %q", content)
	}
	rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"Answer"}]}`)
	if rec.Code != 400 {
		t.Errorf("json_object without 'json' in the messages: %d", rec.Code)
	}
	// max_tokens cuts JSON like text: invalid JSON, finish_reason "length".
	m = decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","max_tokens":2,"response_format":{"type":"json_object"},"messages":[{"role":"user","content":"json"}]}`).Body.Bytes())
	choice := object(t, "choice", m["choices"].([]any)[0])
	expectValue(t, "finish_reason", choice["finish_reason"], "length")
	expectValue(t, "content", object(t, "message", choice["message"])["content"], `{"answer`)
	for _, bad := range []string{
		`{"type":"xml"}`, `{"type":"json_schema"}`, `{"type":"json_schema","json_schema":{"schema":{}}}`,
		`{"type":"json_schema","json_schema":{"name":"x","schema":{"type":["x",1]}}}`,
	} {
		rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","response_format":`+bad+`,"messages":[{"role":"user","content":"json"}]}`)
		if rec.Code != 400 {
			t.Errorf("response_format %s: status %d", bad, rec.Code)
		}
	}
}

func TestChoicesLogprobsReasoningStop(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	t.Run("n choices", func(t *testing.T) {
		m := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","n":3,"messages":[{"role":"user","content":"Hello!"}]}`).Body.Bytes())
		choices := array(t, "choices", m["choices"])
		if len(choices) != 3 {
			t.Fatalf("%d choices", len(choices))
		}
		for i, c := range choices {
			expectValue(t, "index", object(t, "choice", c)["index"], strconv.Itoa(i))
		}
		checkUsage(t, "usage", m["usage"], 9, 3*8, 0)
		events := parseSSE(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","n":2,"stream":true,"messages":[{"role":"user","content":"Hello!"}]}`).Body.String())
		content := map[string]string{}
		for _, ev := range events[:len(events)-1] {
			c := object(t, "choice", array(t, "choices", decodeObject(t, []byte(ev.data))["choices"])[0])
			if s, ok := object(t, "delta", c["delta"])["content"].(string); ok {
				content[c["index"].(json.Number).String()] += s
			}
		}
		if len(events) != 2+2*8+2+1 || content["0"] != expectedContent(8) || content["1"] != expectedContent(8) {
			t.Errorf("%d events, content %q", len(events), content)
		}
	})
	t.Run("logprobs", func(t *testing.T) {
		m := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","logprobs":true,"top_logprobs":3,"max_tokens":4,"messages":[{"role":"user","content":"Hello!"}]}`).Body.Bytes())
		lp := expectKeys(t, "logprobs", object(t, "choice", m["choices"].([]any)[0])["logprobs"], "content", "refusal")
		var text strings.Builder
		for i, e := range array(t, "content", lp["content"]) {
			entry := expectKeys(t, "entry", e, "token", "logprob", "bytes", "top_logprobs")
			tok := entry["token"].(string)
			text.WriteString(tok)
			if len(array(t, "bytes", entry["bytes"])) != len(tok) {
				t.Errorf("bytes of %q", tok)
			}
			if f, _ := entry["logprob"].(json.Number).Float64(); f > 0 || f < -0.2 {
				t.Errorf("logprob %v", f)
			}
			top := array(t, "top_logprobs", entry["top_logprobs"])
			if len(top) != 3 || object(t, "top", top[0])["token"] != tok {
				t.Errorf("entry %d: top_logprobs %v", i, top)
			}
		}
		if text.String() != expectedContent(4) {
			t.Errorf("logprob tokens make %q", text.String())
		}
	})
	t.Run("reasoning models", func(t *testing.T) {
		for _, model := range []string{"o3-mini", "openai/o4-mini", "gpt-5", "o1", "deepseek-reasoning"} {
			m := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"Hello!"}]}`).Body.Bytes())
			checkReasoning(t, model, m["usage"], 8, 16)
		}
		// The limit counts reasoning first: 20 = 16 reasoning + 4 visible.
		m := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"o3","max_completion_tokens":20,"messages":[{"role":"user","content":"Hello!"}]}`).Body.Bytes())
		checkReasoning(t, "o3 limited", m["usage"], 4, 16)
		choice := object(t, "choice", m["choices"].([]any)[0])
		expectValue(t, "finish_reason", choice["finish_reason"], "length")
		expectValue(t, "content", object(t, "message", choice["message"])["content"], expectedContent(4))
		m = decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"o3","max_completion_tokens":10,"messages":[{"role":"user","content":"Hello!"}]}`).Body.Bytes())
		checkReasoning(t, "o3 starved", m["usage"], 0, 10)
		m = decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody).Body.Bytes())
		checkReasoning(t, "gpt-4o-mini", m["usage"], 8, 0)
	})
	t.Run("stop sequences", func(t *testing.T) {
		for _, tt := range []struct{ stop, content, finish string }{
			{`"fox"`, "The quick brown ", "stop"},
			{`["zzz","quick b"]`, "The ", "stop"},
			{`["The"]`, "", "stop"},
			{`["nothing"]`, expectedContent(8), "stop"},
			{`["dog"]`, expectedContent(8), "stop"}, // "dog" would be the ninth word
		} {
			m := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", `{"model":"m","stop":`+tt.stop+`,"messages":[{"role":"user","content":"Hello!"}]}`).Body.Bytes())
			choice := object(t, "choice", m["choices"].([]any)[0])
			expectValue(t, "content", object(t, "message", choice["message"])["content"], tt.content)
			expectValue(t, "finish_reason", choice["finish_reason"], tt.finish)
		}
	})
}

func checkReasoning(t *testing.T, where string, v any, visible, reasoning int64) {
	t.Helper()
	u := object(t, where, v)
	if got := number(t, where, u["completion_tokens"]); got != visible+reasoning {
		t.Errorf("%s: completion_tokens %d, want %d", where, got, visible+reasoning)
	}
	if got := number(t, where, object(t, where, u["completion_tokens_details"])["reasoning_tokens"]); got != reasoning {
		t.Errorf("%s: reasoning_tokens %d, want %d", where, got, reasoning)
	}
}
