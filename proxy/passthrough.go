package proxy

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

// passthroughHeaders are the client headers a raw pass-through keeps.
var passthroughHeaders = []string{"Content-Type", "Accept", "Openai-Beta", "Openai-Organization", "Openai-Project"}

// openaiPassthrough serves /openai/v1/...: OpenAI's API relayed as it is,
// so that an OpenAI SDK whose base URL is .../openai/v1 reaches every
// endpoint, including those Switchyard does not model (the Responses API,
// files, images, audio, moderations). Chat completions, completions and
// embeddings take the same path as under /v1 (routing, fallback, usage on
// streams). Any other request is routed by the "model" in its body when it
// has one — to a deployment of that model on an OpenAI-compatible
// provider — and otherwise goes to the first OpenAI-compatible provider in
// the config; it is relayed unchanged but for authentication and the
// upstream model name, and recorded with the usage its response reports.
func (s *Server) openaiPassthrough(c *gin.Context) {
	path := c.Param("path")
	switch {
	case c.Request.Method == http.MethodPost && path == "/chat/completions":
		s.serveKind(c, kindChat)
		return
	case c.Request.Method == http.MethodPost && path == "/completions":
		s.serveKind(c, kindCompletions)
		return
	case c.Request.Method == http.MethodPost && path == "/embeddings":
		s.serveKind(c, kindEmbeddings)
		return
	}
	ex := s.begin(c, "/openai/v1"+path)
	defer ex.finish()
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body, ok := ex.readBody((*bp)[:0])
	*bp = body[:0]
	if !ok {
		return
	}
	rec := ex.rec
	if ex.omitRequest || !strings.HasPrefix(c.GetHeader("Content-Type"), "application/json") {
		rec.BodiesOmitted = rec.BodiesOmitted || len(body) > 0
	} else {
		rec.RequestBody = ex.truncateBody(body)
	}
	var model string
	var stream bool
	if len(body) > 0 && strings.HasPrefix(c.GetHeader("Content-Type"), "application/json") {
		if raw, err := jsonx.Get(body, "model"); err == nil && raw != nil {
			model, _ = jsonx.Unquote(raw)
		}
		if raw, _ := jsonx.Get(body, "stream"); string(raw) == "true" {
			stream = true
		}
	}
	rec.ModelRequested, rec.Stream = model, stream

	var cands []route.Candidate
	if model != "" {
		plans, err := s.router.Plan(&route.Request{Model: model, Stream: stream})
		if err != nil {
			ex.fail(&apiError{class: errModelNotFound, param: "model", message: err.Error()})
			return
		}
		for _, p := range plans {
			ex.notePlan(p)
			for _, cand := range p.Candidates {
				if s.forwardsOpenAI(cand.Provider) {
					cands = append(cands, cand)
				}
			}
		}
	} else if name := s.firstOpenAIProvider(); name != "" {
		cands = []route.Candidate{{Provider: name}}
	}
	var last *apiError
	for _, cand := range cands {
		e, fallback := ex.forward(cand, path, body, model, stream)
		if e == nil {
			return
		}
		last = e
		if !fallback || ex.committed || ex.clientGone() {
			break
		}
	}
	if last == nil {
		last = &apiError{class: errNoProvider, message: "no OpenAI-compatible provider can serve " + c.Request.Method + " /openai/v1" + path}
	}
	ex.fail(last)
}

func (s *Server) forwardsOpenAI(name string) bool {
	t := s.providerTypes[name]
	_, ok := s.upstreams[name].(provider.Forwarder)
	return ok && (t == config.ProviderOpenAI || t == config.ProviderAzure)
}

func (s *Server) firstOpenAIProvider() string {
	for _, name := range s.providerOrder {
		if s.providerTypes[name] == config.ProviderOpenAI && s.forwardsOpenAI(name) {
			return name
		}
	}
	return ""
}

