package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/proxy/provider"
)

const (
	testKey     = "sk-ant-configured"
	testVersion = "2023-06-01"
)

// newTestClient returns a client of an httptest server standing in for
// Anthropic; handler serves it.
func newTestClient(t *testing.T, handler http.HandlerFunc) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c := New(config.Provider{
		Name:       "anthropic",
		Type:       config.ProviderAnthropic,
		BaseURL:    srv.URL + "/", // a trailing slash is tolerated
		APIKey:     testKey,
		APIVersion: testVersion,
		Headers:    map[string]string{"X-Org-Tag": "team-a"},
	}, srv.Client(), "switchyard-test/1.0")
	c.now = func() time.Time { return time.Unix(testCreated, 0) }
	return c, srv
}

func chatBody(stream bool) []byte {
	if stream {
		return []byte(`{"model":"claude-sonnet-4-20250514","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`)
	}
	return []byte(`{"model":"claude-sonnet-4-20250514","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":50}`)
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSendTranslatesRequestAndResponse(t *testing.T) {
	var gotBody []byte
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
			t.Errorf("got %s %s, want POST /v1/messages", r.Method, r.URL.Path)
		}
		for h, want := range map[string]string{
			"X-Api-Key":         testKey,
			"Anthropic-Version": testVersion,
			"Content-Type":      "application/json",
			"Accept":            "application/json",
			"User-Agent":        "switchyard-test/1.0",
			"X-Org-Tag":         "team-a",
			"Authorization":     "",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("header %s = %q, want %q", h, got, want)
			}
		}
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_123")
		w.Write(readFixture(t, "testdata/response_anthropic_to_openai/text_cache_usage.in.json"))
	})
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: chatBody(false)})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Request-Id") != "req_123" {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	wantReq := `{"model":"claude-sonnet-4-20250514","max_tokens":50,"system":"be brief","messages":[{"role":"user","content":"hi"}]}`
	if string(gotBody) != wantReq {
		t.Errorf("upstream body\n got %s\nwant %s", gotBody, wantReq)
	}
	var got bytes.Buffer
	json.Indent(&got, body, "", "  ")
	got.WriteByte('\n')
	want := readFixture(t, "testdata/response_anthropic_to_openai/text_cache_usage.out.json")
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("response\n got %s\nwant %s", got.Bytes(), want)
	}
}

func TestSendClientKeyReplacesConfiguredKey(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Api-Key"); got != "sk-ant-client" {
			t.Errorf("x-api-key = %q, want the client's key", got)
		}
		w.Write(readFixture(t, "testdata/response_anthropic_to_openai/max_tokens.in.json"))
	})
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: chatBody(false), APIKey: "sk-ant-client"})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func TestSendMapsErrors(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		wantType   string
		wantCode   any
	}{
		{"overloaded", 529, "", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, "api_error", "overloaded_error"},
		{"rate limited", 429, "7", `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`, "rate_limit_error", "rate_limit_error"},
		{"invalid", 400, "", `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 100000 > 64000"}}`, "invalid_request_error", "invalid_request_error"},
		{"bad key", 401, "", `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, "authentication_error", "authentication_error"},
		{"gateway page", 502, "", `<html>bad gateway</html>`, "api_error", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					io.WriteString(w, tc.body)
				})
				resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: chatBody(stream), Stream: stream})
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.status {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
				}
				if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
					t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if cl := resp.Header.Get("Content-Length"); cl != "" || resp.ContentLength != -1 {
					t.Errorf("Content-Length %q / %d kept though the body changed", cl, resp.ContentLength)
				}
				var e struct {
					Error struct {
						Message string  `json:"message"`
						Type    string  `json:"type"`
						Param   *string `json:"param"`
						Code    any     `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("error body %s: %v", body, err)
				}
				if e.Error.Type != tc.wantType || e.Error.Code != tc.wantCode || e.Error.Message == "" || e.Error.Param != nil {
					t.Errorf("error body %s: want type %q code %v", body, tc.wantType, tc.wantCode)
				}
			}
		})
	}
}

// sseHandler serves an SSE fixture the way Anthropic does: event by event,
// flushed.
func sseHandler(t *testing.T, fixture []byte, check func(r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			check(r)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range bytes.SplitAfter(fixture, []byte("\n\n")) {
			w.Write(ev)
			w.(http.Flusher).Flush()
		}
	}
}

