package anthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/proxy/provider"
)

// Every decoder here reads untrusted bytes: client requests, and upstream
// responses and streams. The fuzz targets check that none panics or hangs
// and that whatever is produced is valid JSON, or valid SSE carrying JSON.

func addSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	if len(files) == 0 {
		f.Fatalf("no seeds for %s", pattern)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzChatToMessages: any client body either translates into a JSON
// object with the members Anthropic requires, or fails as a bad request or
// as unsupported.
func FuzzChatToMessages(f *testing.F) {
	addSeeds(f, "request_openai_to_anthropic/*.in.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, stream := range []bool{false, true} {
			tr, err := chatToMessages(body, stream)
			if err != nil {
				var reqErr *requestError
				if !errors.As(err, &reqErr) && !errors.Is(err, provider.ErrUnsupported) {
					t.Fatalf("unclassified error: %v", err)
				}
				continue
			}
			var m struct {
				Model     *string           `json:"model"`
				MaxTokens *int64            `json:"max_tokens"`
				Messages  []json.RawMessage `json:"messages"`
			}
			if err := json.Unmarshal(tr.body, &m); err != nil || m.Model == nil || m.MaxTokens == nil || m.Messages == nil {
				t.Fatalf("bad Messages request %s: %v", tr.body, err)
			}
		}
	})
}

// FuzzMessagesRequestToOpenAI: any Messages body translates into valid
// JSON or fails.
func FuzzMessagesRequestToOpenAI(f *testing.F) {
	addSeeds(f, "request_anthropic_to_openai/*.in.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := MessagesRequestToOpenAI(body)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	})
}

// FuzzResponses: any upstream body, in either direction, translates into
// valid JSON or fails; error bodies always translate.
func FuzzResponses(f *testing.F) {
	addSeeds(f, "response_*/*.in.json")
	addSeeds(f, "error_*/*.in.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		if out, err := messageToCompletion(body, "weather_report", testCreated); err == nil && !json.Valid(out) {
			t.Fatalf("messageToCompletion: invalid JSON: %s", out)
		}
		if out, err := OpenAIResponseToMessages(body); err == nil && !json.Valid(out) {
			t.Fatalf("OpenAIResponseToMessages: invalid JSON: %s", out)
		}
		for _, status := range []int{400, 429, 500, 529} {
			if out := errorToOpenAI(status, body); !json.Valid(out) {
				t.Fatalf("errorToOpenAI: invalid JSON: %s", out)
			}
			if out := OpenAIErrorToMessages(status, body); !json.Valid(out) {
				t.Fatalf("OpenAIErrorToMessages: invalid JSON: %s", out)
			}
		}
		_, _, _ = ParseMessageUsage(body)
	})
}

// readAllWithin reads a translated stream to its end, failing the test if
// that takes longer than a translation loop ever should.
func readAllWithin(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	done := make(chan []byte, 1)
	go func() { done <- readStream(r) }()
	select {
	case out := <-done:
		return out
	case <-time.After(10 * time.Second):
		t.Fatal("stream translation hangs")
		return nil
	}
}

// FuzzAnthropicStream: any upstream SSE stream translates into SSE whose
// events are JSON (or a final [DONE]); the observer reads the same events
// without panicking.
func FuzzAnthropicStream(f *testing.F) {
	addSeeds(f, "stream_anthropic_to_openai/*.in.sse")
	f.Fuzz(func(t *testing.T, stream []byte) {
		tr := translatedRequest{includeUsage: true, jsonTool: "weather_report"}
		out := readAllWithin(t, newChunkStream(io.NopCloser(bytes.NewReader(stream)), tr, testCreated))
		if err := validSSE(out); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var o StreamObserver
		rd := sse.NewReader(bufio.NewReader(bytes.NewReader(stream)), maxEventBytes)
		for {
			event, data, err := rd.Next()
			if err != nil {
				break
			}
			_, _ = o.Observe(event, data)
		}
	})
}

// FuzzOpenAIStream: any OpenAI-compatible SSE stream translates into
// Anthropic events, each named and carrying JSON.
func FuzzOpenAIStream(f *testing.F) {
	addSeeds(f, "stream_openai_to_anthropic/*.in.sse")
	f.Fuzz(func(t *testing.T, stream []byte) {
		out := readAllWithin(t, OpenAIStreamToMessages(io.NopCloser(bytes.NewReader(stream))))
		if err := validSSE(out); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		rd := sse.NewReader(bufio.NewReader(bytes.NewReader(out)), len(out)+1)
		for {
			event, data, err := rd.Next()
			if err != nil {
				break
			}
			if len(event) == 0 || string(data) == "[DONE]" {
				t.Fatalf("not an Anthropic event: %q %q", event, data)
			}
		}
	})
}
