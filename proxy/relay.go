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
	"github.com/switchyard/switchyard/proxy/provider/anthropic"
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
	ex.reqBody = body
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
	rreq := route.Request{
		Model: req.Model, Models: req.Models, Endpoint: k.capability, Stream: req.Stream,
		NeedsTools: req.needsTools, NeedsJSON: req.needsJSON, NeedsVision: req.needsVision,
	}
	if err := route.ParsePreferences(req.Provider, &rreq); err != nil {
		e := &apiError{class: errInvalidRequest, param: "provider", message: "provider preferences: " + err.Error()}
		var fe *route.FieldError
		if errors.As(err, &fe) {
			e.param = "provider." + fe.Field
		}
		ex.fail(e)
		return
	}
	plans, err := s.router.Plan(&rreq)
	if err != nil {
		ex.fail(&apiError{class: errModelNotFound, param: "model", message: err.Error() + " (GET /v1/models lists the models served)"})
		return
	}
	base, err := upstreamBase(body, &req)
	if err != nil {
		ex.fail(&apiError{class: errInvalidJSON, message: "request body is not a JSON object"})
		return
	}
	for _, p := range plans {
		ex.notePlan(p)
	}
	var last *apiError
	for round := 0; ; round++ {
		var served, retriable bool
		served, last, retriable = ex.tryPlans(k, &req, plans, base)
		if served {
			return
		}
		if !retriable || round >= s.cfg.Retries || ex.committed || ex.clientGone() {
			break
		}
		// Every deployment failed in a way that may pass: wait a jittered,
		// growing moment and plan again (health has changed meanwhile).
		if !sleepCtx(ex.c.Request.Context(), s.router.Backoff(round)) {
			break
		}
		if plans, err = s.router.Plan(&rreq); err != nil {
			break
		}
	}
	if ex.clientGone() {
		last = &apiError{class: errCanceled, message: "client disconnected"}
	}
	if last == nil {
		last = noProvider(plans)
	}
	ex.fail(last)
}

// tryPlans tries each plan's candidates in order until one serves the
// client. It returns whether one did, the last error, and whether every
// failure was one that a later retry might not meet.
func (ex *exchange) tryPlans(k *kind, req *request, plans []*route.Plan, base []byte) (served bool, last *apiError, retriable bool) {
	rec := ex.rec
	retriable = true
	tried := 0
	for _, plan := range plans {
		for _, cand := range plan.Candidates {
			upBody, err := withModel(base, req.Model, cand.Model)
			if err != nil {
				return false, &apiError{class: errInternal, message: "rewriting the request: " + err.Error()}, false
			}
			tried++
			e, fallback := ex.try(k, cand, upBody, req.Stream)
			if e == nil {
				rec.Routing.Strategy = plan.Strategy
				rec.Routing.Reason = plan.Reason
				if n := len(rec.Attempts); n > 1 {
					rec.Routing.Reason += "; served by " + cand.Provider + " after " + strconv.Itoa(n-1) + " failed attempt(s)"
				}
				if plan.Model != req.Model {
					rec.Routing.Reason += "; fell back to model " + plan.Model
				}
				return true, nil, false
			}
			last = e
			if !fallback {
				retriable = false
			}
			if !fallback || ex.committed || ex.clientGone() {
				return false, last, false
			}
		}
	}
	if tried == 0 {
		return false, noProvider(plans), false
	}
	return false, last, retriable
}

// notePlan records a plan's candidates, with their scores, and its skips.
func (ex *exchange) notePlan(plan *route.Plan) {
	rec := ex.rec
	if rec.Routing.Strategy == "" {
		rec.Routing.Strategy, rec.Routing.Reason = plan.Strategy, plan.Reason
	}
	for _, c := range plan.Candidates {
		rec.Routing.Candidates = append(rec.Routing.Candidates, record.RoutingCandidate{
			Provider: c.Provider, Model: c.Model, Score: c.Score, Why: c.Why, PublicModel: plan.Model})
	}
	for _, sk := range plan.Skipped {
		rec.Routing.Candidates = append(rec.Routing.Candidates, record.RoutingCandidate{
			Provider: sk.Provider, Model: sk.Model, Skipped: sk.Reason, PublicModel: plan.Model})
	}
}

