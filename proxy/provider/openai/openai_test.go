package openai

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/proxy/provider"
)

// seen is what the upstream received.
type seen struct {
	method, path, query string
	header              http.Header
	body                string
}

func recorder(t *testing.T) (*httptest.Server, *seen) {
	var s seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s = seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(ts.Close)
	return ts, &s
}

// TestSend checks how each flavour addresses and authenticates a request:
// the path, the query, the key's header, and a body relayed byte for byte.
func TestSend(t *testing.T) {
	const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}`
	for _, tc := range []struct {
		name      string
		provider  config.Provider
		clientKey string
		stream    bool
		path      string
		wantPath  string
		wantQuery string
		wantAuth  [2]string // header, value
		noAuth    string    // a header that must be absent
	}{
		{name: "openai", provider: config.Provider{Type: config.ProviderOpenAI, APIKey: "sk-conf"},
			path: provider.PathChat, wantPath: "/v1/chat/completions", wantAuth: [2]string{"Authorization", "Bearer sk-conf"}, noAuth: "Api-Key"},
		{name: "openai with the client's key", provider: config.Provider{Type: config.ProviderOpenAI, APIKey: "sk-conf"}, clientKey: "sk-client",
			path: provider.PathEmbeddings, wantPath: "/v1/embeddings", wantAuth: [2]string{"Authorization", "Bearer sk-client"}},
		{name: "self-hosted without a key", provider: config.Provider{Type: config.ProviderOpenAI},
			path: provider.PathCompletions, wantPath: "/v1/completions", noAuth: "Authorization"},
		{name: "azure", provider: config.Provider{Type: config.ProviderAzure, APIKey: "az-key", APIVersion: "2024-10-21"}, stream: true,
			path: provider.PathChat, wantPath: "/v1/openai/deployments/gpt-4o-mini/chat/completions", wantQuery: "api-version=2024-10-21",
			wantAuth: [2]string{"Api-Key", "az-key"}, noAuth: "Authorization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, got := recorder(t)
			p := tc.provider
			p.Name, p.BaseURL = "p", ts.URL+"/v1/"
			p.Headers = map[string]string{"X-Org": "acme"}
			c := New(p, ts.Client(), "switchyard-test")
			resp, err := c.Send(context.Background(), &provider.Request{Path: tc.path, Body: []byte(body), Stream: tc.stream, APIKey: tc.clientKey})
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(out) != `{"ok":true}` {
				t.Errorf("response %s", out)
			}
			if got.method != http.MethodPost || got.path != tc.wantPath || got.query != tc.wantQuery || got.body != body {
				t.Errorf("upstream saw %s %s?%s %s", got.method, got.path, got.query, got.body)
			}
			if tc.wantAuth[0] != "" && got.header.Get(tc.wantAuth[0]) != tc.wantAuth[1] {
				t.Errorf("%s = %q, want %q", tc.wantAuth[0], got.header.Get(tc.wantAuth[0]), tc.wantAuth[1])
			}
			if tc.noAuth != "" && got.header.Get(tc.noAuth) != "" {
				t.Errorf("%s sent: %q", tc.noAuth, got.header.Get(tc.noAuth))
			}
			wantAccept := "application/json"
			if tc.stream {
				wantAccept = "text/event-stream"
			}
			if got.header.Get("Accept") != wantAccept || got.header.Get("X-Org") != "acme" || got.header.Get("User-Agent") != "switchyard-test" ||
				got.header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", got.header)
			}
		})
	}
}

// TestForward checks the raw pass-through: method, path, query and the
// client's headers kept, the client's credentials replaced by the
// provider's.
func TestForward(t *testing.T) {
	ts, got := recorder(t)
	c := New(config.Provider{Name: "p", Type: config.ProviderOpenAI, BaseURL: ts.URL + "/v1", APIKey: "sk-conf"}, ts.Client(), "ua")
	h := http.Header{"Authorization": {"Bearer switchyard-key"}, "Openai-Beta": {"assistants=v2"}, "Content-Type": {"multipart/form-data; boundary=x"}}
	resp, err := c.Forward(context.Background(), &provider.ForwardRequest{Method: http.MethodGet, Path: "/files/file-1", RawQuery: "limit=2", Header: h, Body: nil})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.method != http.MethodGet || got.path != "/v1/files/file-1" || got.query != "limit=2" {
		t.Errorf("upstream saw %s %s?%s", got.method, got.path, got.query)
	}
	if got.header.Get("Authorization") != "Bearer sk-conf" || got.header.Get("Openai-Beta") != "assistants=v2" ||
		!strings.HasPrefix(got.header.Get("Content-Type"), "multipart/form-data") {
		t.Errorf("headers %v", got.header)
	}
}

// TestAzureNeedsAModel checks that an Azure request without a model fails
// before anything is sent.
func TestAzureNeedsAModel(t *testing.T) {
	ts, got := recorder(t)
	c := New(config.Provider{Name: "az", Type: config.ProviderAzure, BaseURL: ts.URL, APIVersion: "2024-10-21"}, ts.Client(), "ua")
	if _, err := c.Send(context.Background(), &provider.Request{Path: provider.PathChat, Body: []byte(`{"messages":[]}`)}); err == nil || got.path != "" {
		t.Fatalf("err %v, upstream saw %q", err, got.path)
	}
}
