package gemini

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/oaischema"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/proxy/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testEnv makes translations deterministic: a fixed clock and numbered ids.
func testEnv() env {
	n := 0
	return env{
		now:   func() time.Time { return time.Unix(1767225600, 0) },
		newID: func() string { n++; return "id" + strconv.Itoa(n) },
	}
}

// golden runs fn over every testdata/{dir}/*{ext} and compares what it
// returns with the file's .golden twin; -update rewrites the twins.
func golden(t *testing.T, dir, ext string, fn func(t *testing.T, name string, in []byte) string) {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatalf("no testdata/%s/*%s", dir, ext)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ext)
		t.Run(name, func(t *testing.T) {
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := fn(t, name, input)
			path := strings.TrimSuffix(in, ext) + ".golden"
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (run with -update to accept):\ngot:\n%s\nwant:\n%s", in, path, got, want)
			}
		})
	}
}

// pretty indents JSON for a readable golden file, keeping key order.
func pretty(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, b)
	}
	return out.String() + "\n"
}

// errorLine is how a golden file records a translation that failed.
func errorLine(err error) string {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return "400 invalid request: " + re.msg + "\n"
	case errors.Is(err, provider.ErrUnsupported):
		return "unsupported: " + err.Error() + "\n"
	}
	return "error: " + err.Error() + "\n"
}

// validate checks a document against OpenAI's published schema.
func validate(t *testing.T, schema string, doc []byte) {
	t.Helper()
	if err := oaischema.Validate(schema, doc); err != nil {
		t.Errorf("not a valid %s: %v\n%s", schema, err, doc)
	}
}

func TestChatRequestGolden(t *testing.T) {
	golden(t, "chat_request", ".json", func(t *testing.T, name string, in []byte) string {
		out, opts, err := translateChat(in)
		if err != nil {
			return errorLine(err)
		}
		var g generateRequest
		if err := g.decode(out); err != nil {
			t.Errorf("the translation does not decode as a generateContent request: %v", err)
		}
		return fmt.Sprintf("model=%s include_usage=%t\n", opts.model, opts.includeUsage) + pretty(t, out)
	})
}

func TestChatResponseGolden(t *testing.T) {
	golden(t, "chat_response", ".json", func(t *testing.T, name string, in []byte) string {
		out, err := translateResponse(in, chatOptions{model: "gemini-2.5-flash"}, testEnv())
		if err != nil {
			return errorLine(err)
		}
		validate(t, "CreateChatCompletionResponse", out)
		return pretty(t, out)
	})
}

// readStream reads a translated stream whole and returns its text, with
// the error that ended it when that was not io.EOF.
func readStream(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	s := string(b)
	if err != nil {
		s += "-- ended with: " + err.Error() + "\n"
	}
	return s
}

// checkChunks validates each event of a translated OpenAI stream.
func checkChunks(t *testing.T, stream string) {
	t.Helper()
	rd := sse.NewReader(bufio.NewReader(strings.NewReader(stream)), 1<<20)
	for {
		_, data, err := rd.Next()
		if err != nil {
			return
		}
		if string(data) == "[DONE]" {
			continue
		}
		if bytes.HasPrefix(data, []byte(`{"error"`)) {
			validate(t, "ErrorResponse", data)
			continue
		}
		validate(t, "CreateChatCompletionStreamResponse", data)
	}
}

func TestChatStreamGolden(t *testing.T) {
	golden(t, "chat_stream", ".sse", func(t *testing.T, name string, in []byte) string {
		opts := chatOptions{model: "gemini-2.5-flash", includeUsage: !strings.Contains(name, "nousage")}
		s := newChatStream(io.NopCloser(bytes.NewReader(in)), opts, testEnv())
		out := readStream(t, s)
		checkChunks(t, out)
		return out
	})
}

func TestErrorGolden(t *testing.T) {
	golden(t, "errors", ".json", func(t *testing.T, name string, in []byte) string {
		var c struct {
			Status   int               `json:"status"`
			Header   map[string]string `json:"header"`
			Body     json.RawMessage   `json:"body"`
			BodyText string            `json:"body_text"`
		}
		if err := json.Unmarshal(in, &c); err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		for k, v := range c.Header {
			h.Set(k, v)
		}
		body := []byte(c.Body)
		if c.BodyText != "" {
			body = []byte(c.BodyText)
		}
		status, out, retryAfter := convertError(c.Status, h, body)
		validate(t, "ErrorResponse", out)
		return fmt.Sprintf("status=%d retry-after=%q\n", status, retryAfter) + pretty(t, out)
	})
}

func TestEmbeddingsRequestGolden(t *testing.T) {
	golden(t, "embeddings_request", ".json", func(t *testing.T, name string, in []byte) string {
		bodies, opts, err := translateEmbeddings(in)
		if err != nil {
			return errorLine(err)
		}
		s := fmt.Sprintf("model=%s base64=%t calls=%d\n", opts.model, opts.base64, len(bodies))
		for _, b := range bodies {
			s += pretty(t, b)
		}
		return s
	})
}

func TestEmbeddingsResponseGolden(t *testing.T) {
	golden(t, "embeddings_response", ".json", func(t *testing.T, name string, in []byte) string {
		res, err := parseEmbeddings(in)
		if err != nil {
			return errorLine(err)
		}
		b64 := strings.Contains(name, "base64")
		out := embeddingsResponse([]embeddingsResult{res}, embedOptions{model: "gemini-embedding-001", base64: b64})
		if !b64 { // OpenAI's schema does not describe its own base64 form
			validate(t, "CreateEmbeddingResponse", out)
		}
		return pretty(t, out)
	})
}

func TestReverseRequestGolden(t *testing.T) {
	golden(t, "reverse_request", ".json", func(t *testing.T, name string, in []byte) string {
		out, err := GenerateContentToOpenAI("gpt-4.1", in, strings.Contains(name, "stream"))
		if err != nil {
			return errorLine(err)
		}
		// What the reverse translation writes must translate forward again.
		if _, _, err := translateChat(out); err != nil && !errors.Is(err, provider.ErrUnsupported) {
			t.Errorf("the OpenAI request does not translate back: %v", err)
		}
		return pretty(t, out)
	})
}

func TestReverseResponseGolden(t *testing.T) {
	golden(t, "reverse_response", ".json", func(t *testing.T, name string, in []byte) string {
		out, err := OpenAIResponseToGenerateContent(in)
		if err != nil {
			return errorLine(err)
		}
		var r generateResponse
		if err := r.decode(out); err != nil {
			t.Errorf("the translation does not decode as a GenerateContentResponse: %v", err)
		}
		return pretty(t, out)
	})
}

func TestReverseStreamGolden(t *testing.T) {
	golden(t, "reverse_stream", ".sse", func(t *testing.T, name string, in []byte) string {
		s := OpenAIStreamToGenerateContent(io.NopCloser(bytes.NewReader(in)))
		out := readStream(t, s)
		rd := sse.NewReader(bufio.NewReader(strings.NewReader(out)), 1<<20)
		for {
			_, data, err := rd.Next()
			if err != nil {
				break
			}
			var r generateResponse
			if err := r.decode(data); err != nil {
				t.Errorf("event %s does not decode: %v", data, err)
			}
		}
		return out
	})
}

func TestParseUsageGolden(t *testing.T) {
	golden(t, "parse_usage", ".json", func(t *testing.T, name string, in []byte) string {
		u, finish, err := ParseUsage(in)
		if err != nil {
			return errorLine(err)
		}
		return fmt.Sprintf("%+v finish=%q\n", u, finish)
	})
}
