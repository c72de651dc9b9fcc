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

// Server serves simulated OpenAI-compatible providers, each under
// /{name}/v1/. It is an http.Handler; see the package documentation for the
// paths, headers and behaviours. The zero Server serves no provider until
// SetProvider adds one.
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
	// Requests counts chat completion requests addressed to the provider,
	// whatever their outcome.
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
		var stats *counters
		if prev := m[p.Name]; prev != nil {
			stats = prev.stats
		}
		m[p.Name] = newProvider(p, stats)
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
	var stats *counters
	if prev := current[p.Name]; prev != nil {
		stats = prev.stats
	}
	next[p.Name] = newProvider(p, stats)
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

func newProvider(cfg config.MockProvider, stats *counters) *provider {
	if stats == nil {
		stats = &counters{}
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
	return &provider{cfg: cfg, fingerprint: string(fp), modelsBody: modelsBody(cfg.Name), stats: stats}
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

// ServeHTTP routes /{provider}/v1/chat/completions, /{provider}/v1/models,
// /{provider}/v1/models/{id} and /healthz.
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
	switch {
	case rest == "v1/chat/completions":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, http.MethodPost)
			return
		}
		s.chatCompletion(w, r, p)
	case rest == "v1/models":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet)
			return
		}
		if !authorized(w, r, p) {
			return
		}
		writeJSON(w, p.modelsBody)
	case strings.HasPrefix(rest, "v1/models/"):
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, http.MethodGet)
			return
		}
		if !authorized(w, r, p) {
			return
		}
		id := strings.TrimPrefix(rest, "v1/models/")
		for _, m := range modelIDs {
			if m.id == id {
				writeJSON(w, append(appendModel(nil, m.id, m.created, p.cfg.Name), '\n'))
				return
			}
		}
		writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model",
			message: "The model " + strconv.Quote(id) + " does not exist or you do not have access to it."})
	default:
		writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error",
			message: "Invalid URL (" + r.Method + " /" + rest + ")"})
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
		message: "Invalid method for URL (" + r.Method + " " + r.URL.Path + ")"})
}

func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	_, _ = w.Write(body)
}

var _ http.Handler = (*Server)(nil)
