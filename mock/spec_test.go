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
				if err := oaischema.Validate(tt.schema, []byte(doc), oaischema.Strict()); err != nil {
					t.Errorf("%v\n%s", err, doc)
				}
			}
		})
	}
}
