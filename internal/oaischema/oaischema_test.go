package oaischema

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestOpenAISubset(t *testing.T) {
	s, err := OpenAI()
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Join(s.Names(), " ")
	for _, root := range []string{"CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "CreateCompletionResponse",
		"CreateEmbeddingResponse", "ListModelsResponse", "Model", "ErrorResponse"} {
		if !strings.Contains(" "+names+" ", " "+root+" ") {
			t.Errorf("the subset lacks %s", root)
		}
	}
	var header struct {
		Source struct {
			Repository, Commit, License string
		} `json:"x-source"`
	}
	if err := json.Unmarshal(openAISubset, &header); err != nil || header.Source.Commit == "" ||
		header.Source.License != "MIT" || !strings.Contains(header.Source.Repository, "openai/openai-openapi") {
		t.Errorf("the subset does not name its source: %+v (%v)", header.Source, err)
	}
}

// Documents in OpenAI's shape, as its API answers.
const (
	chatCompletion = `{"id":"chatcmpl-1","object":"chat.completion","created":1741569952,"model":"gpt-4o-2024-08-06",
		"choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],
		"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
			"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
			"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},
		"service_tier":"default","system_fingerprint":"fp_1"}`
	streamChunk = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o","system_fingerprint":"fp_1",
		"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"logprobs":null,"finish_reason":null}]}`
	completion = `{"id":"cmpl-1","object":"text_completion","created":1741569952,"model":"gpt-3.5-turbo-instruct",
		"choices":[{"text":"Hi","index":0,"logprobs":null,"finish_reason":"length"}],
		"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`
	embeddings = `{"object":"list","data":[{"object":"embedding","embedding":[0.0023,-0.0093],"index":0}],"model":"text-embedding-3-small",
		"usage":{"prompt_tokens":8,"total_tokens":8}}`
	models   = `{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1686935002,"owned_by":"openai"}]}`
	apiError = `{"error":{"message":"Rate limit reached","type":"rate_limit_exceeded","param":null,"code":"rate_limit_exceeded"}}`
)

func TestOpenAIDocuments(t *testing.T) {
	for schema, doc := range map[string]string{
		"CreateChatCompletionResponse":       chatCompletion,
		"CreateChatCompletionStreamResponse": streamChunk,
		"CreateCompletionResponse":           completion,
		"CreateEmbeddingResponse":            embeddings,
		"ListModelsResponse":                 models,
		"ErrorResponse":                      apiError,
	} {
		if err := Validate(schema, []byte(doc), Strict()); err != nil {
			t.Errorf("%s: %v", schema, err)
		}
	}
}

// The proxy adds OpenRouter's members to OpenAI's shapes; the spec allows
// that, so only Strict objects.
func TestOpenAIExtensions(t *testing.T) {
	withCost := strings.Replace(chatCompletion, `"total_tokens":29`, `"total_tokens":29,"cost":0.00012`, 1)
	withMeta := strings.Replace(apiError, `"code":"rate_limit_exceeded"}`, `"code":"rate_limit_exceeded","metadata":{"error_type":"rate_limited"}}`, 1)
	for _, tt := range []struct{ schema, doc, path string }{
		{"CreateChatCompletionResponse", withCost, "$.usage.cost"},
		{"ErrorResponse", withMeta, "$.error.metadata"},
	} {
		if err := Validate(tt.schema, []byte(tt.doc)); err != nil {
			t.Errorf("%s: %v", tt.path, err)
		}
		var verr *Error
		if err := Validate(tt.schema, []byte(tt.doc), Strict()); !errors.As(err, &verr) || verr.Problems[0].Path != tt.path {
			t.Errorf("strict: got %v, want a problem at %s", err, tt.path)
		}
	}
}

func TestOpenAIViolations(t *testing.T) {
	for _, tt := range []struct{ schema, doc, path string }{
		{"CreateChatCompletionResponse", strings.Replace(chatCompletion, `"finish_reason":"stop"`, `"finish_reason":"done"`, 1), "$.choices[0].finish_reason"},
		{"CreateChatCompletionResponse", strings.Replace(chatCompletion, `"prompt_tokens":19`, `"prompt_tokens":"19"`, 1), "$.usage.prompt_tokens"},
		{"CreateChatCompletionResponse", strings.Replace(chatCompletion, `"object":"chat.completion"`, `"object":"chat.completion.chunk"`, 1), "$.object"},
		{"CreateChatCompletionResponse", strings.Replace(chatCompletion, `"role":"assistant",`, ``, 1), "$.choices[0].message"},
		{"CreateChatCompletionStreamResponse", strings.Replace(streamChunk, `"created":1741569952,`, ``, 1), "$"},
		{"ErrorResponse", strings.Replace(apiError, `"param":null,`, ``, 1), "$.error"},
		{"ErrorResponse", strings.Replace(apiError, `"param":null`, `"param":7`, 1), "$.error.param"},
		{"CreateEmbeddingResponse", strings.Replace(embeddings, `0.0023`, `"0.0023"`, 1), "$.data[0].embedding"},
	} {
		var verr *Error
		err := Validate(tt.schema, []byte(tt.doc))
		if !errors.As(err, &verr) {
			t.Errorf("%s: accepted a document that breaks it at %s", tt.schema, tt.path)
			continue
		}
		if !strings.HasPrefix(verr.Problems[0].Path, tt.path) {
			t.Errorf("%s: problem at %s, want at %s: %v", tt.schema, verr.Problems[0].Path, tt.path, err)
		}
	}
}
