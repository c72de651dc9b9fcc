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
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

const endpointChat = "/v1/chat/completions"

// chatRequest holds the few fields of a chat completion request the proxy
// acts on; the body itself is relayed as the client wrote it.
type chatRequest struct {
	Model         string          `json:"model"`
	Messages      json.RawMessage `json:"messages"`
	Stream        bool            `json:"stream"`
	StreamOptions json.RawMessage `json:"stream_options"`
	User          string          `json:"user"`
	SessionID     string          `json:"session_id"`
	// OpenRouter's extensions, understood here and never sent upstream.
	Models   json.RawMessage `json:"models"`
	Provider json.RawMessage `json:"provider"`
	Usage    json.RawMessage `json:"usage"`
}

// routerOnlyFields are request members that steer Switchyard and that an
// upstream would reject as unknown arguments.
var routerOnlyFields = []string{"models", "provider", "session_id", "usage", "transforms", "route"}

func (s *Server) chatCompletions(c *gin.Context) {
	ex := s.begin(c, endpointChat)
	defer ex.finish()
	body, ok := ex.readBody()
	if !ok {
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		ex.fail(jsonError(err))
		return
	}
	rec := ex.rec
	rec.ModelRequested, rec.Stream = req.Model, req.Stream
	if rec.User == "" {
		rec.User = clip(req.User)
	}
	if rec.SessionID == "" {
		rec.SessionID = clip(req.SessionID)
	}
	if *s.cfg.RecordBodies {
		rec.RequestBody = ex.truncateBody(body)
	}
	switch {
	case req.Model == "":
		ex.fail(&apiError{class: errInvalidRequest, param: "model", message: "model is required"})
		return
	case len(req.Messages) < 2 || req.Messages[0] != '[' || string(req.Messages) == "[]":
		ex.fail(&apiError{class: errInvalidRequest, param: "messages", message: "messages must be a non-empty array"})
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
		e, fallback := ex.tryChat(cand, upBody, req.Stream)
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
func upstreamBase(body []byte, req *chatRequest) ([]byte, error) {
	var err error
	if req.Models != nil || req.Provider != nil || req.SessionID != "" || req.Usage != nil {
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

// jsonError turns a decoding error into a client error that says what is
// wrong and where.
func jsonError(err error) *apiError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return &apiError{class: errInvalidRequest, message: "request body must be a JSON object, got JSON " + typeErr.Value}
		}
		return &apiError{class: errInvalidRequest, param: typeErr.Field, message: typeErr.Field + ": expected " + typeErr.Type.String() + ", got JSON " + typeErr.Value}
	}
	return &apiError{class: errInvalidJSON, message: "request body is not valid JSON: " + err.Error()}
}

// tryChat makes one attempt on one deployment. It returns nil when the
// client has been served (fully or, for a stream that failed mid-way, with
// an error chunk), or the attempt's error and whether the next deployment
// may be tried.
func (ex *exchange) tryChat(cand route.Candidate, body []byte, stream bool) (*apiError, bool) {
	s := ex.s
	up, ok := s.upstreams[cand.Provider]
	if !ok {
		return &apiError{class: errInternal, message: "provider " + cand.Provider + " is not configured"}, true
	}
	ctx, cancel := context.WithTimeout(ex.c.Request.Context(), s.cfg.TotalTimeout)
	defer cancel()

	attemptStart := time.Now()
	resp, err := up.Post(ctx, "/chat/completions", body, stream)
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
		e, fallback = ex.relayStream(cand, resp)
	} else {
		e, fallback = ex.relayJSON(cand, resp, headersAt)
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
// it. Nothing reaches the client unless the response is a usable completion,
// so every failure here can fall back.
func (ex *exchange) relayJSON(cand route.Candidate, resp *http.Response, headersAt time.Time) (*apiError, bool) {
	s := ex.s
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, err := readLimited((*bp)[:0], resp.Body, s.cfg.MaxResponseBytes)
	*bp = body[:0]
	if err != nil {
		return ex.readError(cand.Provider, err), true
	}
	var parsed struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *openAIUsage `json:"usage"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil || parsed.Choices == nil {
		return &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " returned a response that is not a chat completion"}, true
	}
	rec := ex.rec
	if len(parsed.Choices) > 0 {
		rec.FinishReason = parsed.Choices[0].FinishReason
	}
	out := body
	if parsed.Usage != nil {
		rec.Usage = parsed.Usage.toRecord()
		rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
		out = withUsageCost(body, rec.CostNUSD)
	}
	ex.firstByte = headersAt
	ex.commit("application/json")
	if _, err := ex.c.Writer.Write(out); err != nil {
		return &apiError{class: errCanceled, message: "writing the response: " + err.Error()}, false
	}
	if *s.cfg.RecordBodies {
		rec.ResponseBody = ex.truncateBody(out)
	}
	return nil, false
}

// withUsageCost adds OpenRouter's usage.cost (USD) to a response or chunk
// that has a usage object; anything else is returned as it is.
func withUsageCost(body []byte, costNUSD int64) []byte {
	var usage jsonx.Member
	found := false
	_ = jsonx.Members(body, func(m jsonx.Member) bool {
		if m.Key == "usage" && body[m.ValueStart] == '{' {
			usage, found = m, true
		}
		return true
	})
	if !found {
		return body
	}
	var num [32]byte
	out, err := jsonx.InsertMember(body, usage.ValueStart, usage.ValueEnd, "cost", appendUSD(num[:0], costNUSD))
	if err != nil {
		return body
	}
	return out
}

// readLimited appends r's content to dst, failing beyond limit bytes.
func readLimited(dst []byte, r io.Reader, limit int64) ([]byte, error) {
	buf := bytesBuffer{b: dst}
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return buf.b, err
	}
	if n > limit {
		return buf.b, errResponseTooLarge
	}
	return buf.b, nil
}

var errResponseTooLarge = errors.New("response exceeds proxy.max_response_bytes")

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

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
	if errors.Is(err, errResponseTooLarge) {
		return &apiError{class: errUpstream, message: "provider " + provider + ": " + err.Error()}
	}
	return ex.transportError(provider, err)
}

// upstreamStatusError classifies a non-200 upstream response. Errors that
// are the provider's (5xx, 429, timeouts, its credentials, an unknown
// upstream model) may fall back; errors in the client's request may not.
func upstreamStatusError(provider string, resp *http.Response) (*apiError, bool) {
	msg := upstreamMessage(resp.Body)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	msg = "provider " + provider + " returned " + strconv.Itoa(resp.StatusCode) + ": " + msg
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return &apiError{class: errRateLimited, message: msg, retryAfter: resp.Header.Get("Retry-After")}, true
	case code == http.StatusRequestTimeout || code == http.StatusGatewayTimeout:
		return &apiError{class: errTimeout, message: msg}, true
	case code >= 500, code == http.StatusUnauthorized, code == http.StatusForbidden, code == http.StatusNotFound:
		return &apiError{class: errUpstream, message: msg}, true
	case code >= 400:
		return &apiError{class: errUpstreamRejected, message: msg}, false
	default:
		return &apiError{class: errUpstream, message: msg}, true
	}
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
