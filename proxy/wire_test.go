package proxy

import (
	"encoding/json"
	"testing"
)

// FuzzParseChatRequest checks that no request body panics the parser, that
// an accepted body is valid JSON naming a model, and that the model read is
// the one encoding/json reads.
func FuzzParseChatRequest(f *testing.F) {
	for _, s := range []string{helloBody, `{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":false}}`,
		`{"mod\u0065l":"x","messages":[1]}`, `{"model":5}`, `[]`, `{"model":"a","model":"b","messages":[0]}`, `{"model":"m","messages":[],"user":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := parseRequest(body, kindChat)
		if e != nil {
			if e.class.status != 400 {
				t.Fatalf("status %d for a bad request", e.class.status)
			}
			return
		}
		var std struct {
			Model string `json:"model"`
		}
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", body, err)
		}
		if std.Model != "" && std.Model != req.Model || req.Model == "" {
			t.Fatalf("model %q, encoding/json reads %q", req.Model, std.Model)
		}
	})
}

// FuzzParseCompletion checks that no upstream response panics the parser
// and that what it accepts is valid JSON with the usage encoding/json reads.
func FuzzParseCompletion(f *testing.F) {
	f.Add([]byte(`{"choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":1}}}`))
	f.Add([]byte(`{"choices":[],"usage":null}`))
	f.Add([]byte(`{"error":{"message":"x"}}`))
	f.Add([]byte(`{"choices":[{"finish_reason":null}],"usage":{"prompt_tokens":1e3}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, usage, span, ok := parseResponse(body, kindChat)
		if !ok {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if usage != nil {
			var std struct {
				Usage struct {
					PromptTokens int64 `json:"prompt_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(body, &std); err == nil && std.Usage.PromptTokens != usage.PromptTokens {
				t.Fatalf("prompt tokens %d, encoding/json reads %d", usage.PromptTokens, std.Usage.PromptTokens)
			}
			if out := withUsageCost(body, span, 123); !json.Valid(out) {
				t.Fatalf("adding the cost made invalid JSON: %s", out)
			}
		}
	})
}

// FuzzStreamChunk checks that no chunk panics the stream reader, and that
// an accepted chunk with usage still parses after the cost is added.
func FuzzStreamChunk(f *testing.F) {
	f.Add([]byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`))
	f.Add([]byte(`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`))
	f.Add([]byte(`{"choices":[{"index":99999999999,"delta":{"content":"x"}}]}`))
	f.Add([]byte(`{"error":{"message":"overloaded"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := streamState{keepBody: true, bodyMax: 64, tally: tally{max: 256}}
		info, err := st.observe(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if info.usage != nil && !json.Valid(withUsageCost(data, info.span, 1)) {
			t.Fatalf("adding the cost made invalid JSON")
		}
		if st.tally.bytes > 256 {
			t.Fatalf("kept %d bytes of text past a 256-byte limit", st.tally.bytes)
		}
		if st.completionEstimate() < 0 {
			t.Fatal("negative estimate")
		}
		var body struct {
			Choices []struct {
				Message struct{ Content string } `json:"message"`
			} `json:"choices"`
		}
		out := st.reassembled(0)
		if err := json.Unmarshal([]byte(out), &body); err != nil {
			t.Fatalf("reassembled invalid JSON %q: %v", out, err)
		}
		kept := 0
		for _, c := range body.Choices {
			kept += len(c.Message.Content)
		}
		if kept > 64+bodyMargin {
			t.Fatalf("kept %d bytes for a 64-byte limit", kept)
		}
	})
}
