package mock

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/oaischema"
)

// The responses are validated against the schemas of OpenAI's published
// OpenAPI document (the subset embedded in internal/oaischema): a
// conformance test that no one here wrote. The mock imitates OpenAI itself,
// so it is held to the strict reading: a member the schema does not name is
// an error, so that a misspelt field fails.

func TestResponsesMatchOpenAISchemas(t *testing.T) {
	long := strings.Repeat("abcd", 1250)
	s := New([]config.MockProvider{testProvider("alpha")})
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		schema  string
		stream  bool
		// pendingFinish: OpenAI's spec types a legacy choice's
		// finish_reason as a string, but its streams send null until the
		// last chunk, as the mock does (the SDKs read null as ""). Such
		// chunks are checked with the null replaced.
		pendingFinish bool
	}{
		{name: "completion", method: "POST", path: "/alpha/v1/chat/completions", body: basicBody, schema: "CreateChatCompletionResponse"},
		{name: "cached completion", method: "POST", path: "/alpha/v1/chat/completions", body: `{"model":"m","max_tokens":2,"messages":[{"role":"system","content":"` + long + `"},{"role":"user","content":"hi"}]}`, schema: "CreateChatCompletionResponse"},
		{name: "stream", method: "POST", path: "/alpha/v1/chat/completions", body: streamBody, schema: "CreateChatCompletionStreamResponse", stream: true},
		{name: "stream with usage", method: "POST", path: "/alpha/v1/chat/completions", body: streamUsageBody, schema: "CreateChatCompletionStreamResponse", stream: true},
		{name: "models", method: "GET", path: "/alpha/v1/models", schema: "ListModelsResponse"},
		{name: "model", method: "GET", path: "/alpha/v1/models/gpt-4o", schema: "Model"},
		{name: "400", method: "POST", path: "/alpha/v1/chat/completions", body: `{"model":1}`, schema: "ErrorResponse"},
		{name: "429", method: "POST", path: "/alpha/v1/chat/completions", body: basicBody, headers: []string{HeaderStatus, "429"}, schema: "ErrorResponse"},
		{name: "500", method: "POST", path: "/alpha/v1/chat/completions", body: basicBody, headers: []string{HeaderStatus, "500"}, schema: "ErrorResponse"},
		{name: "404", method: "POST", path: "/nobody/v1/chat/completions", body: basicBody, schema: "ErrorResponse"},

		{name: "tool calls", method: "POST", path: "/alpha/v1/chat/completions", body: toolsBody(`"required"`, `{"role":"user","content":"x"}`, ""), schema: "CreateChatCompletionResponse"},
		{name: "tool call stream", method: "POST", path: "/alpha/v1/chat/completions", body: toolsBody(`"required"`, `{"role":"user","content":"x"}`, `,"stream":true,"stream_options":{"include_usage":true}`), schema: "CreateChatCompletionStreamResponse", stream: true},
		{name: "json_schema", method: "POST", path: "/alpha/v1/chat/completions", body: `{"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":` + schemaCases["pydantic"] + `}},"messages":[{"role":"user","content":"x"}]}`, schema: "CreateChatCompletionResponse"},
		{name: "n and logprobs", method: "POST", path: "/alpha/v1/chat/completions", body: `{"model":"o3","n":2,"logprobs":true,"top_logprobs":2,"messages":[{"role":"user","content":"x"}]}`, schema: "CreateChatCompletionResponse"},
		{name: "n and logprobs stream", method: "POST", path: "/alpha/v1/chat/completions", body: `{"model":"o3","n":2,"logprobs":true,"top_logprobs":2,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`, schema: "CreateChatCompletionStreamResponse", stream: true},
		{name: "text completion", method: "POST", path: "/alpha/v1/completions", body: `{"model":"gpt-3.5-turbo-instruct","prompt":["a","b"],"n":2}`, schema: "CreateCompletionResponse"},
		// A legacy stream's chunks have the same shape as the whole response.
		{name: "text completion stream", method: "POST", path: "/alpha/v1/completions", body: `{"model":"gpt-3.5-turbo-instruct","prompt":"a","stream":true,"stream_options":{"include_usage":true}}`, schema: "CreateCompletionResponse", stream: true, pendingFinish: true},
		{name: "embeddings", method: "POST", path: "/alpha/v1/embeddings", body: `{"model":"text-embedding-3-small","input":["a","b"],"dimensions":8}`, schema: "CreateEmbeddingResponse"},
		{name: "embeddings 400", method: "POST", path: "/alpha/v1/embeddings", body: `{"model":"m","input":""}`, schema: "ErrorResponse"},
		{name: "completions 429", method: "POST", path: "/alpha/v1/completions", body: `{"model":"m","prompt":"x"}`, headers: []string{HeaderStatus, "429"}, schema: "ErrorResponse"},
		{name: "rerank 500", method: "POST", path: "/alpha/v1/rerank", body: `{"model":"m","query":"q","documents":["a"]}`, headers: []string{HeaderStatus, "500"}, schema: "ErrorResponse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, s, tt.method, tt.path, tt.body, tt.headers...)
			var docs []string
			if tt.stream {
				for _, ev := range parseSSE(t, rec.Body.String()) {
					if ev.data != "[DONE]" {
						docs = append(docs, ev.data)
					}
				}
				if len(docs) == 0 {
					t.Fatalf("no chunks in the stream:\n%s", rec.Body)
				}
			} else {
				docs = []string{rec.Body.String()}
			}
			for _, doc := range docs {
				if tt.pendingFinish {
					doc = strings.ReplaceAll(doc, `"finish_reason":null`, `"finish_reason":"stop"`)
				}
				if err := oaischema.Validate(tt.schema, []byte(doc), oaischema.Strict()); err != nil {
					t.Errorf("%v\n%s", err, doc)
				}
			}
		})
	}
}
