package mock

import (
	"hash/fnv"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/config"
)

// defaultCompletionTokens is used when a provider's CompletionTokens is not
// positive, as config.ApplyDefaults would have set it.
const defaultCompletionTokens = 32

// Server serves simulated providers, each under /{name}/, speaking the
// OpenAI, Anthropic and Gemini wire formats. It is an http.Handler; see the
// package documentation for the paths, headers and behaviours. The zero
// Server serves no provider until SetProvider adds one.
type Server struct {
	// providers is replaced whole (copy on write) by SetProvider, so that a
	// request only loads a pointer and never takes a lock.
	providers atomic.Pointer[map[string]*provider]
	// setMu serialises writers.
	setMu sync.Mutex
}

// Stats counts what one simulated provider did since the Server was made.
// Counters survive SetProvider.
type Stats struct {
	// Requests counts API requests addressed to the provider (every
	// endpoint of every format but the model listings), whatever their
	// outcome.
	Requests int64
	// Errors counts 5xx answers injected, by ErrorRate or X-Mock-Status.
	Errors int64
	// RateLimited counts 429 answers injected, by RateLimitRate or
	// X-Mock-Status.
	RateLimited int64
	// Streams counts streaming responses begun.
	Streams int64
	// Canceled counts requests whose client went away before the answer was
	// complete.
	Canceled int64
}

// provider is one simulated provider's behaviour, immutable once published.
type provider struct {
	cfg config.MockProvider
	// fingerprint is the system_fingerprint, stable per provider name.
	fingerprint string
	modelsBody  []byte
	stats       *counters
	// cache is the simulated Anthropic prompt cache.
	cache *promptCache
}

type counters struct {
	requests    atomic.Int64
	errors      atomic.Int64
	rateLimited atomic.Int64
	streams     atomic.Int64
	canceled    atomic.Int64
}

// New returns a Server simulating providers. A later provider with the same
// name as an earlier one replaces it.
func New(providers []config.MockProvider) *Server {
	s := &Server{}
	m := make(map[string]*provider, len(providers))
	for _, p := range providers {
		m[p.Name] = newProvider(p, m[p.Name])
	}
	s.providers.Store(&m)
	return s
}

// SetProvider adds a provider or replaces the behaviour of the one with the
// same name; requests that arrive afterwards see the new behaviour. It is
// safe to call while the Server serves.
func (s *Server) SetProvider(p config.MockProvider) {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	var current map[string]*provider
	if m := s.providers.Load(); m != nil {
		current = *m
	}
	next := maps.Clone(current)
	if next == nil {
		next = map[string]*provider{}
	}
	next[p.Name] = newProvider(p, current[p.Name])
	s.providers.Store(&next)
}

// Stats returns the named provider's counters; zero for an unknown name.
func (s *Server) Stats(name string) Stats {
	p := s.provider(name)
	if p == nil {
		return Stats{}
	}
	return Stats{
		Requests:    p.stats.requests.Load(),
		Errors:      p.stats.errors.Load(),
		RateLimited: p.stats.rateLimited.Load(),
		Streams:     p.stats.streams.Load(),
		Canceled:    p.stats.canceled.Load(),
	}
}

// provider returns the named provider, or nil. The zero Server has none.
func (s *Server) provider(name string) *provider {
	m := s.providers.Load()
	if m == nil {
		return nil
	}
	return (*m)[name]
}

// newProvider makes a provider's behaviour; the counters and the prompt
// cache of prev, the provider it replaces, carry over.
func newProvider(cfg config.MockProvider, prev *provider) *provider {
	var stats *counters
	var cache *promptCache
	if prev != nil {
		stats, cache = prev.stats, prev.cache
	} else {
		stats, cache = &counters{}, newPromptCache(promptCacheEntries)
	}
	if cfg.CompletionTokens <= 0 {
		cfg.CompletionTokens = defaultCompletionTokens
	}
	h := fnv.New64a()
	h.Write([]byte(cfg.Name))
	sum := h.Sum64()
	fp := []byte("fp_")
	for range 10 {
		fp = append(fp, hexDigits[sum&0xf])
		sum >>= 4
	}
	return &provider{cfg: cfg, fingerprint: string(fp), modelsBody: modelsBody(cfg.Name), stats: stats, cache: cache}
}

