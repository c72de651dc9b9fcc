package gemini

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/oaischema"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/proxy/provider"
)

// seed adds every testdata/{dir}/*{ext} input to the fuzz corpus.
func seed(f *testing.F, dir, ext string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func mustValidJSON(t *testing.T, what string, b []byte) {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON: %q", what, b)
	}
}

// FuzzTranslateChat checks that no client request makes the translation
// panic, that a translation is a valid generateContent request, and that a
// refusal is classified (a 400 or ErrUnsupported, nothing else).
func FuzzTranslateChat(f *testing.F) {
	seed(f, "chat_request", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, _, err := translateChat(body)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) && !errors.Is(err, provider.ErrUnsupported) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		mustValidJSON(t, "the generateContent request", out)
		var g generateRequest
		if err := g.decode(out); err != nil {
			t.Fatalf("the translation does not decode: %v\n%s", err, out)
		}
	})
}

// FuzzTranslateResponse checks that no Gemini response makes the
// translation panic, and that what it returns is a chat completion that
// OpenAI's schema accepts.
func FuzzTranslateResponse(f *testing.F) {
	seed(f, "chat_response", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := translateResponse(body, chatOptions{model: "m"}, testEnv())
		if err != nil {
			return
		}
		mustValidJSON(t, "the completion", out)
		if err := oaischema.Validate("CreateChatCompletionResponse", out); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}

// readBounded reads a translated stream, failing if it produces far more
// than its input could justify (a loop).
func readBounded(t *testing.T, r io.Reader, inLen int) ([]byte, error) {
	t.Helper()
	limit := int64(inLen)*2000 + 1<<16
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(out)) > limit {
		t.Fatalf("the stream produced more than %d bytes from %d", limit, inLen)
	}
	return out, err
}

// sseData returns the data of each event of a stream.
func sseData(t *testing.T, stream []byte) [][]byte {
	t.Helper()
	rd := sse.NewReader(bufio.NewReader(bytes.NewReader(stream)), len(stream)+1)
	var out [][]byte
	for {
		_, data, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("the translated stream is not valid SSE: %v\n%q", err, stream)
		}
		out = append(out, append([]byte(nil), data...))
	}
}

// FuzzChatStream checks that no Gemini stream makes the translation panic
// or loop, and that every event it produces is [DONE] or a JSON chunk or
// error that OpenAI's schemas accept.
func FuzzChatStream(f *testing.F) {
	seed(f, "chat_stream", ".sse")
	f.Fuzz(func(t *testing.T, in []byte) {
		s := newChatStream(io.NopCloser(bytes.NewReader(in)), chatOptions{model: "m", includeUsage: true}, testEnv())
		out, _ := readBounded(t, s, len(in))
		for _, data := range sseData(t, out) {
			if string(data) == "[DONE]" {
				continue
			}
			schema := "CreateChatCompletionStreamResponse"
			if bytes.HasPrefix(data, []byte(`{"error"`)) {
				schema = "ErrorResponse"
			}
			if err := oaischema.Validate(schema, data); err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
		}
	})
}

// FuzzConvertError checks that any error body becomes OpenAI's error shape
// with the upstream's status (or 401 for a rejected key).
func FuzzConvertError(f *testing.F) {
	files, _ := filepath.Glob("testdata/errors/*.json")
	for _, p := range files {
		var c struct {
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		}
		b, _ := os.ReadFile(p)
		_ = json.Unmarshal(b, &c)
		f.Add(c.Status, []byte(c.Body), "")
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		if status < 400 || status > 599 {
			return
		}
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		got, out, _ := convertError(status, h, body)
		if got != status && !(status == 400 && got == 401) {
			t.Fatalf("status %d became %d", status, got)
		}
		if err := oaischema.Validate("ErrorResponse", out); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}

// FuzzEmbeddings checks the embeddings request and response translations:
// no panic, valid JSON out.
func FuzzEmbeddings(f *testing.F) {
	seed(f, "embeddings_request", ".json")
	seed(f, "embeddings_response", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		if bodies, _, err := translateEmbeddings(body); err == nil {
			for _, b := range bodies {
				mustValidJSON(t, "the batch request", b)
			}
		}
		res, err := parseEmbeddings(body)
		if err != nil {
			return
		}
		for _, b64 := range []bool{false, true} {
			out := embeddingsResponse([]embeddingsResult{res}, embedOptions{model: "m", base64: b64})
			mustValidJSON(t, "the embeddings response", out)
			if !b64 {
				if err := oaischema.Validate("CreateEmbeddingResponse", out); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
			}
		}
	})
}

