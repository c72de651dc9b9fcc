// Package openai is the adapter for OpenAI-compatible providers (OpenAI,
// Groq, Together, Fireworks, Mistral, DeepSeek, vLLM, Ollama, OpenRouter and
// Switchyard's own simulated providers). Request and response bodies are
// already in OpenAI's shape, so the adapter only addresses and authenticates
// the upstream request. It uses net/http only.
package openai

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/config"
)

// Client sends requests to one OpenAI-compatible provider.
type Client struct {
	name    string
	baseURL string
	auth    string
	headers http.Header
	http    *http.Client
}

// New returns a client for the provider, sending through hc.
func New(p config.Provider, hc *http.Client, userAgent string) *Client {
	c := &Client{
		name:    p.Name,
		baseURL: strings.TrimRight(p.BaseURL, "/"),
		headers: http.Header{},
		http:    hc,
	}
	if p.APIKey != "" {
		c.auth = "Bearer " + p.APIKey
	}
	for k, v := range p.Headers {
		c.headers.Set(k, v)
	}
	c.headers.Set("User-Agent", userAgent)
	c.headers.Set("Content-Type", "application/json")
	return c
}

// Name is the provider's configured name.
func (c *Client) Name() string { return c.name }

// Post sends body to the provider's path (e.g. "/chat/completions") and
// returns its response, whatever the status. The caller closes the body.
func (c *Client) Post(ctx context.Context, path string, body []byte, stream bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	if c.auth != "" {
		req.Header["Authorization"] = []string{c.auth}
	}
	if stream {
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