// noProvider is the error when no deployment of any requested model could
// be tried: each was filtered out or is resting.
func noProvider(plans []*route.Plan) *apiError {
	e := &apiError{class: errNoProvider, message: "no deployment can serve this request"}
	var reasons []string
	var retry time.Duration
	for _, p := range plans {
		reasons = append(reasons, p.Explain())
		if p.RetryAfter > 0 && (retry == 0 || p.RetryAfter < retry) {
			retry = p.RetryAfter
		}
	}
	if len(reasons) > 0 {
		e.message += ": " + strings.Join(reasons, "; ")
	}
	if retry > 0 {
		e.retryAfter = strconv.Itoa(int((retry + time.Second - 1) / time.Second))
	}
	return e
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// outcome tells the router how an attempt went: only the provider's own
// failures count against its health; a 429 cools it down.
func (ex *exchange) outcome(e *apiError, latency time.Duration, start time.Time, stream bool) route.Outcome {
	o := route.Outcome{Success: e == nil, Latency: latency, Stream: stream}
	if e == nil {
		o.CompletionTokens = ex.rec.Usage.CompletionTokens
		if !ex.firstByte.IsZero() {
			o.TTFT = ex.firstByte.Sub(start)
		}
		return o
	}
	switch e.class {
	case errRateLimited:
		o.RateLimited = true
		if secs, err := strconv.Atoi(e.retryAfter); err == nil && secs > 0 {
			o.RetryAfter = time.Duration(secs) * time.Second
		}
	case errUpstream, errUpstreamMalformed, errTimeout, errOverloaded, errProviderAuth:
		o.Retriable = true
	}
	return o
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
	up, ok := ex.s.upstreams[cand.Provider]
	if !ok {
		return &apiError{class: errInternal, message: "provider " + cand.Provider + " is not configured"}, true
	}
	send := func(ctx context.Context) (*http.Response, error) {
		return up.Send(ctx, &provider.Request{Path: k.path, Body: body, Stream: stream, APIKey: ex.clientProviderKey(cand.Provider)})
	}
	sendError := func(err error) *apiError {
		if errors.Is(err, provider.ErrUnsupported) {
			return &apiError{class: errNoProvider, message: "provider " + cand.Provider + " does not serve " + k.endpoint}
		}
		return ex.transportError(cand.Provider, err)
	}
	relay := func(resp *http.Response, headersAt time.Time) (*apiError, bool) {
		if stream {
			return ex.relayStream(k, cand, resp)
		}
		return ex.relayJSON(k, cand, resp, headersAt)
	}
	return ex.attempt(cand, stream, send, sendError, relay)
}

// attempt makes one upstream attempt: send, then relay a 200 to the client.
// It times the attempt, records it, reports it to the router's health and
// the metrics, and says whether a failure may fall back to the next
// deployment (never once the response has begun).
func (ex *exchange) attempt(cand route.Candidate, stream bool, send func(context.Context) (*http.Response, error),
	sendError func(error) *apiError, relay func(*http.Response, time.Time) (*apiError, bool)) (*apiError, bool) {
	s := ex.s
	ctx, cancel := context.WithTimeout(ex.c.Request.Context(), s.cfg.TotalTimeout)
	defer cancel()

	health := s.router.Begin(cand.Provider, cand.Model)
	attemptStart := time.Now()
	resp, err := send(ctx)
	headersAt := time.Now()
	ex.waited += headersAt.Sub(attemptStart)
	attempt := record.Attempt{Provider: cand.Provider, Model: cand.Model}
	done := func(e *apiError, status int) {
		latency := time.Since(attemptStart)
		attempt.StatusCode = status
		attempt.LatencyMs = latency.Milliseconds()
		result := "ok"
		if e != nil {
			attempt.ErrorType = e.class.errorType
			result = e.class.errorType
		}
		ex.rec.Attempts = append(ex.rec.Attempts, attempt)
		s.metrics.attempts.WithLabelValues(cand.Provider, result).Inc()
		health.End(ex.outcome(e, latency, attemptStart, stream))
	}
	if err != nil {
		e := sendError(err)
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
	e, fallback := relay(resp, headersAt)
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
	if !missingUsage(usage) {
		rec.Usage = *usage
		rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
		out = withUsageCost(body, span, rec.CostNUSD)
	} else {
		// No usage from the provider: counted here, and given to the
		// client as an estimated usage object, in place of the empty one.
		ex.estimateUsage(k, cand, completionTokens(k, cand.Model, body))
		estimated := appendUsage(nil, rec.Usage, rec.CostNUSD)
		if usage != nil {
			out = append(append(append([]byte(nil), body[:span.start]...), estimated...), body[span.end:]...)
		} else if with, err := jsonx.Set(body, "usage", estimated); err == nil {
			out = with
		}
	}
	if ex.dialect == dialectAnthropic {
		translated, err := anthropic.OpenAIResponseToMessages(out)
		if err != nil {
			return &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " returned a completion that cannot be translated: " + clipMessage(err.Error())}, true
		}
		out = translated
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

// truncateBody copies a body for the record. A body over record_body_bytes
// is marked truncated and kept only bodyMargin bytes past the limit: the
// BodyFilter cuts it at the limit once redacted.
func (ex *exchange) truncateBody(b []byte) string {
	if max := ex.s.cfg.RecordBodyBytes; len(b) > max {
		ex.rec.BodyTruncated = true
		return string(b[:min(len(b), max+bodyMargin)])
	}
	return string(b)
}
