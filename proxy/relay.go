package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

// serve returns the handler of an OpenAI-compatible endpoint: read and
// check the request, plan the deployments, try them in order until one
// serves the client, and record what happened.
func (s *Server) serve(k *kind) gin.HandlerFunc {
	return func(c *gin.Context) { s.serveKind(c, k) }
}

func (s *Server) serveKind(c *gin.Context, k *kind) {
	ex := s.begin(c, k.endpoint)
	defer ex.finish()
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, ok := ex.readBody((*bp)[:0])
	*bp = body[:0]
	if !ok {
		return
	}
	req, perr := parseRequest(body, k)
	rec := ex.rec
	rec.ModelRequested, rec.Stream = req.Model, req.Stream
	if rec.User == "" {
		rec.User = clip(req.User)
	}
	if rec.SessionID == "" {
		rec.SessionID = clip(req.SessionID)
	}
	if ex.omitRequest {
		rec.BodiesOmitted = true
	} else {
		rec.RequestBody = ex.truncateBody(body)
	}
	if perr != nil {
		ex.fail(perr)
		return
	}
	plan, ok := s.router.Route(req.Model)
	if !ok {
		ex.fail(&apiError{class: errModelNotFound, param: "model", message: "model " + strconv.Quote(req.Model) + " does not exist (GET /v1/models lists the models served)"})
		return
	}
	rec.Routing = record.Routing{Strategy: plan.Strategy, Reason: plan.Reason}

	base, err := upstreamBase(body, &req)
	if err != nil {
		ex.fail(&apiError{class: errInvalidJSON, message: "request body is not a JSON object"})
		return
	}
	var last *apiError
	for _, cand := range plan.Candidates {
		upBody, err := withModel(base, req.Model, cand.Model)
		if err != nil {
			ex.fail(&apiError{class: errInternal, message: "rewriting the request: " + err.Error()})
			return
		}
		e, fallback := ex.try(k, cand, upBody, req.Stream)
		if e == nil {
			if len(rec.Attempts) > 1 {
				rec.Routing.Reason = plan.Reason + "; served by " + cand.Provider + " after " + strconv.Itoa(len(rec.Attempts)-1) + " failed attempt(s)"
			}
			return
		}
		last = e
		if !fallback || ex.committed || ex.clientGone() {
			break
		}
	}
	if ex.clientGone() {
		last = &apiError{class: errCanceled, message: "client disconnected"}
	}
	if last == nil {
		last = &apiError{class: errNoProvider, message: "no deployment can serve model " + strconv.Quote(req.Model)}
	}
	ex.fail(last)
}

// upstreamBase strips the router-only members and, for streams, asks the
// upstream for usage (stream_options.include_usage), which is how streamed
// requests get billed. The body is only rewritten when it must be.
func upstreamBase(body []byte, req *request) ([]byte, error) {
	var err error
	if req.routerOnly {
		if body, err = jsonx.Delete(body, routerOnlyFields...); err != nil {
			return nil, err
		}
	}
	if !req.Stream {
		return body, nil
	}
	opts := req.StreamOptions
	if len(opts) == 0 || opts[0] != '{' {
		return jsonx.Set(body, "stream_options", []byte(`{"include_usage":true}`))
	}
	if v, err := jsonx.Get(opts, "include_usage"); err == nil && string(v) == "true" {
		return body, nil
	}
	opts, err = jsonx.Set(opts, "include_usage", []byte("true"))
	if err != nil {
		return nil, err
	}
	return jsonx.Set(body, "stream_options", opts)
}

// withModel names the upstream's model in the body.
func withModel(body []byte, requested, upstream string) ([]byte, error) {
	if requested == upstream {
		return body, nil
	}
	return jsonx.Set(body, "model", jsonx.AppendString(nil, upstream))
}

