package proxy

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/switchyard/switchyard/proxy/provider/anthropic"
	"github.com/switchyard/switchyard/record"
)

// exchange is one client request on its way through the proxy: the record
// being built and the clock.
type exchange struct {
	s     *Server
	c     *gin.Context
	start time.Time
	rec   *record.Record
	// waited is the time spent waiting on upstreams (connecting, their
	// processing, reading their bodies): latency minus waited is the
	// gateway's own overhead.
	waited time.Duration
	// firstByte is when the first content byte reached the client.
	firstByte time.Time
	committed bool // response headers sent: no fallback, no error status
	// omitRequest and omitResponse keep bodies out of the record: bodies
	// are off in the config, the key has zero retention, or the request
	// asked (X-Switchyard-Omit, Helicone-Omit-Request/-Response).
	omitRequest, omitResponse bool
	// dialect is the wire format the client speaks.
	dialect dialect
	// reqBody is the client's request in OpenAI's format (translated from
	// the Messages API for /anthropic), for estimating its prompt tokens.
	// It is valid until the handler returns.
	reqBody []byte
}

// dialect is a client-facing wire format.
type dialect int

const (
	dialectOpenAI    dialect = iota
	dialectAnthropic         // /anthropic/v1/messages
)

func (s *Server) begin(c *gin.Context, endpoint string) *exchange {
	now := time.Now()
	k := keyOf(c)
	rec := &record.Record{
		RequestID:   newRequestID(now),
		StartedAtMs: now.UnixMilli(),
		Endpoint:    endpoint,
	}
	if k != nil {
		rec.KeyID, rec.Team = k.ID, k.Team
	}
	applyAttribution(c.Request.Header, rec)
	traceparent := applyTraceContext(c.Request.Header, rec)
	h := c.Writer.Header()
	h["X-Request-Id"] = []string{rec.RequestID}
	h["Traceparent"] = []string{traceparent}
	ex := &exchange{s: s, c: c, start: now, rec: rec}
	ex.omitRequest, ex.omitResponse = omissions(c.Request.Header, !*s.cfg.RecordBodies || k != nil && k.ZeroRetention)
	return ex
}

// omissions reads which bodies the request asks to keep out of its record.
func omissions(h http.Header, all bool) (request, response bool) {
	if all {
		return true, true
	}
	for _, v := range h.Values("X-Switchyard-Omit") {
		for _, part := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(part)) {
			case "request":
				request = true
			case "response":
				response = true
			case "all", "bodies":
				request, response = true, true
			}
		}
	}
	if strings.EqualFold(h.Get("Helicone-Omit-Request"), "true") {
		request = true
	}
	if strings.EqualFold(h.Get("Helicone-Omit-Response"), "true") {
		response = true
	}
	return request, response
}

// headerProviderKey is where a client brings its own provider key.
const headerProviderKey = "X-Switchyard-Provider-Key"

// clientProviderKey returns the key the client brought for provider, when
// the provider allows it.
func (ex *exchange) clientProviderKey(provider string) string {
	if !ex.s.byok[provider] {
		return ""
	}
	return ex.c.Request.Header.Get(headerProviderKey)
}

// newRequestID returns a UUIDv7 whose timestamp is exactly t's millisecond,
// so that started_at_ms can be read back from the id alone.
func newRequestID(t time.Time) string {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(u[8:], rand.Uint64())
	r := rand.Uint64()
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | byte(r)&0x0f
	u[7] = byte(r >> 8)
	u[8] = 0x80 | u[8]&0x3f
	return u.String()
}

