package gemini

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/proxy/provider"
)

// upstream is an httptest server standing in for the Gemini API. It
// records every request it receives.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	method, path, query string
	header              http.Header
	body                []byte
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.reqs...)
}

// newUpstream starts a stand-in Gemini served by handler and a client for
// it configured with the key cfg-key and one extra header.
func newUpstream(t *testing.T, handler http.HandlerFunc) (*Client, *upstream) {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		handler(w, r)
	}))
	t.Cleanup(u.srv.Close)
	c := New(config.Provider{
		Name: "gem", Type: config.ProviderGemini, BaseURL: u.srv.URL + "/", APIKey: "cfg-key",
		Headers: map[string]string{"X-Extra": "yes"},
	}, u.srv.Client(), "switchyard-test/1")
	c.env = testEnv()
	return c, u
}

func fixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func serveJSON(status int, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

const chatBody = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Hi"}],"stream_options":{"include_usage":true}}`

func TestSendChat(t *testing.T) {
	c, up := newUpstream(t, serveJSON(200, fixture(t, "chat_response/text.json")))
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(chatBody)})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("status %d, content type %q, length %d for %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, len(body))
	}
	validate(t, "CreateChatCompletionResponse", body)
	want, _, _ := translateChat([]byte(chatBody))
	reqs := up.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d upstream requests, want 1", len(reqs))
	}
	r := reqs[0]
	checks := []struct{ what, got, want string }{
		{"method", r.method, "POST"},
		{"path", r.path, "/v1beta/models/gemini-2.5-flash:generateContent"},
		{"query", r.query, ""},
		{"x-goog-api-key", r.header.Get("X-Goog-Api-Key"), "cfg-key"},
		{"authorization", r.header.Get("Authorization"), ""},
		{"configured header", r.header.Get("X-Extra"), "yes"},
		{"user agent", r.header.Get("User-Agent"), "switchyard-test/1"},
		{"content type", r.header.Get("Content-Type"), "application/json"},
		{"accept", r.header.Get("Accept"), "application/json"},
		{"body", string(r.body), string(want)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("upstream %s = %q, want %q", c.what, c.got, c.want)
		}
	}
	var cc chatCompletion
	if err := json.Unmarshal(body, &cc); err != nil || *cc.Choices[0].Message.Content != "Hello, world <&>" || cc.Usage.TotalTokens != 150 {
		t.Errorf("unexpected completion %s (%v)", body, err)
	}
}

func TestSendClientKeyReplacesConfigured(t *testing.T) {
	c, up := newUpstream(t, serveJSON(200, fixture(t, "chat_response/text.json")))
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(chatBody), APIKey: "client-key"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := up.requests()[0].header.Values("X-Goog-Api-Key"); len(got) != 1 || got[0] != "client-key" {
		t.Fatalf("x-goog-api-key = %q, want only the client's key", got)
	}
}

func TestBaseURL(t *testing.T) {
	for _, tt := range []struct{ base, model, want string }{
		{"https://generativelanguage.googleapis.com", "gemini-2.5-flash", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"},
		{"https://generativelanguage.googleapis.com/v1beta/", "gemini-2.5-flash", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"},
		{"https://gw.example.com/google/v1", "tuned/x y", "https://gw.example.com/google/v1/models/tuned%2Fx%20y:generateContent"},
		{"https://gw.example.com/v1alpha", "m", "https://gw.example.com/v1alpha/models/m:generateContent"},
	} {
		c := New(config.Provider{BaseURL: tt.base}, http.DefaultClient, "ua")
		if got := c.modelURL(tt.model, "generateContent"); got != tt.want {
			t.Errorf("base %q: %s, want %s", tt.base, got, tt.want)
		}
	}
}

// sseEvents splits a Gemini SSE fixture into its events.
func sseEvents(b []byte) [][]byte {
	var out [][]byte
	for _, e := range bytes.SplitAfter(b, []byte("\r\n\r\n")) {
		if len(e) > 0 {
			out = append(out, e)
		}
	}
	return out
}

func TestSendStream(t *testing.T) {
	events := sseEvents(fixture(t, "chat_stream/text.sse"))
	proceed := make(chan struct{})
	c, up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i, e := range events {
			_, _ = w.Write(e)
			w.(http.Flusher).Flush()
			if i == 0 {
				// Hold the rest until the client has the first chunk: the
				// translation must not wait for more than one event.
				select {
				case <-proceed:
				case <-r.Context().Done():
					return
				}
			}
		}
	})
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(chatBody), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || !strings.Contains(first, `"content":"Hel"`) {
		t.Fatalf("first line %q, %v", first, err)
	}
	close(proceed)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	got := first + string(rest)
	if want := string(fixture(t, "chat_stream/text.golden")); got != want {
		t.Errorf("stream:\n%s\nwant:\n%s", got, want)
	}
	r := up.requests()[0]
	if r.path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || r.query != "alt=sse" || r.header.Get("Accept") != "text/event-stream" {
		t.Errorf("upstream %s?%s accept %q", r.path, r.query, r.header.Get("Accept"))
	}
}

