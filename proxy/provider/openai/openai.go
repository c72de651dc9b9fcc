// Package openai is the adapter for OpenAI-compatible providers (OpenAI,
// Groq, Together, Fireworks, Mistral, DeepSeek, vLLM, Ollama, OpenRouter,
// Switchyard's own simulated providers) and for Azure OpenAI. Bodies are
// already in OpenAI's shape, so the adapter addresses and authenticates the
// request and relays the response as it is. It uses net/http only.
package openai

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/proxy/provider"
)

// Client sends requests to one OpenAI-compatible provider.
type Client struct {
	name    string
	baseURL string
	apiKey  string
	azure   bool
	version string // Azure's api-version
	headers http.Header
	http    *http.Client
}

// New returns a client for the provider (type openai or azure), sending
// through hc.
func New(p config.Provider, hc *http.Client, userAgent string) *Client {
	c := &Client{
		name:    p.Name,
		baseURL: strings.TrimRight(p.BaseURL, "/"),
		apiKey:  p.APIKey,
		azure:   p.Type == config.ProviderAzure,
		version: p.APIVersion,
		headers: http.Header{},
		http:    hc,
	}
	for k, v := range p.Headers {
		c.headers.Set(k, v)
	}
	c.headers.Set("User-Agent", userAgent)
	c.headers.Set("Content-Type", "application/json")
	return c
}

// Send posts an OpenAI request and returns the provider's response as it
// is. The caller closes the body.
func (c *Client) Send(ctx context.Context, r *provider.Request) (*http.Response, error) {
	u := c.baseURL + r.Path
	if c.azure {
		// Azure addresses the deployment in the path, not the body.
		deployment, err := modelOf(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		u = c.baseURL + "/openai/deployments/" + url.PathEscape(deployment) + r.Path + "?api-version=" + url.QueryEscape(c.version)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(r.Body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	c.authenticate(req.Header, r.APIKey)
	if r.Stream {
		req.Header["Accept"] = []string{"text/event-stream"}
	} else {
		req.Header["Accept"] = []string{"application/json"}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	return resp, nil
}

// Forward relays a request in OpenAI's format to the same path under the
// provider's base URL (the /openai/v1/... pass-through).
func (c *Client) Forward(ctx context.Context, r *provider.ForwardRequest) (*http.Response, error) {
	u := c.baseURL + r.Path
	if r.RawQuery != "" {
		u += "?" + r.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, bytes.NewReader(r.Body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	for k, v := range c.headers {
		if k != "Content-Type" || req.Header.Get("Content-Type") == "" {
			req.Header[k] = v
		}
	}
	c.authenticate(req.Header, r.APIKey)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	return resp, nil
}

func (c *Client) authenticate(h http.Header, clientKey string) {
	key := c.apiKey
	if clientKey != "" {
		key = clientKey
	}
	if key == "" {
		return
	}
	if c.azure {
		h["Api-Key"] = []string{key}
		return
	}
	h["Authorization"] = []string{"Bearer " + key}
}

func modelOf(body []byte) (string, error) {
	raw, err := jsonx.Get(body, "model")
	if err != nil {
		return "", err
	}
	return jsonx.Unquote(raw)
}

var (
	_ provider.Adapter   = (*Client)(nil)
	_ provider.Forwarder = (*Client)(nil)
)
