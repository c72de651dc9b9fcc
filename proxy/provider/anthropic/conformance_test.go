package anthropic

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/oaischema"
	"github.com/switchyard/switchyard/internal/sse"
)

// TestOutputsMatchOpenAISchemas holds every OpenAI-shaped golden output —
// completions, stream chunks, errors — to the schemas of OpenAI's
// published OpenAPI document, which OpenAI SDKs are generated from.
func TestOutputsMatchOpenAISchemas(t *testing.T) {
	check := func(name, schema string, doc []byte) {
		t.Helper()
		if err := oaischema.Validate(schema, doc); err != nil {
			t.Errorf("%s: %s: %v\n%s", name, schema, err, doc)
		}
	}
	files, _ := filepath.Glob("testdata/response_anthropic_to_openai/*.out.json")
	for _, name := range files {
		doc, _ := os.ReadFile(name)
		if !bytes.Contains(doc, []byte("translation_error")) {
			check(name, "CreateChatCompletionResponse", doc)
		}
	}
	files, _ = filepath.Glob("testdata/error_anthropic_to_openai/*.out.json")
	for _, name := range files {
		doc, _ := os.ReadFile(name)
		check(name, "ErrorResponse", doc)
	}
	files, _ = filepath.Glob("testdata/stream_anthropic_to_openai/*.out.sse")
	for _, name := range files {
		stream, _ := os.ReadFile(name)
		rd := sse.NewReader(bufio.NewReader(bytes.NewReader(stream)), len(stream)+1)
		for {
			_, data, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case string(data) == "[DONE]":
			case strings.HasPrefix(string(data), `{"error"`):
				check(name, "ErrorResponse", data)
			default:
				check(name, "CreateChatCompletionStreamResponse", data)
			}
		}
	}
}