// try makes one attempt on one deployment. It returns nil when the
// client has been served (fully or, for a stream that failed mid-way, with
// an error chunk), or the attempt's error and whether the next deployment
// may be tried.
func (ex *exchange) try(k *kind, cand route.Candidate, body []byte, stream bool) (*apiError, bool) {
	s := ex.s
	up, ok := s.upstreams[cand.Provider]
	if !ok {
		return &apiError{class: errInternal, message: "provider " + cand.Provider + " is not configured"}, true
	}
	ctx, cancel := context.WithTimeout(ex.c.Request.Context(), s.cfg.TotalTimeout)
	defer cancel()

	attemptStart := time.Now()
	resp, err := up.Send(ctx, &provider.Request{Path: k.path, Body: body, Stream: stream, APIKey: ex.clientProviderKey(cand.Provider)})
	headersAt := time.Now()
	ex.waited += headersAt.Sub(attemptStart)
	attempt := record.Attempt{Provider: cand.Provider, Model: cand.Model}
	done := func(e *apiError, status int) {
		attempt.StatusCode = status
		attempt.LatencyMs = time.Since(attemptStart).Milliseconds()
		result := "ok"
		if e != nil {
			attempt.ErrorType = e.class.errorType
			result = e.class.errorType
		}
		ex.rec.Attempts = append(ex.rec.Attempts, attempt)
		s.metrics.attempts.WithLabelValues(cand.Provider, result).Inc()
	}
	if err != nil {
		e := ex.transportError(cand.Provider, err)
		if errors.Is(err, provider.ErrUnsupported) {
			e = &apiError{class: errNoProvider, message: "provider " + cand.Provider + " does not serve " + k.endpoint}
		}
		done(e, 0)
		return e, true
	}
	resp.Body = timedBody{r: resp.Body, waited: &ex.waited}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		e, fallback := upstreamStatusError(cand.Provider, resp)
		done(e, resp.StatusCode)
		return e, fallback
	}
	ex.rec.Provider, ex.rec.Model = cand.Provider, cand.Model
	var e *apiError
	var fallback bool
	if stream {
		e, fallback = ex.relayStream(k, cand, resp)
	} else {
		e, fallback = ex.relayJSON(k, cand, resp, headersAt)
	}
	if e != nil && e.class == errCanceled {
		fallback = false
	}
	done(e, resp.StatusCode)
	if e != nil && !ex.committed {
		ex.rec.Provider, ex.rec.Model = "", ""
	}
	if ex.committed {
		if e != nil {
			ex.fail(e) // the stream has ended with an error chunk
		}
		return nil, false
	}
	return e, fallback
}

// relayJSON reads a complete response, prices it, adds usage.cost and sends
// it. Nothing reaches the client unless the response is usable, so every
// failure here can fall back.
func (ex *exchange) relayJSON(k *kind, cand route.Candidate, resp *http.Response, headersAt time.Time) (*apiError, bool) {
	s := ex.s
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, err := readLimited((*bp)[:0], resp.Body, s.cfg.MaxResponseBytes)
	*bp = body[:0]
	if err != nil {
		return ex.readError(cand.Provider, err), true
	}
	finish, usage, span, ok := parseResponse(body, k)
	if !ok {
		return &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " returned a response that is not a valid " + k.endpoint + " response"}, true
	}
	rec := ex.rec
	rec.FinishReason = finish
	out := body
	if usage != nil {
		rec.Usage = *usage
		rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
		out = withUsageCost(body, span, rec.CostNUSD)
	}
	ex.firstByte = headersAt
	ex.commit("application/json")
	if _, err := ex.c.Writer.Write(out); err != nil {
		return &apiError{class: errCanceled, message: "writing the response: " + err.Error()}, false
	}
	if ex.omitResponse {
		rec.BodiesOmitted = true
	} else {
		rec.ResponseBody = ex.truncateBody(out)
	}
	return nil, false
}

// readLimited appends r's content to dst, reading straight into its spare
// capacity, and fails with errTooLarge beyond limit bytes.
func readLimited(dst []byte, r io.Reader, limit int64) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

var errTooLarge = errors.New("body exceeds the size limit")

