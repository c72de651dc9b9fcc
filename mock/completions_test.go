package mock

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

var textCompletionIDPattern = regexp.MustCompile(`^cmpl-[A-Za-z0-9]{29}$`)

func TestTextCompletionShape(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		choices      int
		tokens       int
		prompt       int64
		finishReason string
	}{
		{name: "max_tokens defaults to 16", body: `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test"}`, choices: 1, tokens: 16, prompt: 5, finishReason: "length"},
		{name: "short completion", body: `{"model":"m","prompt":"Say this","max_tokens":100}`, choices: 1, tokens: 20, prompt: 2, finishReason: "stop"},
		{name: "a batch of prompts times n", body: `{"model":"m","prompt":["ab","abcdefgh"],"n":2,"max_tokens":3}`, choices: 4, tokens: 3, prompt: 1 + 2, finishReason: "length"},
		{name: "token ids", body: `{"model":"m","prompt":[1,2,3,4,5],"max_tokens":3}`, choices: 1, tokens: 3, prompt: 5, finishReason: "length"},
		{name: "batches of token ids", body: `{"model":"m","prompt":[[1,2],[3]],"max_tokens":3}`, choices: 2, tokens: 3, prompt: 3, finishReason: "length"},
		{name: "stop sequence", body: `{"model":"m","prompt":"x","stop":"brown","max_tokens":100}`, choices: 1, tokens: 3, prompt: 1, finishReason: "stop"},
	}
	s := New([]config.MockProvider{{Name: "alpha", CompletionTokens: 20}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, s, http.MethodPost, "/alpha/v1/completions", tt.body)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			m := decodeObject(t, rec.Body.Bytes())
			expectKeys(t, "completion", m, "id", "object", "created", "model", "choices", "usage")
			if id, _ := m["id"].(string); !textCompletionIDPattern.MatchString(id) {
				t.Errorf("id = %q", id)
			}
			expectValue(t, "object", m["object"], "text_completion")
			choices := array(t, "choices", m["choices"])
			if len(choices) != tt.choices {
				t.Fatalf("%d choices, want %d", len(choices), tt.choices)
			}
			want := expectedContent(tt.tokens)
			if tt.name == "stop sequence" {
				want = "The quick "
			}
			for i, c := range choices {
				choice := expectKeys(t, "choice", c, "text", "index", "logprobs", "finish_reason")
				expectValue(t, "index", choice["index"], strconv.Itoa(i))
				expectValue(t, "text", choice["text"], want)
				expectValue(t, "logprobs", choice["logprobs"], nil)
				expectValue(t, "finish_reason", choice["finish_reason"], tt.finishReason)
			}
			u := expectKeys(t, "usage", m["usage"], "prompt_tokens", "completion_tokens", "total_tokens")
			completion := int64(tt.choices * tt.tokens)
			if got := number(t, "prompt_tokens", u["prompt_tokens"]); got != tt.prompt {
				t.Errorf("prompt_tokens = %d, want %d", got, tt.prompt)
			}
			if got := number(t, "completion_tokens", u["completion_tokens"]); got != completion {
				t.Errorf("completion_tokens = %d, want %d", got, completion)
			}
			if got := number(t, "total_tokens", u["total_tokens"]); got != tt.prompt+completion {
				t.Errorf("total_tokens = %d", got)
			}
		})
	}
}

func TestTextCompletionStream(t *testing.T) {
	s := New([]config.MockProvider{{Name: "alpha", CompletionTokens: 4}})
	for _, includeUsage := range []bool{false, true} {
		body := `{"model":"m","prompt":["a","b"],"stream":true}`
		if includeUsage {
			body = `{"model":"m","prompt":["a","b"],"stream":true,"stream_options":{"include_usage":true}}`
		}
		rec := serve(t, s, http.MethodPost, "/alpha/v1/completions", body)
		events := parseSSE(t, rec.Body.String())
		want := 4 + 1 + 1 // tokens, finish, [DONE]
		if includeUsage {
			want++
		}
		if len(events) != want || events[len(events)-1].data != "[DONE]" {
			t.Fatalf("%d events, want %d:\n%s", len(events), want, rec.Body)
		}
		var id string
		texts := make([]strings.Builder, 2)
		for i, ev := range events[:len(events)-1] {
			m := decodeObject(t, []byte(ev.data))
			if i == 0 {
				id = m["id"].(string)
			} else if m["id"] != id {
				t.Errorf("chunk %d has another id", i)
			}
			expectValue(t, "object", m["object"], "text_completion")
			choices := array(t, "choices", m["choices"])
			if includeUsage && i == len(events)-2 {
				if len(choices) != 0 {
					t.Errorf("usage chunk has choices")
				}
				u := object(t, "usage", m["usage"])
				expectValue(t, "completion_tokens", u["completion_tokens"], "8")
				expectValue(t, "prompt_tokens", u["prompt_tokens"], "2")
				continue
			}
			if _, ok := m["usage"]; ok {
				t.Errorf("chunk %d has usage", i)
			}
			if len(choices) != 2 {
				t.Fatalf("chunk %d: %d choices", i, len(choices))
			}
			for c, choice := range choices {
				ch := object(t, "choice", choice)
				expectValue(t, "index", ch["index"], strconv.Itoa(c))
				texts[c].WriteString(ch["text"].(string))
				if i == 4 {
					expectValue(t, "finish_reason", ch["finish_reason"], "stop")
				} else {
					expectValue(t, "finish_reason", ch["finish_reason"], nil)
				}
			}
		}
		for c := range texts {
			if texts[c].String() != expectedContent(4) {
				t.Errorf("choice %d streamed %q", c, texts[c].String())
			}
		}
	}
}

func TestTextCompletionValidation(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, tt := range []struct {
		body, code, param string
	}{
		{`{"prompt":"x"}`, "missing_required_parameter", "model"},
		{`{"model":"m"}`, "missing_required_parameter", "prompt"},
		{`{"model":"m","prompt":[]}`, "empty_array", "prompt"},
		{`{"model":"m","prompt":{}}`, "invalid_type", "prompt"},
		{`{"model":"m","prompt":["a",1]}`, "invalid_type", "prompt"},
		{`{"model":"m","prompt":"x","max_tokens":-1}`, "integer_below_min_value", "max_tokens"},
		{`{"model":"m","prompt":"x","n":0}`, "integer_below_min_value", "n"},
		{`{"model":"m","prompt":"x","stop":["a","b","c","d","e"]}`, "array_above_max_length", "stop"},
	} {
		rec := serve(t, s, http.MethodPost, "/alpha/v1/completions", tt.body)
		if rec.Code != 400 {
			t.Errorf("%s: status %d", tt.body, rec.Code)
			continue
		}
		checkError(t, rec.Body.Bytes(), "invalid_request_error", tt.code, tt.param)
	}
}
