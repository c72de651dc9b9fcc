package anthropic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/proxy/provider"
)

const messagesPath = "/v1/messages"

// maxResponseBytes bounds a non-streaming response held for translation;
// the largest completions are a few hundred kilobytes.
const maxResponseBytes = 64 << 20

// errResponseTooLarge is a non-streaming response over maxResponseBytes.
var errResponseTooLarge = errors.New("anthropic: response exceeds the translation limit")

// Client sends requests to one Anthropic Messages API endpoint.
type Client struct {
	name    string
	baseURL string
	apiKey  string
	version string // the anthropic-version header
	headers http.Header
	http    *http.Client
	now     func() time.Time
}

// New returns a client for the provider (type anthropic), sending through
// hc. A base URL given with a trailing /v1 is accepted: paths are joined
// without it.
func New(p config.Provider, hc *http.Client, userAgent string) *Client {
	base := strings.TrimRight(p.BaseURL, "/")
	base = strings.TrimSuffix(base, "/v1")
	c := &Client{
		name:    p.Name,
		baseURL: base,
		apiKey:  p.APIKey,
		version: p.APIVersion,
		headers: http.Header{},
		http:    hc,
		now:     time.Now,
	}
	if c.version == "" {
		c.version = "2023-06-01"
	}
	for k, v := range p.Headers {
		c.headers.Set(k, v)
	}
	c.headers.Set("User-Agent", userAgent)
	c.headers.Set("Content-Type", "application/json")
	return c
}

// Send translates an OpenAI chat completion request into a Messages
// request, posts it, and returns a response in OpenAI's shape: a
// chat.completion, an SSE stream of chat.completion.chunk events ending with
// "data: [DONE]", or an error with Anthropic's status (529 included), OpenAI's
// error shape and the headers kept (Retry-After among them). Bodies are
// translated as they are read; the caller closes the body, which closes the
// upstream's.
//
// A request that cannot be valid for Anthropic is answered with a 400 in
// OpenAI's shape without calling Anthropic; one using what Anthropic does
// not have (n > 1, logprobs, audio) fails with provider.ErrUnsupported.
func (c *Client) Send(ctx context.Context, r *provider.Request) (*http.Response, error) {
	if r.Path != provider.PathChat {
		return nil, fmt.Errorf("%s: %s: %w", c.name, r.Path, provider.ErrUnsupported)
	}
	tr, err := chatToMessages(r.Body, r.Stream)
	if err != nil {
		var reqErr *requestError
		if errors.As(err, &reqErr) {
			return localError(http.StatusBadRequest, reqErr), nil
		}
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+messagesPath, bytes.NewReader(tr.body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	c.authenticate(req.Header, r.APIKey)
	req.Header["Anthropic-Version"] = []string{c.version}
	if r.Stream {
		req.Header["Accept"] = []string{"text/event-stream"}
	} else {
		req.Header["Accept"] = []string{"application/json"}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	created := c.now().Unix()
	// The body changes length and type; every other header is kept.
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	switch {
	case resp.StatusCode != http.StatusOK:
		resp.Header.Set("Content-Type", "application/json")
		status := resp.StatusCode
		resp.Body = &translatedBody{src: resp.Body, limit: 64 << 10, clip: true, translate: func(b []byte) []byte {
			return errorToOpenAI(status, b)
		}}
	case r.Stream:
		resp.Header.Set("Content-Type", "text/event-stream")
		resp.Body = newChunkStream(resp.Body, tr, created)
	default:
		resp.Header.Set("Content-Type", "application/json")
		resp.Body = &translatedBody{src: resp.Body, limit: maxResponseBytes, translate: func(b []byte) []byte {
			out, err := messageToCompletion(b, tr.jsonTool, created)
			if err != nil {
				return b // not a Messages response: the caller sees it as it is
			}
			return out
		}}
	}
	return resp, nil
}

// Forward relays a request in Anthropic's own format (the
// /anthropic/v1/... pass-through) to the same path under the base URL,
// unchanged but for authentication: the client's Authorization and
// x-api-key are replaced by the provider's key (or the request's BYOK key),
// and anthropic-version is the client's when it sent one, else the
// configured one. The response is returned as it is.
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
		k = http.CanonicalHeaderKey(k)
		if dropOnForward[k] || strings.HasPrefix(k, "X-Switchyard-") {
			continue
		}
		req.Header[k] = v
	}
	for k, v := range c.headers {
		if k != "Content-Type" || req.Header.Get("Content-Type") == "" {
			req.Header[k] = v
		}
	}
	c.authenticate(req.Header, r.APIKey)
	if req.Header.Get("Anthropic-Version") == "" {
		req.Header["Anthropic-Version"] = []string{c.version}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	return resp, nil
}

// dropOnForward are client headers never relayed: credentials (the
// adapter authenticates), hop-by-hop headers, and Accept-Encoding, so that
// the transport negotiates compression itself and the body stays readable
// for usage observation. Switchyard's own X-Switchyard-* headers (among
// them the BYOK key) are dropped too.
var dropOnForward = map[string]bool{
	"Authorization":       true,
	"X-Api-Key":           true,
	"Proxy-Authorization": true,
	"Host":                true,
	"Content-Length":      true,
	"Accept-Encoding":     true,
	"Connection":          true,
	"Keep-Alive":          true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

func (c *Client) authenticate(h http.Header, clientKey string) {
	delete(h, "Authorization")
	key := c.apiKey
	if clientKey != "" {
		key = clientKey
	}
	if key == "" {
		delete(h, "X-Api-Key")
		return
	}
	h["X-Api-Key"] = []string{key}
}

// localError is a response made here, for a request that Anthropic would
// reject: OpenAI's error shape, nothing sent upstream.
func localError(status int, e *requestError) *http.Response {
	body := appendOpenAIError(nil, anthropicError{Type: "invalid_request_error", Message: e.Error()}, status)
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
}

// translatedBody reads the whole upstream body on the first Read and
// serves its translation. A body over limit is an error, or with clip
// (error bodies, whose message is all that matters) is cut at limit.
type translatedBody struct {
	src       io.ReadCloser
	limit     int64
	clip      bool
	translate func([]byte) []byte
	out       []byte
	read      bool
	err       error
}

func (b *translatedBody) Read(p []byte) (int, error) {
	if !b.read {
		b.read = true
		raw, err := io.ReadAll(io.LimitReader(b.src, b.limit+1))
		switch {
		case err != nil:
			b.err = err
		case int64(len(raw)) > b.limit && !b.clip:
			b.err = errResponseTooLarge
		case int64(len(raw)) > b.limit:
			b.out = b.translate(raw[:b.limit])
		default:
			b.out = b.translate(raw)
		}
	}
	if len(b.out) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		return 0, io.EOF
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

func (b *translatedBody) Close() error { return b.src.Close() }

var (
	_ provider.Adapter   = (*Client)(nil)
	_ provider.Forwarder = (*Client)(nil)
)