// forward relays one raw request to one provider and its answer to the
// client, byte for byte (streams flushed as they come).
func (ex *exchange) forward(cand route.Candidate, path string, body []byte, model string, stream bool) (*apiError, bool) {
	s := ex.s
	up := s.upstreams[cand.Provider].(provider.Forwarder)
	if model != "" && cand.Model != "" && cand.Model != model {
		if b, err := jsonx.Set(body, "model", jsonx.AppendString(nil, cand.Model)); err == nil {
			body = b
		}
	}
	header := http.Header{}
	for _, h := range passthroughHeaders {
		if v := ex.c.Request.Header.Values(h); len(v) > 0 {
			header[h] = v
		}
	}
	ctx, cancel := context.WithTimeout(ex.c.Request.Context(), s.cfg.TotalTimeout)
	defer cancel()
	start := time.Now()
	resp, err := up.Forward(ctx, &provider.ForwardRequest{Method: ex.c.Request.Method, Path: path, RawQuery: ex.c.Request.URL.RawQuery,
		Header: header, Body: body, APIKey: ex.clientProviderKey(cand.Provider)})
	ex.waited += time.Since(start)
	attempt := record.Attempt{Provider: cand.Provider, Model: cand.Model}
	if err != nil {
		e := ex.transportError(cand.Provider, err)
		attempt.ErrorType, attempt.LatencyMs = e.class.errorType, time.Since(start).Milliseconds()
		ex.rec.Attempts = append(ex.rec.Attempts, attempt)
		return e, true
	}
	resp.Body = timedBody{r: resp.Body, waited: &ex.waited}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		e, fallback := upstreamStatusError(cand.Provider, resp)
		attempt.StatusCode, attempt.ErrorType, attempt.LatencyMs = resp.StatusCode, e.class.errorType, time.Since(start).Milliseconds()
		ex.rec.Attempts = append(ex.rec.Attempts, attempt)
		return e, fallback
	}
	// Anything else is the provider's answer: relayed as it is.
	rec := ex.rec
	rec.Provider, rec.Model = cand.Provider, cand.Model
	h := ex.c.Writer.Header()
	for _, k := range []string{"Content-Type", "Openai-Processing-Ms", "X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"} {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	h["X-Switchyard-Provider"] = []string{cand.Provider}
	ex.c.Writer.WriteHeader(resp.StatusCode)
	ex.committed = true
	rec.StatusCode = resp.StatusCode
	if resp.StatusCode >= 400 {
		rec.Outcome, rec.ErrorType = record.OutcomeError, errUpstreamRejected.errorType
	}
	var observed []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		observed = ex.relayRaw(resp.Body, true)
	} else {
		observed = ex.relayRaw(resp.Body, false)
		if u, ok := genericUsage(observed); ok {
			rec.Usage = u
		}
	}
	if u, ok := lastStreamUsage(observed); ok {
		rec.Usage = u
	}
	if cand.Model != "" {
		rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
	}
	attempt.StatusCode, attempt.LatencyMs = resp.StatusCode, time.Since(start).Milliseconds()
	rec.Attempts = append(rec.Attempts, attempt)
	if !ex.omitResponse && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		rec.ResponseBody = ex.truncateBody(observed)
	}
	return nil, false
}

// relayRaw copies r to the client, flushing whenever the upstream pauses.
// It returns what it relayed, up to the response size limit (for a stream:
// its last events, where usage is), for reading usage.
func (ex *exchange) relayRaw(r io.Reader, stream bool) []byte {
	w := ex.c.Writer
	buf := make([]byte, 32<<10)
	var kept []byte
	limit := int(ex.s.cfg.MaxResponseBytes)
	br := bufio.NewReaderSize(r, 32<<10)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if ex.firstByte.IsZero() {
				ex.firstByte = time.Now()
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				ex.rec.Outcome, ex.rec.ErrorType = record.OutcomeCanceled, errCanceled.errorType
				return kept
			}
			if br.Buffered() == 0 {
				w.Flush()
			}
			kept = append(kept, buf[:n]...)
			if stream && len(kept) > 1<<20 {
				kept = append(kept[:0], kept[len(kept)-(256<<10):]...) // usage comes last
			} else if len(kept) > limit {
				kept = kept[:limit]
			}
		}
		if err != nil {
			w.Flush()
			return kept
		}
	}
}

// genericUsage reads a usage object in either of OpenAI's namings:
// prompt/completion tokens (chat, completions, embeddings) or input/output
// tokens (the Responses API), at the top level or under "response".
func genericUsage(body []byte) (record.Usage, bool) {
	var u record.Usage
	raw, _ := jsonx.Get(body, "usage")
	if jsonx.IsNull(raw) {
		if resp, _ := jsonx.Get(body, "response"); len(resp) > 0 && resp[0] == '{' {
			raw, _ = jsonx.Get(resp, "usage")
		}
	}
	if jsonx.IsNull(raw) || raw[0] != '{' {
		return u, false
	}
	found := false
	_ = jsonx.Members(raw, func(m jsonx.Member) bool {
		v := raw[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("prompt_tokens"), m.Is("input_tokens"):
			u.PromptTokens, _ = jsonx.Int(v)
			found = true
		case m.Is("completion_tokens"), m.Is("output_tokens"):
			u.CompletionTokens, _ = jsonx.Int(v)
			found = true
		case m.Is("prompt_tokens_details"), m.Is("input_tokens_details"):
			if c, _ := jsonx.Get(v, "cached_tokens"); len(c) > 0 {
				u.CachedTokens, _ = jsonx.Int(c)
			}
		case m.Is("completion_tokens_details"), m.Is("output_tokens_details"):
			if r, _ := jsonx.Get(v, "reasoning_tokens"); len(r) > 0 {
				u.ReasoningTokens, _ = jsonx.Int(r)
			}
		}
		return true
	})
	return u, found
}

// lastStreamUsage finds the last usage in a relayed SSE stream.
func lastStreamUsage(stream []byte) (record.Usage, bool) {
	if !strings.Contains(string(stream), `"usage"`) {
		return record.Usage{}, false
	}
	rd := sse.NewReader(bufio.NewReader(strings.NewReader(string(stream))), maxStreamEvent)
	var last record.Usage
	found := false
	for {
		_, data, err := rd.Next()
		if err != nil {
			return last, found
		}
		if u, ok := genericUsage(data); ok {
			last, found = u, true
		}
	}
}
