package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/proxy/provider/anthropic"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

// endpointMessages is Anthropic's Messages API, served so that the
// Anthropic SDKs work by swapping their base URL to .../anthropic.
const endpointMessages = "/anthropic/v1/messages"

// authenticateAnthropic accepts the client key from x-api-key (what the
// Anthropic SDKs send) or Authorization: Bearer.
func (s *Server) authenticateAnthropic(c *gin.Context) {
	secret := c.GetHeader("X-Api-Key")
	if secret == "" {
		secret = keys.Bearer(c.GetHeader("Authorization"))
	}
	k, ok := s.keys.Lookup(secret)
	if !ok {
		s.metrics.unauthorized.Inc()
		c.Data(http.StatusUnauthorized, "application/json", anthropic.OpenAIErrorToMessages(http.StatusUnauthorized,
			[]byte(`{"error":{"message":"missing or invalid API key (send x-api-key or Authorization: Bearer)","type":"authentication_error"}}`)))
		c.Abort()
		return
	}
	c.Set(keyContext, k)
}

// messages serves POST /anthropic/v1/messages. The request is planned like
// any chat request. A deployment on an Anthropic provider gets the request
// as the client sent it (prompt caching, thinking and every other Messages
// feature intact); any other provider gets it translated to OpenAI's chat
// format and its answer translated back.
func (s *Server) messages(c *gin.Context) {
	ex := s.begin(c, endpointMessages)
	ex.dialect = dialectAnthropic
	defer ex.finish()
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, ok := ex.readBody((*bp)[:0])
	*bp = body[:0]
	if !ok {
		return
	}
	rec := ex.rec
	if ex.omitRequest {
		rec.BodiesOmitted = true
	} else {
		rec.RequestBody = ex.truncateBody(body)
	}
	openAI, err := anthropic.MessagesRequestToOpenAI(body)
	if err != nil {
		class := errInvalidRequest
		if !jsonValidObject(body) {
			class = errInvalidJSON
		}
		ex.fail(&apiError{class: class, message: err.Error()})
		return
	}
	req, perr := parseRequest(openAI, kindChat)
	ex.reqBody = openAI
	rec.ModelRequested, rec.Stream = req.Model, req.Stream
	if perr != nil {
		ex.fail(perr)
		return
	}
	if rec.User == "" {
		rec.User = clip(req.User)
	}
	rreq := route.Request{Model: req.Model, Endpoint: "chat", Stream: req.Stream,
		NeedsTools: req.needsTools, NeedsJSON: req.needsJSON, NeedsVision: req.needsVision}
	plans, err := s.router.Plan(&rreq)
	if err != nil {
		ex.fail(&apiError{class: errModelNotFound, param: "model", message: err.Error()})
		return
	}
	for _, p := range plans {
		ex.notePlan(p)
	}
	translated, err := upstreamBase(openAI, &req)
	if err != nil {
		ex.fail(&apiError{class: errInvalidRequest, message: err.Error()})
		return
	}
	var last *apiError
	tried := 0
	for _, plan := range plans {
		for _, cand := range plan.Candidates {
			tried++
			var e *apiError
			var fallback bool
			if s.providerTypes[cand.Provider] == config.ProviderAnthropic {
				e, fallback = ex.tryNativeMessages(cand, body, req.Stream)
			} else {
				upBody, err := withModel(translated, req.Model, cand.Model)
				if err != nil {
					ex.fail(&apiError{class: errInternal, message: err.Error()})
					return
				}
				e, fallback = ex.try(kindChat, cand, upBody, req.Stream)
			}
			if e == nil {
				rec.Routing.Strategy, rec.Routing.Reason = plan.Strategy, plan.Reason
				if n := len(rec.Attempts); n > 1 {
					rec.Routing.Reason += "; served by " + cand.Provider + " after " + strconv.Itoa(n-1) + " failed attempt(s)"
				}
				return
			}
			last = e
			if !fallback || ex.committed || ex.clientGone() {
				ex.fail(last)
				return
			}
		}
	}
	if ex.clientGone() {
		last = &apiError{class: errCanceled, message: "client disconnected"}
	}
	if last == nil || tried == 0 {
		last = noProvider(plans)
	}
	ex.fail(last)
}