// TestSendStreamEndsUpstream checks that a client that goes away — its
// context canceled, or the body closed — ends the upstream request.
func TestSendStreamEndsUpstream(t *testing.T) {
	for _, how := range []string{"cancel", "close"} {
		t.Run(how, func(t *testing.T) {
			gone := make(chan struct{})
			event := sseEvents(fixture(t, "chat_stream/text.sse"))[0]
			c, _ := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = w.Write(event)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				close(gone)
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := c.Send(ctx, &provider.Request{Path: provider.PathChat, Body: []byte(chatBody), Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(resp.Body)
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			if how == "cancel" {
				cancel()
			} else {
				resp.Body.Close()
			}
			select {
			case <-gone:
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream request did not end")
			}
			if how == "cancel" {
				if _, err := io.ReadAll(br); err == nil {
					t.Error("reading after cancellation succeeded")
				}
				resp.Body.Close()
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	errorBody := func(name string) []byte {
		var c struct {
			Body json.RawMessage `json:"body"`
		}
		_ = json.Unmarshal(fixture(t, "errors/"+name), &c)
		return c.Body
	}
	tests := []struct {
		name       string
		stream     bool
		status     int
		header     map[string]string
		body       []byte
		wantStatus int
		retryAfter string
		code       string
	}{
		{"429 with RetryInfo", false, 429, nil, errorBody("429_resource_exhausted.json"), 429, "37", "RESOURCE_EXHAUSTED"},
		{"429 keeps Retry-After", true, 429, map[string]string{"Retry-After": "12"}, errorBody("429_retry_after_header.json"), 429, "12", "RESOURCE_EXHAUSTED"},
		{"400 invalid argument", false, 400, nil, errorBody("400_invalid_argument.json"), 400, "", "INVALID_ARGUMENT"},
		{"400 from the stream method", true, 400, nil, errorBody("stream_array.json"), 400, "", "INVALID_ARGUMENT"},
		{"bad key is 401", false, 400, nil, errorBody("400_api_key_invalid.json"), 401, "", "INVALID_ARGUMENT"},
		{"503 without a body", false, 503, nil, nil, 503, "", "UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				serveJSON(tt.status, tt.body)(w, r)
			})
			resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(chatBody), Stream: tt.stream})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			validate(t, "ErrorResponse", body)
			var e oaError
			_ = json.Unmarshal(body, &e)
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Retry-After") != tt.retryAfter || e.Error.Code == nil || *e.Error.Code != tt.code {
				t.Errorf("status %d Retry-After %q body %s; want %d %q code %s", resp.StatusCode, resp.Header.Get("Retry-After"), body, tt.wantStatus, tt.retryAfter, tt.code)
			}
			if resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != int64(len(body)) {
				t.Errorf("content type %q, length %d for %d bytes", resp.Header.Get("Content-Type"), resp.ContentLength, len(body))
			}
		})
	}
}

func TestSendRefusesWithoutCalling(t *testing.T) {
	c, up := newUpstream(t, serveJSON(200, fixture(t, "chat_response/text.json")))
	for _, path := range []string{provider.PathCompletions, provider.PathRerank} {
		if _, err := c.Send(context.Background(), &provider.Request{Path: path, Body: []byte(`{}`)}); !errors.Is(err, provider.ErrUnsupported) {
			t.Errorf("%s: err = %v, want ErrUnsupported", path, err)
		}
	}
	unsupportedBody := fixture(t, "chat_request/unsupported_web_search.json")
	if _, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: unsupportedBody}); !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("web_search_options: err = %v, want ErrUnsupported", err)
	}
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(`{"model":`)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("malformed request: status %d, want 400", resp.StatusCode)
	}
	validate(t, "ErrorResponse", body)
	if n := len(up.requests()); n != 0 {
		t.Errorf("%d upstream requests, want none", n)
	}
}