// modelIDs are what GET /v1/models lists. The mock answers chat completions
// for any model name; the list is informational.
var modelIDs = [...]struct {
	id      string
	created int64
}{
	{"gpt-4o", 1715367049},
	{"gpt-4o-mini", 1721172741},
	{"gpt-4.1", 1744316542},
	{"gpt-4.1-mini", 1744318173},
	{"o3-mini", 1737146383},
}

func modelsBody(owner string) []byte {
	b := []byte(`{"object":"list","data":[`)
	for i, m := range modelIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendModel(b, m.id, m.created, owner)
	}
	return append(b, "]}\n"...)
}

func appendModel(b []byte, id string, created int64, owner string) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"owned_by":`...)
	b = appendString(b, owner)
	return append(b, '}')
}

// ServeHTTP routes a provider's endpoints of the three wire formats, and
// /healthz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "/healthz" {
		w.Header()["Content-Type"] = headerJSON
		_, _ = w.Write([]byte("{\"status\":\"ok\"}\n"))
		return
	}
	name, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	p := s.provider(name)
	if p == nil {
		writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "unknown_provider",
			message: "Unknown mock provider " + strconv.Quote(name) + "; paths are /{provider}/v1/..."})
		return
	}
	switch rest {
	case "v1/chat/completions":
		if requirePost(w, r, dialectOpenAI) {
			s.chatCompletion(w, r, p)
		}
		return
	case "v1/completions":
		if requirePost(w, r, dialectOpenAI) {
			textCompletion(w, r, p)
		}
		return
	case "v1/embeddings":
		if requirePost(w, r, dialectOpenAI) {
			embeddings(w, r, p)
		}
		return
	case "v1/rerank":
		if requirePost(w, r, dialectOpenAI) {
			rerank(w, r, p)
		}
		return
	case "v1/messages":
		if requirePost(w, r, dialectAnthropic) {
			anthropicMessages(w, r, p)
		}
		return
	case "v1/messages/count_tokens":
		if requirePost(w, r, dialectAnthropic) {
			anthropicCountTokens(w, r, p)
		}
		return
	case "v1/models":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet, dialectOpenAI)
			return
		}
		if !authorized(w, r, p, dialectOpenAI) {
			return
		}
		writeJSON(w, p.modelsBody)
		return
	}
	if model, method, ok := geminiPath(rest, r.Method == http.MethodPost); ok {
		if requirePost(w, r, dialectGemini) {
			gemini(w, r, p, model, method)
		}
		return
	}
	if id, ok := strings.CutPrefix(rest, "v1/models/"); ok {
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet, dialectOpenAI)
			return
		}
		if !authorized(w, r, p, dialectOpenAI) {
			return
		}
		for _, m := range modelIDs {
			if m.id == id {
				writeJSON(w, append(appendModel(nil, m.id, m.created, p.cfg.Name), '\n'))
				return
			}
		}
		writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model",
			message: "The model " + strconv.Quote(id) + " does not exist or you do not have access to it."})
		return
	}
	writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error",
		message: "Invalid URL (" + r.Method + " /" + rest + ")"})
}

// geminiPath splits Gemini's "v1beta/models/{model}:{method}" (or "v1/…",
// for POST only, since "v1/models/{id}" is also OpenAI's GET).
func geminiPath(rest string, isPost bool) (model, method string, ok bool) {
	tail, ok := strings.CutPrefix(rest, "v1beta/models/")
	if !ok && isPost {
		tail, ok = strings.CutPrefix(rest, "v1/models/")
	}
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(tail, ':')
	if i < 0 {
		return "", "", false
	}
	return tail[:i], tail[i+1:], true
}

// requirePost answers 405 to anything but POST; it reports whether the request
// is a POST.
func requirePost(w http.ResponseWriter, r *http.Request, d dialect) bool {
	if r.Method == http.MethodPost {
		return true
	}
	methodNotAllowed(w, r, http.MethodPost, d)
	return false
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string, d dialect) {
	w.Header().Set("Allow", allow)
	writeErrorAs(w, d, &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
		message: "Invalid method for URL (" + r.Method + " " + r.URL.Path + ")"})
}

func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	_, _ = w.Write(body)
}

var _ http.Handler = (*Server)(nil)
