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

// This file is the life of one simulated API request, the same for every
// endpoint and wire format: count it, check its key, read its body, apply
// the X-Mock-* headers, inject a failure or wait out the latency, and
// answer (whole, cut short or malformed).

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

// dialect is a wire format: it decides how keys are presented and errors
// are shaped.
type dialect uint8

const (
	dialectOpenAI dialect = iota
	dialectAnthropic
	dialectGemini
)

// behaviour is a provider's configuration with a request's overrides applied.
type behaviour struct {
	status           int // forced status; 0 draws from the provider's rates
	latency          time.Duration
	completionTokens int
	tokensPerSecond  float64
	cutAfter         int
	malformed        bool
}

// exchange is one request on its way through the steps every endpoint
// shares.
type exchange struct {
	p       *provider
	dialect dialect
	// buf is pooled and holds the body until release.
	buf  *[]byte
	body []byte
	b    behaviour
}

// begin counts the request, checks its key (and, for Anthropic, its
// anthropic-version) and reads its body. When it returns false the request
// has been answered.
func begin(w http.ResponseWriter, r *http.Request, p *provider, d dialect) (exchange, bool) {
	x := exchange{p: p, dialect: d}
	p.stats.requests.Add(1)
	if d == dialectAnthropic {
		w.Header()["Request-Id"] = []string{string(appendRandomID(make([]byte, 0, 32), "req_01", 24))}
	}
	if !authorized(w, r, p, d) {
		return x, false
	}
	if d == dialectAnthropic && r.Header.Get("Anthropic-Version") == "" {
		writeErrorAs(w, d, badRequest("", "", "anthropic-version: header is required"))
		return x, false
	}
	x.buf = getBuffer()
	body, aerr := readBody(r, (*x.buf)[:0])
	*x.buf = body
	if aerr != nil {
		x.release()
		writeErrorAs(w, d, aerr)
		return x, false
	}
	x.body = body
	return x, true
}

// release returns the body's buffer to the pool.
func (x *exchange) release() {
	if x.buf != nil {
		putBuffer(x.buf)
		x.buf, x.body = nil, nil
	}
}

// fail answers with e in the exchange's dialect.
func (x *exchange) fail(w http.ResponseWriter, e *apiError) {
	writeErrorAs(w, x.dialect, e)
}

// behave applies the X-Mock-* headers; false: a header was malformed and
// the request has been answered.
func (x *exchange) behave(w http.ResponseWriter, r *http.Request) bool {
	b, aerr := requestBehaviour(r.Header, &x.p.cfg)
	if aerr != nil {
		x.fail(w, aerr)
		return false
	}
	x.b = b
	return true
}

// admit injects the provider's failures, or the forced status, then waits
// out the latency. When it returns false the request has been answered or
// its client has gone.
//
// A failure drawn from ErrorRate is a 500, except for Anthropic, whose API
// fails for want of capacity with 529 overloaded_error; a status forced by
// X-Mock-Status is answered as it is.
func (x *exchange) admit(w http.ResponseWriter, r *http.Request) bool {
	stats := x.p.stats
	status := x.b.status
	if status == 0 {
		status = drawStatus(&x.p.cfg)
		if status == http.StatusInternalServerError && x.dialect == dialectAnthropic {
			status = statusOverloaded
		}
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
		if status >= 500 && !wait(r.Context(), x.b.latency) {
			stats.canceled.Add(1)
			return false
		}
		x.fail(w, statusErrorAs(x.dialect, status))
		return false
	}
	if !wait(r.Context(), x.b.latency) {
		stats.canceled.Add(1)
		return false
	}
	return true
}

// writeBody answers with a whole JSON body, or, as the behaviour says, cut
// short (the connection dropped after cutAfter bytes) or malformed (the
// first half of it).
func writeBody(w http.ResponseWriter, contentType []string, b []byte, beh *behaviour) {
	h := w.Header()
	h["Content-Type"] = contentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	switch {
	case beh.cutAfter >= 0:
		// Promise the whole body, send part of it, and drop the connection.
		_, _ = w.Write(b[:min(beh.cutAfter, len(b)-1)])
		abort(w)
	case beh.malformed:
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

// authorized checks the key where dialect d's clients send it, and answers
// as that provider does when it is missing or wrong:
//
//   - OpenAI: "Authorization: Bearer <key>"; 401 invalid_api_key.
//   - Anthropic: "x-api-key: <key>" or "Authorization: Bearer <key>"; 401
//     authentication_error.
//   - Gemini: "x-goog-api-key: <key>", "?key=<key>" or "Authorization:
//     Bearer <key>"; a missing key 403 PERMISSION_DENIED, a wrong one 400
//     INVALID_ARGUMENT with reason API_KEY_INVALID.
func authorized(w http.ResponseWriter, r *http.Request, p *provider, d dialect) bool {
	want := p.cfg.APIKey
	if want == "" {
		return true
	}
	var key string
	switch d {
	case dialectAnthropic:
		key = r.Header.Get("X-Api-Key")
	case dialectGemini:
		key = r.Header.Get("X-Goog-Api-Key")
		if key == "" && r.URL.RawQuery != "" {
			key = r.URL.Query().Get("key")
		}
	}
	if key == "" {
		auth := r.Header.Get("Authorization")
		scheme, token, _ := strings.Cut(auth, " ")
		if auth != "" && strings.EqualFold(scheme, "Bearer") {
			key = strings.TrimSpace(token)
		} else if d == dialectOpenAI {
			writeError(w, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key", message: msgNoKey})
			return false
		}
	}
	if key == "" {
		switch d {
		case dialectOpenAI:
			writeError(w, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key", message: msgBadKey})
		case dialectAnthropic:
			writeErrorAs(w, d, &apiError{status: http.StatusUnauthorized, message: "x-api-key header is required"})
		default:
			writeErrorAs(w, d, &apiError{status: http.StatusForbidden, message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."})
		}
		return false
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(want)) == 1 {
		return true
	}
	switch d {
	case dialectAnthropic:
		writeErrorAs(w, d, &apiError{status: http.StatusUnauthorized, message: "invalid x-api-key"})
	case dialectGemini:
		writeErrorAs(w, d, &apiError{status: http.StatusBadRequest, reason: "API_KEY_INVALID", message: "API key not valid. Please pass a valid API key."})
	default:
		writeError(w, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key", message: msgBadKey})
	}
	return false
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