func TestSendMalformedUpstream(t *testing.T) {
	c, _ := newUpstream(t, serveJSON(200, []byte("<html>oops</html>")))
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(chatBody)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	validate(t, "ErrorResponse", body)
}

func TestSendUnreachable(t *testing.T) {
	c, up := newUpstream(t, serveJSON(200, nil))
	up.srv.Close()
	if _, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(chatBody)}); err == nil {
		t.Fatal("no error from a closed upstream")
	}
}

func TestSendEmbeddings(t *testing.T) {
	// The stand-in answers each text "tN" with the vector [N, -N].
	c, up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		var batch struct {
			Requests []embedRequest `json:"requests"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &batch); err != nil || len(batch.Requests) > maxEmbedBatch {
			serveJSON(400, []byte(`{"error":{"code":400,"message":"bad batch","status":"INVALID_ARGUMENT"}}`))(w, r)
			return
		}
		out := `{"embeddings":[`
		for i, req := range batch.Requests {
			if i > 0 {
				out += ","
			}
			n := strings.TrimPrefix(req.Content.Parts[0].Text, "t")
			out += `{"values":[` + n + `,-` + n + `]}`
		}
		serveJSON(200, []byte(out+`]}`))(w, r)
	})
	texts := make([]string, 150)
	for i := range texts {
		texts[i] = fmt.Sprintf("t%d", i)
	}
	input, _ := json.Marshal(texts)
	body := []byte(`{"model":"gemini-embedding-001","input":` + string(input) + `,"dimensions":2}`)
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathEmbeddings, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	validate(t, "CreateEmbeddingResponse", out)
	var e struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &e); err != nil || len(e.Data) != 150 {
		t.Fatalf("%d embeddings (%v), want 150", len(e.Data), err)
	}
	for i, d := range e.Data {
		if d.Index != i || d.Embedding[0] != float64(i) || d.Embedding[1] != -float64(i) {
			t.Fatalf("data[%d] = %+v", i, d)
		}
	}
	reqs := up.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d upstream calls, want 2 (100 + 50)", len(reqs))
	}
	for _, r := range reqs {
		if r.path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" || r.header.Get("X-Goog-Api-Key") != "cfg-key" {
			t.Errorf("upstream %s key %q", r.path, r.header.Get("X-Goog-Api-Key"))
		}
		if !bytes.Contains(r.body, []byte(`"outputDimensionality":2`)) {
			t.Errorf("dimensions not sent: %s", r.body)
		}
	}
}

func TestSendEmbeddingsError(t *testing.T) {
	c, _ := newUpstream(t, serveJSON(429, []byte(`{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`)))
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathEmbeddings, Body: []byte(`{"model":"gemini-embedding-001","input":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Errorf("status %d, want 429", resp.StatusCode)
	}
}

// TestRoundTripSignature checks that the thought signature Gemini attaches
// to a function call comes back on the next turn through the tool call id.
func TestRoundTripSignature(t *testing.T) {
	out, err := translateResponse(fixture(t, "chat_response/tool_calls.json"), chatOptions{model: "gemini-3-pro-preview"}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	var cc chatCompletion
	if err := json.Unmarshal(out, &cc); err != nil {
		t.Fatal(err)
	}
	calls := cc.Choices[0].Message.ToolCalls
	msgs := []any{
		map[string]any{"role": "user", "content": "weather?"},
		map[string]any{"role": "assistant", "content": nil, "tool_calls": calls},
	}
	for _, c := range calls {
		msgs = append(msgs, map[string]any{"role": "tool", "tool_call_id": c.ID, "content": "ok"})
	}
	body, _ := json.Marshal(map[string]any{"model": "gemini-3-pro-preview", "messages": msgs})
	req, _, err := translateChat(body)
	if err != nil {
		t.Fatal(err)
	}
	var g generateRequest
	if err := g.decode(req); err != nil {
		t.Fatal(err)
	}
	model := g.Contents[1]
	if model.Parts[0].ThoughtSignature != "c2lnLTE=" || model.Parts[1].ThoughtSignature != "" || len(g.Contents[2].Parts) != 3 {
		t.Errorf("signatures did not survive the round trip: %s", req)
	}
}