func TestSendStreamEndToEnd(t *testing.T) {
	for _, name := range []string{"text_cache", "tool_use_parallel", "error_midstream"} {
		t.Run(name, func(t *testing.T) {
			fixture := readFixture(t, "testdata/stream_anthropic_to_openai/"+name+".in.sse")
			c, _ := newTestClient(t, sseHandler(t, fixture, func(r *http.Request) {
				if r.Header.Get("Accept") != "text/event-stream" {
					t.Errorf("Accept = %q", r.Header.Get("Accept"))
				}
				body, _ := io.ReadAll(r.Body)
				if !bytes.Contains(body, []byte(`"stream":true`)) {
					t.Errorf("upstream request is not a stream: %s", body)
				}
			}))
			resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: chatBody(true), Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.ContentLength != -1 {
				t.Errorf("status %d, content type %q, length %d", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength)
			}
			got := readStream(resp.Body)
			want := readFixture(t, "testdata/stream_anthropic_to_openai/"+name+".out.sse")
			if !bytes.Equal(got, want) {
				t.Errorf("stream\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestSendStreamClientGoneEndsUpstream checks that a client that goes away
// mid-stream (its context canceled, or the body closed) ends the upstream
// request rather than leaving it generating.
func TestSendStreamClientGoneEndsUpstream(t *testing.T) {
	for _, how := range []string{"cancel", "close"} {
		t.Run(how, func(t *testing.T) {
			upstreamGone := make(chan struct{})
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n")
				io.WriteString(w, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
				w.(http.Flusher).Flush()
				for i := 0; ; i++ {
					select {
					case <-r.Context().Done():
						close(upstreamGone)
						return
					case <-time.After(5 * time.Millisecond):
					}
					io.WriteString(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"word \"}}\n\n")
					w.(http.Flusher).Flush()
				}
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := c.Send(ctx, &provider.Request{Path: provider.PathChat, Body: chatBody(true), Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			var seen []byte
			for !bytes.Contains(seen, []byte(`"content":"word "`)) {
				n, err := resp.Body.Read(buf)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				seen = append(seen, buf[:n]...)
			}
			if how == "cancel" {
				cancel()
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break // the canceled request fails the read
					}
				}
			}
			resp.Body.Close()
			select {
			case <-upstreamGone:
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream request was not ended")
			}
		})
	}
}

func TestSendRejectsWithoutCallingUpstream(t *testing.T) {
	var calls atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })

	_, err := c.Send(context.Background(), &provider.Request{Path: provider.PathEmbeddings, Body: []byte(`{"model":"m","input":"x"}`)})
	if !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("embeddings: err = %v, want ErrUnsupported", err)
	}
	_, err = c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}`)})
	if !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("n=2: err = %v, want ErrUnsupported", err)
	}

	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !bytes.Contains(body, []byte(`"type":"invalid_request_error"`)) || !bytes.Contains(body, []byte("arguments")) {
		t.Errorf("invalid request: %d %s", resp.StatusCode, body)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("upstream called %d times", n)
	}
}

func TestSendPassesThroughWhatIsNotAMessage(t *testing.T) {
	const odd = `{"unexpected":"shape"}`
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, odd) })
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: chatBody(false)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != odd {
		t.Errorf("body %s, want it as it came", body)
	}
}

func TestForwardRelaysWithAdapterAuth(t *testing.T) {
	reqBody := []byte(`{"model":"claude-sonnet-4-20250514","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	respBody := readFixture(t, "testdata/response_anthropic_to_openai/tool_use_parallel.in.json")
	cases := []struct {
		name        string
		header      http.Header
		apiKey      string
		wantKey     string
		wantVersion string
	}{
		{"client version kept", http.Header{
			"Authorization":             {"Bearer sk-switchyard-client"},
			"X-Api-Key":                 {"sk-switchyard-client"},
			"Anthropic-Version":         {"2023-01-01"},
			"Anthropic-Beta":            {"prompt-caching-2024-07-31"},
			"Content-Type":              {"application/json"},
			"X-Switchyard-Provider-Key": {"sk-secret"},
			"Accept-Encoding":           {"br"},
		}, "", testKey, "2023-01-01"},
		{"configured version and BYOK", http.Header{"content-type": {"application/json"}}, "sk-ant-byok", "sk-ant-byok", testVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" || r.URL.RawQuery != "beta=true" {
					t.Errorf("got %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
				}
				if got := r.Header.Get("X-Api-Key"); got != tc.wantKey {
					t.Errorf("x-api-key = %q, want %q", got, tc.wantKey)
				}
				if got := r.Header.Get("Anthropic-Version"); got != tc.wantVersion {
					t.Errorf("anthropic-version = %q, want %q", got, tc.wantVersion)
				}
				if got := r.Header.Get("Authorization"); got != "" {
					t.Errorf("Authorization relayed: %q", got)
				}
				if got := r.Header.Get("X-Switchyard-Provider-Key"); got != "" {
					t.Errorf("X-Switchyard-Provider-Key relayed")
				}
				if got := r.Header.Get("Accept-Encoding"); got == "br" {
					t.Errorf("client Accept-Encoding relayed")
				}
				if tc.header.Get("Anthropic-Beta") != "" && r.Header.Get("Anthropic-Beta") != tc.header.Get("Anthropic-Beta") {
					t.Errorf("anthropic-beta not relayed")
				}
				if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Org-Tag") != "team-a" {
					t.Errorf("headers %v", r.Header)
				}
				body, _ := io.ReadAll(r.Body)
				if !bytes.Equal(body, reqBody) {
					t.Errorf("body changed: %s", body)
				}
				w.Header().Set("Anthropic-Ratelimit-Requests-Remaining", "49")
				w.WriteHeader(http.StatusOK)
				w.Write(respBody)
			})
			resp, err := c.Forward(context.Background(), &provider.ForwardRequest{
				Method: http.MethodPost, Path: "/v1/messages", RawQuery: "beta=true",
				Header: tc.header, Body: reqBody, APIKey: tc.apiKey,
			})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(body, respBody) || resp.Header.Get("Anthropic-Ratelimit-Requests-Remaining") != "49" {
				t.Errorf("response changed: %d %v %s", resp.StatusCode, resp.Header, body)
			}
		})
	}
}

