package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/proxy/provider"
)

// keyRecorder is an upstream that remembers the Authorization header it got.
type keyRecorder struct {
	mu   sync.Mutex
	auth []string
}

func (k *keyRecorder) server(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.auth = append(k.auth, r.Header.Get("Authorization"))
		k.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (k *keyRecorder) last() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.auth[len(k.auth)-1]
}

func TestBringYourOwnKey(t *testing.T) {
	var open, closed keyRecorder
	providers := []config.Provider{
		{Name: "byok", Type: "openai", BaseURL: open.server(t).URL, APIKey: "sk-configured-1", AllowClientKey: true},
		{Name: "fixed", Type: "openai", BaseURL: closed.server(t).URL, APIKey: "sk-configured-2"},
	}
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("m1", providers[0]), modelOn("m2", providers[1])}})
	const clientKey = "sk-the-clients-own-key"
	for _, tc := range []struct {
		model    string
		upstream *keyRecorder
		header   string
		want     string
	}{
		{"m1", &open, clientKey, "Bearer " + clientKey},
		{"m1", &open, "", "Bearer sk-configured-1"},
		{"m2", &closed, clientKey, "Bearer sk-configured-2"}, // not allowed: the configured key
	} {
		var hdr []string
		if tc.header != "" {
			hdr = []string{headerProviderKey, tc.header}
		}
		resp := p.post(t, "/v1/chat/completions", `{"model":"`+tc.model+`","messages":[{"role":"user","content":"x"}]}`, hdr...)
		readBody(t, resp)
		if got := tc.upstream.last(); got != tc.want || resp.StatusCode != 200 {
			t.Errorf("model %s, client key %q: upstream got %q (status %d), want %q", tc.model, tc.header, got, resp.StatusCode, tc.want)
		}
		rec := p.sink.next(t)
		if strings.Contains(rec.RequestBody+rec.ResponseBody+rec.ErrorMessage, clientKey) {
			t.Error("the client's provider key reached the record")
		}
	}
}

func TestOmittingBodies(t *testing.T) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "p1"})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...)}})
	for _, tc := range []struct {
		name              string
		header            []string
		wantReq, wantResp bool
	}{
		{"default", nil, true, true},
		{"request only", []string{"X-Switchyard-Omit", "request"}, false, true},
		{"both", []string{"X-Switchyard-Omit", "request, response"}, false, false},
		{"helicone response", []string{"Helicone-Omit-Response", "true"}, true, false},
		{"zero-retention key", []string{"Authorization", "Bearer " + zdrKey}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, stream := range []string{"false", "true"} {
				resp := p.post(t, "/v1/chat/completions", `{"model":"gpt-4o","stream":`+stream+`,"messages":[{"role":"user","content":"secret plans"}]}`, tc.header...)
				readBody(t, resp)
				rec := p.sink.next(t)
				if (rec.RequestBody != "") != tc.wantReq || (rec.ResponseBody != "") != tc.wantResp {
					t.Fatalf("stream=%s: request body kept %v, response body kept %v", stream, rec.RequestBody != "", rec.ResponseBody != "")
				}
				if rec.BodiesOmitted != (!tc.wantReq || !tc.wantResp) {
					t.Errorf("stream=%s: bodies_omitted = %v", stream, rec.BodiesOmitted)
				}
			}
		})
	}
}

// slowStream is an upstream that answers at once and then takes its time:
// the role chunk after firstDelay, content after contentDelay more.
func slowStream(firstDelay, contentDelay time.Duration) upstreamFunc {
	return func(ctx context.Context, path string, b []byte, stream bool) (*http.Response, error) {
		pr, pw := io.Pipe()
		go func() {
			head := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":`
			sleep := func(d time.Duration) bool {
				select {
				case <-time.After(d):
					return true
				case <-ctx.Done():
					pw.CloseWithError(ctx.Err())
					return false
				}
			}
			if !sleep(firstDelay) {
				return
			}
			fmt.Fprint(pw, "data: "+head+`{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n")
			if !sleep(contentDelay) {
				return
			}
			fmt.Fprint(pw, "data: "+head+`{"content":"Hello"},"finish_reason":"stop"}]}`+"\n\n")
			fmt.Fprint(pw, `data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`+"\n\ndata: [DONE]\n\n")
			pw.Close()
		}()
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr}, nil
	}
}

func TestStreamKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name                string
		firstDelay, content time.Duration
	}{
		{"before the first event", 300 * time.Millisecond, 0},
		{"after the role chunk, before content", 0, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, testSetup{
				providers: []config.Provider{{Name: "up", Type: "openai", BaseURL: "http://up.invalid"}},
				models:    []config.Model{{Name: "m", Deployments: []config.Deployment{{Provider: "up", Model: "m", Pricing: testPricing}}}},
				tweak:     func(c *config.Proxy) { c.StreamKeepAlive = 40 * time.Millisecond },
			})
			p.srv.upstreams = map[string]provider.Adapter{"up": slowStream(tc.firstDelay, tc.content)}
			resp := p.post(t, "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
			raw := string(readBody(t, resp))
			contentAt := strings.Index(raw, "Hello")
			comments := strings.Count(raw[:max(contentAt, 0)], ": keep-alive\n\n")
			if resp.StatusCode != 200 || contentAt < 0 || comments < 3 {
				t.Fatalf("status %d, %d keep-alive comments before the content (want several over 300 ms): %q", resp.StatusCode, comments, raw)
			}
			if strings.Contains(raw[contentAt:], "keep-alive") {
				t.Errorf("keep-alives continued after the first content")
			}
			if !strings.HasSuffix(raw, "data: [DONE]\n\n") {
				t.Fatalf("stream does not end with [DONE]")
			}
			rec := p.sink.next(t)
			if rec.Outcome != "ok" || rec.Usage.CompletionTokens != 1 || rec.TTFTMs < 300 {
				t.Errorf("record outcome %q usage %+v ttft %d", rec.Outcome, rec.Usage, rec.TTFTMs)
			}
		})
	}
}