// FuzzGenerateContentToOpenAI checks that no native request makes the
// reverse translation panic, and that its output is JSON.
func FuzzGenerateContentToOpenAI(f *testing.F) {
	seed(f, "reverse_request", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := GenerateContentToOpenAI("m", body, len(body)%2 == 0)
		if err != nil {
			return
		}
		mustValidJSON(t, "the chat request", out)
	})
}

// FuzzOpenAIResponseToGenerateContent checks the reverse response
// translation: no panic, and a GenerateContentResponse out.
func FuzzOpenAIResponseToGenerateContent(f *testing.F) {
	seed(f, "reverse_response", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := OpenAIResponseToGenerateContent(body)
		if err != nil {
			return
		}
		var r generateResponse
		if err := r.decode(out); err != nil {
			t.Fatalf("the output does not decode: %v\n%s", err, out)
		}
	})
}

// FuzzOpenAIStreamToGenerateContent checks the reverse stream translation:
// no panic or loop, and every event a GenerateContentResponse or an error.
func FuzzOpenAIStreamToGenerateContent(f *testing.F) {
	seed(f, "reverse_stream", ".sse")
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _ := readBounded(t, OpenAIStreamToGenerateContent(io.NopCloser(bytes.NewReader(in))), len(in))
		for _, data := range sseData(t, out) {
			var r generateResponse
			if err := r.decode(data); err != nil {
				t.Fatalf("event does not decode: %v\n%s", err, data)
			}
		}
	})
}

// FuzzParseUsage checks that no native body makes ParseUsage panic, and
// that the finish reason is one of OpenAI's.
func FuzzParseUsage(f *testing.F) {
	seed(f, "parse_usage", ".json")
	seed(f, "chat_response", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, finish, err := ParseUsage(body)
		if err != nil {
			return
		}
		switch finish {
		case "", "stop", "length", "content_filter", "tool_calls":
		default:
			t.Fatalf("finish reason %q", finish)
		}
	})
}

// FuzzSchema checks both schema conversions: no panic, bounded work, and
// valid JSON out.
func FuzzSchema(f *testing.F) {
	f.Add([]byte(`{"type":"object","properties":{"a":{"$ref":"#/$defs/A"}},"$defs":{"A":{"type":["string","null"]}}}`))
	f.Add([]byte(`{"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}`))
	f.Add([]byte(`{"type":"OBJECT","properties":{"x":{"type":"STRING","nullable":true,"enum":["a"]}},"propertyOrdering":["x"]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if s, err := toGeminiSchema(raw); err == nil {
			b, err := marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			mustValidJSON(t, "the Gemini schema", b)
		}
		if s, err := fromGeminiSchema(raw); err == nil {
			b, err := marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			mustValidJSON(t, "the JSON schema", b)
		}
	})
}

// The exponential case the node bound exists for: each definition refers
// to the previous one twice.
func TestSchemaExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"$ref":"#/$defs/d30","$defs":{"d0":{"type":"string"}`)
	for i := 1; i <= 30; i++ {
		b.WriteString(`,"d` + strconv.Itoa(i) + `":{"type":"object","properties":{"a":{"$ref":"#/$defs/d` + strconv.Itoa(i-1) + `"},"b":{"$ref":"#/$defs/d` + strconv.Itoa(i-1) + `"}}}`)
	}
	b.WriteString(`}}`)
	if _, err := toGeminiSchema([]byte(b.String())); !errors.Is(err, provider.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported for a schema that expands to 2^30 nodes", err)
	}
}

// A large definition referenced many times is bounded by the text it
// would make the conversion read, not only by the node count.
func TestSchemaReadIsBounded(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	var b strings.Builder
	b.WriteString(`{"type":"object","$defs":{"Big":{"type":"string","description":"` + big + `"}},"properties":{`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"p` + strconv.Itoa(i) + `":{"$ref":"#/$defs/Big"}`)
	}
	b.WriteString(`}}`)
	if _, err := toGeminiSchema([]byte(b.String())); !errors.Is(err, provider.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}
