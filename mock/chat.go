package mock

import (
	"context"
	"crypto/subtle"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/config"
)

// Per-request override headers. Each replaces the provider's configured
// behaviour for one request.
const (
	HeaderStatus           = "X-Mock-Status"
	HeaderLatencyMs        = "X-Mock-Latency-Ms"
	HeaderCompletionTokens = "X-Mock-Completion-Tokens"
	HeaderTokensPerSecond  = "X-Mock-Tokens-Per-Second"
	HeaderCutAfter         = "X-Mock-Cut-After"
	HeaderMalformed        = "X-Mock-Malformed"
)

// maxCompletionTokens bounds X-Mock-Completion-Tokens (about 6 MB of text).
const maxCompletionTokens = 1 << 20

// completion is everything a response needs, settled before it is written.
type completion struct {
	model        string
	created      int64
	fingerprint  string
	finishReason string
	usage        usage
	includeUsage bool
	// tokensPerSecond paces stream chunks; 0 sends them back to back.
	tokensPerSecond float64
	// cutAfter, when not negative, aborts the response: after this many
	// content chunks for a stream, after this many body bytes otherwise.
	cutAfter  int
	malformed bool
}

// behaviour is a provider's configuration with a request's overrides applied.
type behaviour struct {
	status           int // forced status; 0 draws from the provider's rates
	latency          time.Duration
	completionTokens int
	tokensPerSecond  float64
	cutAfter         int
	malformed        bool
}

func (s *Server) chatCompletion(w http.ResponseWriter, r *http.Request, p *provider) {
	stats := p.stats
	stats.requests.Add(1)
	if !authorized(w, r, p) {
		return
	}
	bp := getBuffer()
	defer putBuffer(bp)
	body, aerr := readBody(r, (*bp)[:0])
	*bp = body
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var req chatRequest
	if aerr := parseChatRequest(body, &req); aerr != nil {
		writeError(w, aerr)
		return
	}
	b, aerr := requestBehaviour(r.Header, &p.cfg)
	if aerr != nil {
		writeError(w, aerr)
		return
	}

	status := b.status
	if status == 0 {
		status = drawStatus(&p.cfg)
	}
	if status >= 400 {
		switch {
		case status == http.StatusTooManyRequests:
			stats.rateLimited.Add(1)
		case status >= 500:
			stats.errors.Add(1)
		}
		// A server error comes after the provider has spent its time on the
		// request; a 4xx (a rate limiter, say) turns it away at the door.
		if status >= 500 && !wait(r.Context(), b.latency) {
			stats.canceled.Add(1)
			return
		}
		writeError(w, statusError(status))
		return
	}

	c := completion{
		model:           req.Model,
		created:         time.Now().Unix(),
		fingerprint:     p.fingerprint,
		finishReason:    "stop",
		includeUsage:    req.includeUsage(),
		tokensPerSecond: b.tokensPerSecond,
		cutAfter:        b.cutAfter,
		malformed:       b.malformed,
	}
	c.usage.promptTokens, c.usage.cachedTokens = promptTokens(req.Messages)
	c.usage.completionTokens = b.completionTokens
	if limit := req.limit(); limit >= 0 && int64(c.usage.completionTokens) > limit {
		c.usage.completionTokens = int(limit)
		c.finishReason = "length"
	}

	if !wait(r.Context(), b.latency) {
		stats.canceled.Add(1)
		return
	}
	if req.Stream {
		stats.streams.Add(1)
		if !writeStream(w, r, &c) {
			stats.canceled.Add(1)
		}
		return
	}
	writeCompletion(w, &c, bp)
}