func jsonValidObject(b []byte) bool {
	return jsonx.Members(b, func(jsonx.Member) bool { return true }) == nil
}

// anthropicHeaders are the client headers a native request keeps.
var anthropicHeaders = []string{"Content-Type", "Anthropic-Version", "Anthropic-Beta"}

// tryNativeMessages relays a Messages request unchanged (but for the
// upstream model) to an Anthropic provider, and its answer unchanged to
// the client, reading usage from it as it passes.
func (ex *exchange) tryNativeMessages(cand route.Candidate, body []byte, stream bool) (*apiError, bool) {
	s := ex.s
	up, ok := s.upstreams[cand.Provider].(provider.Forwarder)
	if !ok {
		return &apiError{class: errInternal, message: "provider " + cand.Provider + " cannot relay native requests"}, true
	}
	upBody, err := jsonx.Set(body, "model", jsonx.AppendString(nil, cand.Model))
	if err != nil {
		return &apiError{class: errInvalidJSON, message: "request body is not a JSON object"}, false
	}
	header := http.Header{}
	for _, h := range anthropicHeaders {
		if v := ex.c.Request.Header.Values(h); len(v) > 0 {
			header[h] = v
		}
	}
	send := func(ctx context.Context) (*http.Response, error) {
		return up.Forward(ctx, &provider.ForwardRequest{Method: http.MethodPost, Path: "/v1/messages", Header: header,
			Body: upBody, APIKey: ex.clientProviderKey(cand.Provider)})
	}
	sendError := func(err error) *apiError { return ex.transportError(cand.Provider, err) }
	relay := func(resp *http.Response, headersAt time.Time) (*apiError, bool) {
		if stream {
			return ex.relayNativeStream(cand, resp)
		}
		return ex.relayNativeJSON(cand, resp, headersAt)
	}
	return ex.attempt(cand, stream, send, sendError, relay)
}

// messagesUsage converts Anthropic usage to the record's: input tokens in
// Anthropic's sense exclude cache reads and writes, the record's prompt
// tokens include them.
func messagesUsage(u anthropic.Usage) record.Usage {
	return record.Usage{
		PromptTokens:     u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens,
		CompletionTokens: u.OutputTokens,
		CachedTokens:     u.CacheReadTokens,
		CacheWriteTokens: u.CacheWriteTokens,
	}
}

func (ex *exchange) relayNativeJSON(cand route.Candidate, resp *http.Response, headersAt time.Time) (*apiError, bool) {
	s := ex.s
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, err := readLimited((*bp)[:0], resp.Body, s.cfg.MaxResponseBytes)
	*bp = body[:0]
	if err != nil {
		return ex.readError(cand.Provider, err), true
	}
	usage, stop, err := anthropic.ParseMessageUsage(body)
	if err != nil {
		return &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " returned a response that is not a message: " + clipMessage(err.Error())}, true
	}
	rec := ex.rec
	rec.Usage = messagesUsage(usage)
	rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
	rec.FinishReason = stop
	ex.firstByte = headersAt
	ex.commit("application/json")
	if _, err := ex.c.Writer.Write(body); err != nil {
		return &apiError{class: errCanceled, message: "writing the response: " + err.Error()}, false
	}
	if ex.omitResponse {
		rec.BodiesOmitted = true
	} else {
		rec.ResponseBody = ex.truncateBody(body)
	}
	return nil, false
}