func TestForwardRelaysErrorsUnchanged(t *testing.T) {
	const overloaded = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(529)
		io.WriteString(w, overloaded)
	})
	resp, err := c.Forward(context.Background(), &provider.ForwardRequest{Method: http.MethodPost, Path: "/v1/messages", Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 529 || string(body) != overloaded || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
}

func TestNewAcceptsBaseURLWithV1(t *testing.T) {
	for _, base := range []string{"https://api.anthropic.com", "https://api.anthropic.com/", "https://api.anthropic.com/v1", "https://api.anthropic.com/v1/"} {
		c := New(config.Provider{BaseURL: base}, http.DefaultClient, "ua")
		if c.baseURL != "https://api.anthropic.com" {
			t.Errorf("%s → %s", base, c.baseURL)
		}
		if c.version != "2023-06-01" {
			t.Errorf("default version %q", c.version)
		}
	}
	if !strings.HasPrefix(New(config.Provider{BaseURL: "http://h/proxy/anthropic"}, http.DefaultClient, "ua").baseURL, "http://h/proxy/anthropic") {
		t.Error("a base URL with a path lost it")
	}
}

func TestSendClipsHugeErrorBodies(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, strings.Repeat("x", 1<<20))
	})
	resp, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: chatBody(false)})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusBadGateway || len(body) > 1024 || !json.Valid(body) {
		t.Errorf("got %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}
}

func TestTranslatedBodyLimit(t *testing.T) {
	identity := func(b []byte) []byte { return b }
	body := &translatedBody{src: io.NopCloser(strings.NewReader("0123456789")), limit: 9, translate: identity}
	if _, err := io.ReadAll(body); !errors.Is(err, errResponseTooLarge) {
		t.Errorf("over the limit: err = %v", err)
	}
	body = &translatedBody{src: io.NopCloser(strings.NewReader("0123456789")), limit: 9, clip: true, translate: identity}
	if got, err := io.ReadAll(body); err != nil || string(got) != "012345678" {
		t.Errorf("clipped: %q %v", got, err)
	}
	body = &translatedBody{src: io.NopCloser(strings.NewReader("0123456789")), limit: 10, translate: identity}
	if got, err := io.ReadAll(body); err != nil || string(got) != "0123456789" {
		t.Errorf("at the limit: %q %v", got, err)
	}
}
