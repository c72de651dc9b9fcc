package anthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/sse"
)

// Round trips: what both formats can express survives a translation there
// and back.

// canonical decodes JSON into generic values, so that key order and
// spacing do not count.
func canonical(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

func TestRoundTripOpenAIRequest(t *testing.T) {
	requests := []string{
		// System prompt, multi-turn, sampling, stop, user, stream.
		`{"model":"m","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Capital of Italy?"},{"role":"assistant","content":"Rome."},{"role":"user","content":"And Spain?"}],
		  "max_tokens":100,"temperature":0.5,"top_p":0.9,"stop":["END","STOP"],"user":"u-1","stream":true,"stream_options":{"include_usage":true}}`,
		// Tools, a named tool choice, no parallel calls, parallel tool
		// calls and their results.
		`{"model":"m","messages":[{"role":"user","content":"Weather in Paris and Rome?"},
		   {"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
		   {"role":"tool","tool_call_id":"call_1","content":"18C"},
		   {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"24C"}]},
		   {"role":"assistant","content":"Rome is warmer."}],
		  "max_tokens":200,
		  "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now.","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
		  "tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false}`,
		// Images, required tool choice.
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}],
		  "max_tokens":10,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"required"}`,
	}
	for i, req := range requests {
		tr, err := chatToMessages([]byte(req), strings.Contains(req, `"stream":true`))
		if err != nil {
			t.Fatalf("%d: to Messages: %v", i, err)
		}
		back, err := MessagesRequestToOpenAI(tr.body)
		if err != nil {
			t.Fatalf("%d: back to OpenAI: %v", i, err)
		}
		if got, want := canonical(t, back), canonical(t, []byte(req)); !reflect.DeepEqual(got, want) {
			t.Errorf("%d: round trip changed the request\n got %s\nwant %s", i, back, req)
		}
	}
}

func TestRoundTripMessagesRequest(t *testing.T) {
	requests := []string{
		`{"model":"m","max_tokens":100,"system":"Be terse.","messages":[{"role":"user","content":"Capital of Italy?"},{"role":"assistant","content":"Rome."},{"role":"user","content":"And Spain?"}],
		  "metadata":{"user_id":"u-1"},"stop_sequences":["END"],"stream":true,"temperature":0.5,"top_p":0.9}`,
		`{"model":"m","max_tokens":200,"messages":[{"role":"user","content":"Weather in Paris and Rome?"},
		   {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}]},
		   {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},{"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"24C"}]},{"type":"text","text":"Which is warmer?"}]}],
		  "tools":[{"name":"get_weather","description":"Weather now.","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
		  "tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}}`,
		`{"model":"m","max_tokens":10,"system":[{"type":"text","text":"One."},{"type":"text","text":"Two."}],
		  "messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}],
		  "tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"any"}}`,
	}
	for i, req := range requests {
		oai, err := MessagesRequestToOpenAI([]byte(req))
		if err != nil {
			t.Fatalf("%d: to OpenAI: %v", i, err)
		}
		tr, err := chatToMessages(oai, strings.Contains(req, `"stream":true`))
		if err != nil {
			t.Fatalf("%d: back to Messages: %v", i, err)
		}
		if got, want := canonical(t, tr.body), canonical(t, []byte(req)); !reflect.DeepEqual(got, want) {
			t.Errorf("%d: round trip changed the request\n got %s\nwant %s", i, tr.body, req)
		}
	}
}

func TestRoundTripResponses(t *testing.T) {
	// Anthropic → OpenAI → Anthropic: one text block at most, as OpenAI has
	// one content string.
	for _, name := range []string{"tool_use_parallel", "max_tokens", "stop_sequence", "refusal"} {
		in := readFixture(t, "testdata/response_anthropic_to_openai/"+name+".in.json")
		oai, err := messageToCompletion(in, "", testCreated)
		if err != nil {
			t.Fatal(err)
		}
		back, err := OpenAIResponseToMessages(oai)
		if err != nil {
			t.Fatal(err)
		}
		want, got := messageForCompare(t, in), messageForCompare(t, back)
		if name == "stop_sequence" {
			want["stop_reason"] = "end_turn" // OpenAI does not say a stop sequence matched
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip changed the response\n got %s\nwant %s", name, back, in)
		}
	}
	// OpenAI → Anthropic → OpenAI.
	for _, name := range []string{"text_cached", "tool_calls", "length"} {
		in := readFixture(t, "testdata/response_openai_to_anthropic/"+name+".in.json")
		msg, err := OpenAIResponseToMessages(in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := messageToCompletion(msg, "", testCreated)
		if err != nil {
			t.Fatal(err)
		}
		var want, got chatCompletion
		json.Unmarshal(in, &want)
		json.Unmarshal(back, &got)
		for i := range want.Choices[0].Message.ToolCalls {
			tc := &want.Choices[0].Message.ToolCalls[i]
			tc.Function.Arguments = compactInput(json.RawMessage(orEmptyObject(tc.Function.Arguments)))
		}
		want.Created, want.SystemFingerprint = testCreated, nil
		if want.Usage == nil {
			want.Usage = &chatUsage{}
		}
		if !reflect.DeepEqual(got.Choices, want.Choices) || got.Usage.PromptTokens != want.Usage.PromptTokens ||
			got.Usage.CompletionTokens != want.Usage.CompletionTokens || got.Usage.PromptTokensDetails != want.Usage.PromptTokensDetails {
			t.Errorf("%s: round trip changed the response\n got %s\nwant %s", name, back, in)
		}
	}
}

// messageForCompare is a Messages response as generic values, with the
// usage counts normalized (absent reads as 0) and stop_sequence, which
// OpenAI cannot carry, left out.
func messageForCompare(t *testing.T, b []byte) map[string]any {
	m := canonical(t, b).(map[string]any)
	delete(m, "stop_sequence")
	var u struct {
		Usage msgUsage `json:"usage"`
	}
	json.Unmarshal(b, &u)
	ub, _ := json.Marshal(u.Usage)
	m["usage"] = canonical(t, ub)
	return m
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// streamedMessage is what an Anthropic SDK would assemble from a stream.
type streamedMessage struct {
	Text, Tools string
	Stop        string
	Usage       Usage
}

func assemble(t *testing.T, stream []byte) streamedMessage {
	t.Helper()
	var m streamedMessage
	var obs StreamObserver
	rd := sse.NewReader(bufio.NewReader(bytes.NewReader(stream)), 1<<20)
	for {
		event, data, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := obs.Observe(event, data); err != nil {
			t.Fatal(err)
		}
		ev, _ := parseEvent(event, data)
		switch ev.typ {
		case "content_block_start":
			objectMembers(ev.block, func(mm jsonx.Member, v []byte) {
				if mm.Is("name") {
					m.Tools += "|" + unquote(v) + ":"
				}
			})
		case "content_block_delta":
			objectMembers(ev.delta, func(mm jsonx.Member, v []byte) {
				switch {
				case mm.Is("text"):
					m.Text += unquote(v)
				case mm.Is("partial_json"):
					m.Tools += unquote(v)
				}
			})
		}
	}
	if !obs.Done() {
		t.Fatal("stream did not end with message_stop")
	}
	m.Stop, m.Usage = obs.StopReason(), obs.Usage()
	return m
}

func TestRoundTripStream(t *testing.T) {
	for _, name := range []string{"text_cache", "tool_use_parallel", "tool_use_first", "max_tokens"} {
		in := readFixture(t, "testdata/stream_anthropic_to_openai/"+name+".in.sse")
		tr := requestFor(t, "testdata/stream_anthropic_to_openai/"+name, true)
		oai := readStream(newChunkStream(io.NopCloser(bytes.NewReader(in)), tr, testCreated))
		back := readStream(OpenAIStreamToMessages(io.NopCloser(bytes.NewReader(oai))))
		got, want := assemble(t, back), assemble(t, append(in, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...))
		if got != want {
			t.Errorf("%s: round trip changed the stream\n got %+v\nwant %+v\n%s", name, got, want, back)
		}
	}
}
