package mock

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// The responses are validated against OpenAI's published OpenAPI document:
// a conformance test that no one here wrote. The document is looked up in
// $OPENAI_OPENAPI_SPEC, then as specs/openai-openapi.json or
// shared/specs/openai-openapi.json in this directory or any parent; the test
// is skipped when it is nowhere.

func TestResponsesMatchOpenAISchemas(t *testing.T) {
	spec := loadSpec(t)
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
			} else {
				docs = []string{rec.Body.String()}
			}
			for _, doc := range docs {
				var v any
				if err := json.Unmarshal([]byte(doc), &v); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, doc)
				}
				for _, problem := range spec.validate(spec.schemas[tt.schema], v, tt.schema) {
					t.Errorf("%s\n%s", problem, doc)
				}
			}
		})
	}
}

type openAPISpec struct {
	schemas map[string]any
}

var (
	specOnce sync.Once
	specDoc  *openAPISpec
	specErr  error
)

func loadSpec(t *testing.T) *openAPISpec {
	t.Helper()
	specOnce.Do(func() {
		path := os.Getenv("OPENAI_OPENAPI_SPEC")
		if path == "" {
			dir, _ := os.Getwd()
			for dir != "" && path == "" {
				for _, candidate := range []string{"specs/openai-openapi.json", "shared/specs/openai-openapi.json"} {
					if _, err := os.Stat(filepath.Join(dir, candidate)); err == nil {
						path = filepath.Join(dir, candidate)
						break
					}
				}
				parent := filepath.Dir(dir)
				if parent == dir {
					break
				}
				dir = parent
			}
		}
		if path == "" {
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			specErr = err
			return
		}
		var doc struct {
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if specErr = json.Unmarshal(data, &doc); specErr == nil {
			specDoc = &openAPISpec{schemas: doc.Components.Schemas}
		}
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	if specDoc == nil {
		t.Skip("OpenAI's OpenAPI document not found; set OPENAI_OPENAPI_SPEC")
	}
	return specDoc
}

// validate checks v against the subset of JSON Schema that OpenAI's document
// uses for responses: $ref, type, nullable, enum, required, properties,
// items, anyOf/oneOf and allOf. It is stricter than JSON Schema in one way:
// an object may only hold the properties its schema names (unless the schema
// allows additional ones), so that a misspelt field fails.
func (s *openAPISpec) validate(schemaAny any, v any, path string) []string {
	schema, ok := schemaAny.(map[string]any)
	if !ok {
		return []string{path + ": no schema"}
	}
	// OpenAPI 3.0 puts nullable beside a $ref as well as beside a type.
	if v == nil && schema["nullable"] == true {
		return nil
	}
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := s.schemas[name]
		if !ok {
			return []string{path + ": unresolvable " + ref}
		}
		return s.validate(target, v, path)
	}
	var problems []string
	for _, key := range []string{"anyOf", "oneOf"} {
		alternatives, ok := schema[key].([]any)
		if !ok {
			continue
		}
		var all []string
		matched := false
		for _, alt := range alternatives {
			p := s.validate(alt, v, path)
			if len(p) == 0 {
				matched = true
				break
			}
			all = append(all, p...)
		}
		if !matched {
			problems = append(problems, fmt.Sprintf("%s: matches none of %s: %v", path, key, all))
		}
	}
	if parts, ok := schema["allOf"].([]any); ok {
		for _, part := range parts {
			problems = append(problems, s.validate(part, v, path)...)
		}
	}
	if typ, ok := schema["type"].(string); ok && !hasType(v, typ) {
		return append(problems, fmt.Sprintf("%s: %#v is not of type %s", path, v, typ))
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		problems = append(problems, fmt.Sprintf("%s: %#v is not one of %v", path, v, enum))
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		required, _ := schema["required"].([]any)
		for _, r := range required {
			if _, ok := v[r.(string)]; !ok {
				problems = append(problems, fmt.Sprintf("%s: required field %q missing", path, r))
			}
		}
		for k, fv := range v {
			if ps, ok := props[k]; ok {
				problems = append(problems, s.validate(ps, fv, path+"."+k)...)
			} else if props != nil && schema["additionalProperties"] == nil && !hasComposition(schema) {
				problems = append(problems, fmt.Sprintf("%s: field %q is not in the schema", path, k))
			}
		}
	case []any:
		if items, ok := schema["items"]; ok {
			for i, item := range v {
				problems = append(problems, s.validate(items, item, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return problems
}

func hasComposition(schema map[string]any) bool {
	return schema["allOf"] != nil || schema["anyOf"] != nil || schema["oneOf"] != nil
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "number":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	}
	return true
}
