package gemini

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/proxy/provider"
)

// maxResponseBytes bounds a non-streaming Gemini response, which must be
// read whole to be translated.
const maxResponseBytes = 64 << 20

// Client sends OpenAI-shaped requests to one Gemini API provider.
type Client struct {
	name    string
	baseURL string // up to and including the API version, e.g. .../v1beta
	apiKey  string
	headers http.Header
	http    *http.Client
	env     env
}

// New returns a client for the provider (type gemini), sending through hc.
// BaseURL is the API's root, https://generativelanguage.googleapis.com;
// one that already ends in an API version (/v1beta, /v1, /v1alpha) is
// used as it is.
func New(p config.Provider, hc *http.Client, userAgent string) *Client {
	base := strings.TrimRight(p.BaseURL, "/")
	if !hasVersion(base) {
		base += "/v1beta"
	}
	c := &Client{
		name:    p.Name,
		baseURL: base,
		apiKey:  p.APIKey,
		headers: http.Header{},
		http:    hc,
		env:     defaultEnv,
	}
	for k, v := range p.Headers {
		c.headers.Set(k, v)
	}
	c.headers.Set("User-Agent", userAgent)
	c.headers.Set("Content-Type", "application/json")
	return c
}

func hasVersion(base string) bool {
	i := strings.LastIndexByte(base, '/')
	last := base[i+1:]
	return last == "v1" || strings.HasPrefix(last, "v1beta") || strings.HasPrefix(last, "v1alpha")
}

// Send translates an OpenAI request to Gemini, calls it, and returns the
// answer in OpenAI's shape. The caller closes the body. A request that
// cannot be translated is answered with a 400 of OpenAI's shape without a
// call; one that asks for what Gemini cannot do returns an error wrapping
// provider.ErrUnsupported.
func (c *Client) Send(ctx context.Context, r *provider.Request) (*http.Response, error) {
	switch r.Path {
	case provider.PathChat:
		return c.sendChat(ctx, r)
	case provider.PathEmbeddings:
		return c.sendEmbeddings(ctx, r)
	}
	return nil, fmt.Errorf("%s: %s: %w", c.name, r.Path, provider.ErrUnsupported)
}

func (c *Client) sendChat(ctx context.Context, r *provider.Request) (*http.Response, error) {
	body, opts, err := translateChat(r.Body)
	if err != nil {
		return c.refuse(err)
	}
	u := c.modelURL(opts.model, "generateContent")
	if r.Stream {
		u = c.modelURL(opts.model, "streamGenerateContent") + "?alt=sse"
	}
	resp, err := c.post(ctx, u, body, r.APIKey, r.Stream)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return errorResponse(resp), nil
	}
	if r.Stream {
		h := resp.Header.Clone()
		h.Del("Content-Length")
		h.Del("Content-Encoding")
		h.Set("Content-Type", "text/event-stream")
		out := *resp
		out.Header = h
		out.ContentLength = -1
		out.Body = newChatStream(resp.Body, opts, c.env)
		return &out, nil
	}
	raw, err := readAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the response: %w", c.name, err)
	}
	out, err := translateResponse(raw, opts, c.env)
	if err != nil {
		return malformed(resp, c.name, err), nil
	}
	return synthesized(resp, http.StatusOK, out, ""), nil
}

func (c *Client) sendEmbeddings(ctx context.Context, r *provider.Request) (*http.Response, error) {
	bodies, opts, err := translateEmbeddings(r.Body)
	if err != nil {
		return c.refuse(err)
	}
	u := c.modelURL(opts.model, "batchEmbedContents")
	var results []embeddingsResult
	var last *http.Response
	for _, body := range bodies {
		resp, err := c.post(ctx, u, body, r.APIKey, false)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return errorResponse(resp), nil
		}
		raw, err := readAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the response: %w", c.name, err)
		}
		res, err := parseEmbeddings(raw)
		if err != nil {
			return malformed(resp, c.name, err), nil
		}
		results = append(results, res)
		last = resp
	}
	return synthesized(last, http.StatusOK, embeddingsResponse(results, opts), ""), nil
}

// modelURL addresses a method of a model: .../models/{model}:{method}.
func (c *Client) modelURL(model, method string) string {
	return c.baseURL + "/models/" + url.PathEscape(model) + ":" + method
}

func (c *Client) post(ctx context.Context, u string, body []byte, clientKey string, stream bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	key := c.apiKey
	if clientKey != "" {
		key = clientKey
	}
	if key != "" {
		req.Header["X-Goog-Api-Key"] = []string{key}
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

// refuse answers a request that cannot be translated: 400 for a malformed
// one, ErrUnsupported for one Gemini cannot serve.
func (c *Client) refuse(err error) (*http.Response, error) {
	var re *requestError
	if errors.As(err, &re) {
		return synthesized(nil, http.StatusBadRequest, errorBody(re.msg, "invalid_request_error", "invalid_request"), ""), nil
	}
	return nil, fmt.Errorf("%s: %w", c.name, err)
}

// malformed answers a 200 whose body is not what Gemini sends: a 502, the
// upstream's fault.
func malformed(resp *http.Response, name string, err error) *http.Response {
	msg := fmt.Sprintf("provider %s returned a malformed response: %v", name, err)
	return synthesized(resp, http.StatusBadGateway, errorBody(clip(msg), "server_error", "bad_gateway"), "")
}

func readAll(body io.ReadCloser) ([]byte, error) {
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, maxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxResponseBytes {
		return nil, fmt.Errorf("the response exceeds %d bytes", maxResponseBytes)
	}
	return raw, nil
}

var _ provider.Adapter = (*Client)(nil)