// transportError classifies a failure to get response headers.
func (ex *exchange) transportError(provider string, err error) *apiError {
	if ex.clientGone() {
		return &apiError{class: errCanceled, message: "client disconnected"}
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return &apiError{class: errTimeout, message: "provider " + provider + " timed out"}
	}
	return &apiError{class: errUpstream, message: "provider " + provider + " is unreachable: " + err.Error()}
}

// readError classifies a failure while reading a response body.
func (ex *exchange) readError(provider string, err error) *apiError {
	if errors.Is(err, errTooLarge) {
		return &apiError{class: errUpstream, message: "provider " + provider + ": response exceeds proxy.max_response_bytes"}
	}
	return ex.transportError(provider, err)
}

// upstreamStatusError classifies a non-200 upstream response with the
// error table: errors that are the provider's (5xx, 429, overload,
// timeouts, its credentials, an unknown upstream model, a context window
// this deployment lacks) may fall back; errors in the client's request and
// content refusals may not.
func upstreamStatusError(provider string, resp *http.Response) (*apiError, bool) {
	code, msg := upstreamError(resp.Body)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	msg = "provider " + provider + " returned " + strconv.Itoa(resp.StatusCode) + ": " + msg
	retryAfter := resp.Header.Get("Retry-After")
	lower := strings.ToLower(code + " " + msg)
	switch status := resp.StatusCode; {
	case status == http.StatusTooManyRequests:
		return &apiError{class: errRateLimited, message: msg, retryAfter: retryAfter}, true
	case status == 529 || strings.Contains(lower, "overloaded"):
		return &apiError{class: errOverloaded, message: msg, retryAfter: retryAfter}, true
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return &apiError{class: errTimeout, message: msg}, true
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &apiError{class: errProviderAuth, message: msg}, true
	case status >= 500 || status == http.StatusNotFound:
		return &apiError{class: errUpstream, message: msg}, true
	case containsAny(lower, "context_length_exceeded", "context length", "context window", "prompt is too long", "too many tokens", "maximum context"):
		return &apiError{class: errContextLength, message: msg, param: "messages"}, true
	case containsAny(lower, "content_policy", "content_filter", "content management policy", "safety", "moderation", "flagged"):
		return &apiError{class: errContentPolicy, message: msg}, false
	case status >= 400:
		return &apiError{class: errUpstreamRejected, message: msg}, false
	default:
		return &apiError{class: errUpstream, message: msg}, true
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// upstreamError reads an upstream error body: its code (OpenAI's
// error.code or error.type, Anthropic's error.type, Google's error.status)
// and message.
func upstreamError(body io.Reader) (code, message string) {
	raw, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && len(e.Error) > 0 {
		var inner struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
			Status  string          `json:"status"`
		}
		if json.Unmarshal(e.Error, &inner) == nil && inner.Message != "" {
			var c string
			_ = json.Unmarshal(inner.Code, &c)
			return strings.Join([]string{c, inner.Type, inner.Status}, " "), clipMessage(inner.Message)
		}
		var s string
		if json.Unmarshal(e.Error, &s) == nil && s != "" {
			return "", clipMessage(s)
		}
	}
	return "", clipMessage(strings.TrimSpace(string(raw)))
}

// upstreamMessage extracts error.message from an upstream error body, or a
// short printable prefix of whatever the body is.
func upstreamMessage(body io.Reader) string {
	raw, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && len(e.Error) > 0 {
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(e.Error, &inner) == nil && inner.Message != "" {
			return clipMessage(inner.Message)
		}
		var s string
		if json.Unmarshal(e.Error, &s) == nil && s != "" {
			return clipMessage(s)
		}
	}
	return clipMessage(strings.TrimSpace(string(raw)))
}

func clipMessage(s string) string {
	const max = 512
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "�")
}

// truncateBody copies a body for the record, cut at record_body_bytes.
func (ex *exchange) truncateBody(b []byte) string {
	if max := ex.s.cfg.RecordBodyBytes; len(b) > max {
		ex.rec.BodyTruncated = true
		return strings.ToValidUTF8(string(b[:max]), "")
	}
	return string(b)
}