// readBody appends the request body to dst, bounded by max_request_bytes.
// On failure it has answered the client.
func (ex *exchange) readBody(dst []byte) ([]byte, bool) {
	limit := ex.s.cfg.MaxRequestBytes
	if ex.c.Request.ContentLength > limit {
		ex.fail(&apiError{class: errBodyTooLarge, message: "request body is " + strconv.FormatInt(ex.c.Request.ContentLength, 10) + " bytes; the limit is " + strconv.FormatInt(limit, 10)})
		return dst, false
	}
	body, err := readLimited(dst, ex.c.Request.Body, limit)
	switch {
	case errors.Is(err, errTooLarge):
		ex.fail(&apiError{class: errBodyTooLarge, message: "request body exceeds the limit of " + strconv.FormatInt(limit, 10) + " bytes"})
		return body, false
	case err != nil:
		ex.fail(&apiError{class: errCanceled, message: "reading the request body: " + err.Error()})
		return body, false
	}
	return body, true
}

// fail answers the client with e (unless the response has begun) and marks
// the record.
func (ex *exchange) fail(e *apiError) {
	ex.rec.ErrorType = e.class.errorType
	ex.rec.ErrorMessage = e.message
	ex.rec.Outcome = e.class.outcome
	if ex.committed {
		return
	}
	ex.rec.StatusCode = e.class.status
	if e.class == errCanceled {
		return // nobody is listening
	}
	ex.s.writeError(ex.c, ex, e)
}

func (s *Server) writeError(c *gin.Context, ex *exchange, e *apiError) {
	h := c.Writer.Header()
	h["Content-Type"] = []string{"application/json"}
	if e.retryAfter != "" {
		h["Retry-After"] = []string{e.retryAfter}
	}
	var requestID string
	var attempts []record.Attempt
	if ex != nil {
		requestID = ex.rec.RequestID
		attempts = ex.rec.Attempts
		h["X-Switchyard-Attempts"] = []string{strconv.Itoa(len(attempts))}
	}
	bp := s.bufs.Get().(*[]byte)
	body := appendErrorBody((*bp)[:0], e, requestID, attempts)
	if ex != nil && ex.dialect == dialectAnthropic {
		body = anthropic.OpenAIErrorToMessages(e.class.status, body)
	}
	c.Writer.WriteHeader(e.class.status)
	_, _ = c.Writer.Write(body)
	*bp = body
	s.bufs.Put(bp)
}

// commit sends the success headers; from here on the request is served by
// the chosen deployment and no fallback is possible.
func (ex *exchange) commit(contentType string) {
	h := ex.c.Writer.Header()
	h["Content-Type"] = []string{contentType}
	h["X-Switchyard-Provider"] = []string{ex.rec.Provider}
	h["X-Switchyard-Model"] = []string{ex.rec.Model}
	// The serving attempt is appended to the record when it ends.
	h["X-Switchyard-Attempts"] = []string{strconv.Itoa(len(ex.rec.Attempts) + 1)}
	ex.c.Writer.WriteHeader(http.StatusOK)
	ex.committed = true
	ex.rec.StatusCode = http.StatusOK
}

// finish completes the record and hands it to the sink.
func (ex *exchange) finish() {
	end := time.Now()
	rec := ex.rec
	latency := end.Sub(ex.start)
	rec.LatencyMs = latency.Milliseconds()
	if !ex.firstByte.IsZero() {
		rec.TTFTMs = ex.firstByte.Sub(ex.start).Milliseconds()
	}
	if overhead := latency - ex.waited; overhead > 0 {
		rec.OverheadUs = overhead.Microseconds()
	}
	if rec.Outcome == "" {
		rec.Outcome = record.OutcomeOK
	}
	if rec.Provider == "" && len(rec.Attempts) > 0 {
		last := rec.Attempts[len(rec.Attempts)-1]
		rec.Provider, rec.Model = last.Provider, last.Model
	}
	ex.s.metrics.request(rec.Outcome)
	ex.s.sink.Publish(rec)
}

// timedBody measures the time spent waiting in Read on an upstream body.
type timedBody struct {
	r      io.ReadCloser
	waited *time.Duration
}

func (t timedBody) Read(p []byte) (int, error) {
	start := time.Now()
	n, err := t.r.Read(p)
	*t.waited += time.Since(start)
	return n, err
}

func (t timedBody) Close() error { return t.r.Close() }

// clientGone reports whether the client went away.
func (ex *exchange) clientGone() bool {
	return ex.c.Request.Context().Err() != nil
}