// relayNativeStream relays a Messages event stream event by event. As with
// OpenAI streams, the first event is read before anything is sent, so a
// provider that fails at once can be fallen back from.
func (ex *exchange) relayNativeStream(cand route.Candidate, resp *http.Response) (*apiError, bool) {
	s := ex.s
	br := streamReaders.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	defer func() { br.Reset(nil); streamReaders.Put(br) }()
	rd := sse.NewReader(br, maxStreamEvent)
	var obs anthropic.StreamObserver
	// text is the message's text, for the record; other its thinking and
	// tool inputs. Both serve to estimate the output of a stream cut short.
	var text, other strings.Builder
	tl := newTally(cand.Model, s.cfg.RecordBodyBytes)
	keep := !ex.omitResponse
	rec := ex.rec
	observe := func(event, data []byte) (bool, error) {
		content, err := obs.Observe(event, data)
		if err == nil && string(event) == "content_block_delta" {
			if d, _ := jsonx.Get(data, "delta"); len(d) > 0 {
				for _, field := range [...]string{"text", "thinking", "partial_json"} {
					if t, _ := jsonx.Get(d, field); len(t) > 0 {
						if v, err := jsonx.Unquote(t); err == nil {
							if field == "text" {
								tl.add(&text, v)
							} else {
								tl.add(&other, v)
							}
						}
					}
				}
			}
		}
		return content, err
	}
	event, data, err := rd.Next()
	if err != nil {
		if err == io.EOF {
			return &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " ended the stream before sending data"}, true
		}
		return ex.streamReadError(cand.Provider, err), true
	}
	content, err := observe(event, data)
	if err != nil {
		var ae *anthropic.Error
		if errors.As(err, &ae) && strings.Contains(ae.Type, "overloaded") {
			return &apiError{class: errOverloaded, message: "provider " + cand.Provider + ": " + ae.Message}, true
		}
		return &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " sent a bad first event: " + clipMessage(err.Error())}, true
	}
	h := ex.c.Writer.Header()
	h["Cache-Control"] = []string{"no-cache"}
	h["X-Accel-Buffering"] = []string{"no"}
	ex.commit("text/event-stream")
	w := ex.c.Writer
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	var streamErr *apiError
	for {
		b := (*bp)[:0]
		if len(event) > 0 {
			b = append(append(append(b, "event: "...), event...), '\n')
		}
		b = append(append(append(b, "data: "...), data...), "\n\n"...)
		*bp = b
		if _, err := w.Write(b); err != nil {
			streamErr = &apiError{class: errCanceled, message: "client disconnected"}
			break
		}
		if content && ex.firstByte.IsZero() {
			ex.firstByte = time.Now()
		}
		if rd.Buffered() == 0 {
			w.Flush()
		}
		if obs.Done() {
			break
		}
		event, data, err = rd.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			streamErr = ex.streamReadError(cand.Provider, err)
			break
		}
		if content, err = observe(event, data); err != nil {
			var ae *anthropic.Error
			if errors.As(err, &ae) {
				// The provider's own error event: relayed as it came.
				_, _ = w.Write(append(append([]byte("event: error\ndata: "), data...), "\n\n"...))
				streamErr = &apiError{class: errUpstream, message: "provider " + cand.Provider + ": " + ae.Type + ": " + ae.Message}
				break
			}
			streamErr = &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " sent a bad event: " + clipMessage(err.Error())}
			break
		}
	}
	if streamErr != nil && streamErr.class != errCanceled && !strings.HasPrefix(streamErr.message, "provider "+cand.Provider+": ") {
		_, _ = w.Write(append(append([]byte("event: error\ndata: "), anthropic.OpenAIErrorToMessages(streamErr.class.status,
			appendErrorBody(nil, streamErr, "", nil))...), "\n\n"...))
	}
	w.Flush()
	rec.Usage = messagesUsage(obs.Usage())
	if obs.StopReason() == "" {
		// No message_delta, so no output count: the stream was cut short.
		// message_start's input counts are exact; the output is estimated
		// from what was relayed.
		rec.Usage.CompletionTokens = max(rec.Usage.CompletionTokens, tl.estimate(&text, &other))
		rec.Usage.Estimated = true
	}
	rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
	rec.FinishReason = obs.StopReason()
	if keep {
		rec.ResponseBody = ex.truncateBody([]byte(`{"type":"message","role":"assistant","content":[{"type":"text","text":` +
			string(jsonx.AppendString(nil, text.String())) + `}],"stop_reason":` + string(jsonx.AppendString(nil, obs.StopReason())) + `}`))
	} else {
		rec.BodiesOmitted = true
	}
	return streamErr, false
}
