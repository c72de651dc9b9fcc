// Package proxy is Switchyard's gateway: the gin server that authenticates
// clients, routes each request to a provider deployment (falling back on
// failure), relays the response — streamed or not — and hands one record per
// request to a Sink without ever making the client wait on it.
//
// Provider wire formats live in proxy/provider/...; deployment choice lives
// in proxy/route. This package must not import ClickHouse code.
package proxy

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/proxy/provider/anthropic"
	"github.com/switchyard/switchyard/proxy/provider/gemini"
	"github.com/switchyard/switchyard/proxy/provider/openai"
	"github.com/switchyard/switchyard/proxy/route"
)

// Options are the parts a Server is built from; cmd/switchyard wires them.
type Options struct {
	Config    *config.Proxy
	Keys      *keys.Set
	Router    *route.Router
	Upstreams map[string]provider.Adapter
	// Providers are the configured providers (for their per-provider
	// policies: client keys, data collection).
	Providers []config.Provider
	Sink      Sink
	Logger    *slog.Logger
	Metrics   *Metrics
	// MetricsHandler, when set, is served at GET /metrics.
	MetricsHandler http.Handler
}

// Server is the proxy's HTTP handler.
type Server struct {
	cfg       *config.Proxy
	keys      *keys.Set
	router    *route.Router
	upstreams map[string]provider.Adapter
	byok      map[string]bool // providers that accept a client's own key
	// providerTypes maps provider names to their wire formats;
	// providerOrder is their config order.
	providerTypes map[string]string
	providerOrder []string
	sink          Sink
	log           *slog.Logger
	metrics       *Metrics
	engine        *gin.Engine
	bufs          sync.Pool
}

// New builds the server and its routes.
func New(o Options) *Server {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{
		cfg:       o.Config,
		keys:      o.Keys,
		router:    o.Router,
		upstreams: o.Upstreams,
		sink:      o.Sink,
		log:       o.Logger,
		metrics:   o.Metrics,
		byok:      map[string]bool{},

		providerTypes: map[string]string{},
	}
	for _, p := range o.Providers {
		s.byok[p.Name] = p.AllowClientKey
		s.providerTypes[p.Name] = p.Type
		s.providerOrder = append(s.providerOrder, p.Name)
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(nil)
	}
	s.bufs.New = func() any { b := make([]byte, 0, 16<<10); return &b }

	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(s.recoverPanics)
	e.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	if o.MetricsHandler != nil {
		e.GET("/metrics", gin.WrapH(o.MetricsHandler))
	}
	v1 := e.Group("/v1", s.authenticate)
	v1.POST("/chat/completions", s.serve(kindChat))
	v1.POST("/completions", s.serve(kindCompletions))
	v1.POST("/embeddings", s.serve(kindEmbeddings))
	v1.POST("/rerank", s.serve(kindRerank))
	v1.GET("/models", s.listModels)
	v1.GET("/models/*model", s.modelOrEndpoints) // model ids may hold slashes
	v1.GET("/route/explain", s.explainRoute)
	e.POST("/anthropic/v1/messages", s.authenticateAnthropic, s.messages)
	e.Any("/openai/v1/*path", s.authenticate, s.openaiPassthrough)
	e.NoRoute(func(c *gin.Context) {
		s.writeError(c, nil, &apiError{class: errNotFound, message: "no route for " + c.Request.Method + " " + c.Request.URL.Path})
	})
	e.NoMethod(func(c *gin.Context) {
		s.writeError(c, nil, &apiError{class: errMethodNotAllowed, message: c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})
	s.engine = e
	return s
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// HTTPServer returns an http.Server for the proxy: no write timeout (streams
// last as long as the model talks), bounded header reads and idle time.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// NewTransport returns the upstream HTTP transport: pooled keep-alive
// connections, the configured connect and first-byte timeouts, and no
// transparent decompression (bodies are relayed as they come).
func NewTransport(cfg *config.Proxy) *http.Transport {
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.FirstByteTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

const keyContext = "switchyard.key"

// authenticate accepts the client key from "Authorization: Bearer".
func (s *Server) authenticate(c *gin.Context) {
	k, ok := s.keys.Lookup(keys.Bearer(c.GetHeader("Authorization")))
	if !ok {
		s.metrics.unauthorized.Inc()
		s.writeError(c, nil, &apiError{class: errUnauthorized, message: "missing or invalid API key (send Authorization: Bearer <key>)"})
		c.Abort()
		return
	}
	c.Set(keyContext, k)
}

func keyOf(c *gin.Context) *keys.Key {
	v, _ := c.Get(keyContext)
	k, _ := v.(*keys.Key)
	return k
}

// recoverPanics turns a panic in a handler into a 500 in OpenAI's shape and
// a log line, instead of a dropped connection. A panic is always our bug.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in handler", "path", c.Request.URL.Path, "panic", v)
			if !c.Writer.Written() {
				s.writeError(c, nil, &apiError{class: errInternal, message: "internal error"})
			}
			c.Abort()
		}
	}()
	c.Next()
}

// NewAdapters builds the adapter of every configured provider for its wire
// format, all sending through hc.
func NewAdapters(providers []config.Provider, hc *http.Client, userAgent string) (map[string]provider.Adapter, error) {
	out := make(map[string]provider.Adapter, len(providers))
	for _, p := range providers {
		switch p.Type {
		case config.ProviderOpenAI, config.ProviderAzure:
			out[p.Name] = openai.New(p, hc, userAgent)
		case config.ProviderAnthropic:
			out[p.Name] = anthropic.New(p, hc, userAgent)
		case config.ProviderGemini:
			out[p.Name] = gemini.New(p, hc, userAgent)
		default:
			return nil, fmt.Errorf("provider %s: unsupported type %q", p.Name, p.Type)
		}
	}
	return out, nil
}