// writeCompletion answers a non-streaming request, reusing buf.
func writeCompletion(w http.ResponseWriter, c *completion, buf *[]byte) {
	b := appendCompletion((*buf)[:0], c)
	*buf = b
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	switch {
	case c.cutAfter >= 0:
		// Promise the whole body, send part of it, and drop the connection.
		_, _ = w.Write(b[:min(c.cutAfter, len(b)-1)])
		abort(w)
	case c.malformed:
		// A body cut in half: a 200 that no JSON parser accepts.
		b = b[:len(b)/2]
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		_, _ = w.Write(b)
	default:
		_, _ = w.Write(b)
	}
}

// abort drops the connection after flushing what was written. net/http
// closes the connection (HTTP/1) or resets the stream (HTTP/2) without
// ending the body properly, so the client sees an unexpected EOF. It panics
// with http.ErrAbortHandler, which net/http recovers without logging.
func abort(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler)
}

func authorized(w http.ResponseWriter, r *http.Request, p *provider) bool {
	if p.cfg.APIKey == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	if auth == "" || !strings.EqualFold(scheme, "Bearer") {
		writeError(w, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key", message: msgNoKey})
		return false
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(p.cfg.APIKey)) != 1 {
		writeError(w, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key", message: msgBadKey})
		return false
	}
	return true
}

// drawStatus injects failures at the provider's rates: one draw, so the two
// rates are exclusive and add up.
func drawStatus(cfg *config.MockProvider) int {
	if cfg.ErrorRate <= 0 && cfg.RateLimitRate <= 0 {
		return http.StatusOK
	}
	u := rand.Float64()
	switch {
	case u < cfg.ErrorRate:
		return http.StatusInternalServerError
	case u < cfg.ErrorRate+cfg.RateLimitRate:
		return http.StatusTooManyRequests
	}
	return http.StatusOK
}

// requestBehaviour applies the X-Mock-* headers to the provider's behaviour.
func requestBehaviour(h http.Header, cfg *config.MockProvider) (behaviour, *apiError) {
	b := behaviour{
		latency:          cfg.Latency,
		completionTokens: cfg.CompletionTokens,
		tokensPerSecond:  cfg.TokensPerSecond,
		cutAfter:         -1,
	}
	if cfg.Jitter > 0 {
		b.latency += rand.N(cfg.Jitter + 1)
	}
	if len(h) == 0 {
		return b, nil
	}
	if v := h.Get(HeaderStatus); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 200 || n > 599 || n >= 300 && n < 400 {
			return b, badHeader(HeaderStatus, "an HTTP status: 2xx (no failure), 4xx or 5xx")
		}
		b.status = n
	}
	if v := h.Get(HeaderLatencyMs); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > int64(24*time.Hour/time.Millisecond) {
			return b, badHeader(HeaderLatencyMs, "milliseconds, from 0 to 86400000")
		}
		b.latency = time.Duration(n) * time.Millisecond
	}
	if v := h.Get(HeaderCompletionTokens); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxCompletionTokens {
			return b, badHeader(HeaderCompletionTokens, "an integer from 0 to "+strconv.Itoa(maxCompletionTokens))
		}
		b.completionTokens = n
	}
	if v := h.Get(HeaderTokensPerSecond); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0) || f > 1e9 {
			return b, badHeader(HeaderTokensPerSecond, "a number from 0 (no pacing) to 1e9")
		}
		b.tokensPerSecond = f
	}
	if v := h.Get(HeaderCutAfter); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return b, badHeader(HeaderCutAfter, "a count of chunks (streams) or bytes, 0 or more")
		}
		b.cutAfter = n
	}
	if v := h.Get(HeaderMalformed); v != "" {
		switch v {
		case "1", "true":
			b.malformed = true
		case "0", "false":
		default:
			return b, badHeader(HeaderMalformed, "1 or 0")
		}
	}
	return b, nil
}

func badHeader(name, want string) *apiError {
	return badRequest(name, "invalid_header", "Invalid "+name+" header: expected "+want+".")
}

// wait sleeps for d, or until ctx ends; it reports whether the whole wait
// passed. A client that goes away stops the wait.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
