package mock

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// basicBody is a two-message request whose prompt is 20 tokens:
// (4 + ceil(28/4)) + (4 + ceil(6/4)) + 3.
const basicBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello!"}]}`

const basicPromptTokens = 20

func testProvider(name string) config.MockProvider {
	return config.MockProvider{Name: name, CompletionTokens: 8}
}

// serve calls the handler directly and returns the recorded response.
func serve(t testing.TB, s *Server, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// post sends body to an httptest server and returns the response.
func post(t testing.TB, url, body string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func decodeObject(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, data)
	}
	return m
}

// expectKeys fails unless obj has exactly the keys want: nothing missing
// (a field OpenAI always sends) and nothing extra (a misspelt one).
func expectKeys(t testing.TB, where string, obj any, want ...string) map[string]any {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%s: got %T, want an object", where, obj)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: keys %v, want %v", where, got, want)
	}
	return m
}

func expectValue(t testing.TB, where string, got, want any) {
	t.Helper()
	if n, ok := got.(json.Number); ok {
		got = n.String()
	}
	if got != want {
		t.Errorf("%s = %#v, want %#v", where, got, want)
	}
}

func number(t testing.TB, where string, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%s = %#v, want a number", where, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%s = %v, want an integer", where, n)
	}
	return i
}

// checkUsage checks a usage object field by field.
func checkUsage(t testing.TB, where string, v any, prompt, completion, cached int64) {
	t.Helper()
	u := expectKeys(t, where, v, "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details")
	if got := number(t, where+".prompt_tokens", u["prompt_tokens"]); got != prompt {
		t.Errorf("%s.prompt_tokens = %d, want %d", where, got, prompt)
	}
	if got := number(t, where+".completion_tokens", u["completion_tokens"]); got != completion {
		t.Errorf("%s.completion_tokens = %d, want %d", where, got, completion)
	}
	if got := number(t, where+".total_tokens", u["total_tokens"]); got != prompt+completion {
		t.Errorf("%s.total_tokens = %d, want %d", where, got, prompt+completion)
	}
	pd := expectKeys(t, where+".prompt_tokens_details", u["prompt_tokens_details"], "cached_tokens", "audio_tokens")
	if got := number(t, where+".cached_tokens", pd["cached_tokens"]); got != cached {
		t.Errorf("%s.cached_tokens = %d, want %d", where, got, cached)
	}
	expectValue(t, where+".audio_tokens", pd["audio_tokens"], "0")
	cd := expectKeys(t, where+".completion_tokens_details", u["completion_tokens_details"],
		"reasoning_tokens", "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens")
	for k, v := range cd {
		expectValue(t, where+".completion_tokens_details."+k, v, "0")
	}
}

// checkError checks an OpenAI error body.
func checkError(t testing.TB, body []byte, wantType, wantCode, wantParam string) {
	t.Helper()
	m := decodeObject(t, body)
	e := expectKeys(t, "body", m["error"], "message", "type", "param", "code")
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error.message is empty")
	}
	expectValue(t, "error.type", e["type"], wantType)
	for _, f := range []struct {
		name string
		want string
	}{{"code", wantCode}, {"param", wantParam}} {
		if f.want == "" {
			if e[f.name] != nil {
				t.Errorf("error.%s = %#v, want null", f.name, e[f.name])
			}
			continue
		}
		expectValue(t, "error."+f.name, e[f.name], f.want)
	}
}

// sseEvent is one parsed server-sent event's data.
type sseEvent struct {
	data string
}

// parseSSE splits a text/event-stream body into its data payloads. It fails
// on any line that is not a data line.
func parseSSE(t testing.TB, body string) []sseEvent {
	t.Helper()
	var events []sseEvent
	for block := range strings.SplitSeq(body, "\n\n") {
		if block == "" {
			continue
		}
		data, ok := strings.CutPrefix(block, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("not a single data line: %q", block)
		}
		events = append(events, sseEvent{data: data})
	}
	return events
}

// expectedContent is the content of a completion of n tokens.
func expectedContent(n int) string {
	var b []byte
	for i := range n {
		b = appendToken(b, i)
	}
	return string(b)
}

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	b, err := readAllErr(resp)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return b
}

func readAllErr(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func jsonValid(b []byte) bool { return json.Valid(b) }

// namedEvent is one server-sent event with its name, as Anthropic sends
// them.
type namedEvent struct {
	name string
	data map[string]any
}

// parseNamedSSE splits an Anthropic stream into its events, failing on any
// block that is not exactly an event line and a data line of JSON.
func parseNamedSSE(t testing.TB, body string) []namedEvent {
	t.Helper()
	var events []namedEvent
	for block := range strings.SplitSeq(body, "\n\n") {
		if block == "" {
			continue
		}
		lines := strings.Split(block, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("not an event and a data line: %q", block)
		}
		events = append(events, namedEvent{name: strings.TrimPrefix(lines[0], "event: "), data: decodeObject(t, []byte(strings.TrimPrefix(lines[1], "data: ")))})
	}
	return events
}

// object returns m[key] as an object, failing otherwise.
func object(t testing.TB, where string, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s = %#v, want an object", where, v)
	}
	return m
}

// array returns v as an array, failing otherwise.
func array(t testing.TB, where string, v any) []any {
	t.Helper()
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("%s = %#v, want an array", where, v)
	}
	return a
}

// anthropicHeaders are what every Anthropic request carries.
var anthropicHeaders = []string{"anthropic-version", "2023-06-01"}

func withHeaders(base []string, more ...string) []string {
	return append(append([]string(nil), base...), more...)
}

// newHTTPServer serves s over HTTP for the test and returns its URL.
func newHTTPServer(t testing.TB, s *Server) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}
