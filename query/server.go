// Package query is Switchyard's HTTP query API over ClickHouse: request
// records by id and by filter, traces, spend. Its JSON types are what the
// Grafana plugin consumes. Every endpoint but /healthz requires a client
// key, and a key that is not an admin key sees only its own team's data.
//
// This package must not import the proxy or Kafka code.
package query

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/keys"
)

//go:embed openapi.json
var openAPISpec []byte

// Server serves the query API.
type Server struct {
	conn    driver.Conn
	keys    *keys.Set
	cfg     config.Query
	log     *slog.Logger
	mux     *http.ServeMux
	timeout time.Duration
}

// New returns the query API over conn.
func New(conn driver.Conn, ks *keys.Set, cfg config.Query, log *slog.Logger) *Server {
	s := &Server{conn: conn, keys: ks, cfg: cfg, log: log, mux: http.NewServeMux(), timeout: 30 * time.Second}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /v1/requests/{id}", s.authed(s.getRequest))
	s.mux.Handle("GET /v1/requests", s.authed(s.listRequests))
	s.mux.Handle("GET /v1/traces/{id}", s.authed(s.getTrace))
	s.mux.Handle("GET /v1/spend", s.authed(s.getSpend))
	s.mux.Handle("GET /v1/stats/providers", s.authed(s.getProviderStats))
	s.mux.Handle("GET /openapi.json", s.authed(func(w http.ResponseWriter, r *http.Request, _ *keys.Key) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPISpec)
	}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no route for "+r.Method+" "+r.URL.Path)
	})
	return s
}

// Handler returns the API's handler (with /metrics added by the caller).
func (s *Server) Handler() http.Handler { return s.mux }

// Mux exposes the mux so that cmd can add /metrics.
func (s *Server) Mux() *http.ServeMux { return s.mux }

type handlerFunc func(w http.ResponseWriter, r *http.Request, k *keys.Key)

func (s *Server) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := s.keys.Lookup(keys.Bearer(r.Header.Get("Authorization")))
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid API key (send Authorization: Bearer <key>)")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		h(w, r.WithContext(ctx), k)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.conn.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "database_unavailable", "clickhouse: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

// scope limits a query to what the key may see.
func scope(w *whereClause, k *keys.Key) {
	switch {
	case k.Admin:
	case k.Team != "":
		w.add("team = ?", k.Team)
	default:
		w.add("key_id = ?", k.ID)
	}
}

// errorBody is the query API's error shape, the same as the proxy's.
type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    string  `json:"code"`
		Param   *string `json:"param"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Message, b.Error.Code = message, code
	switch {
	case status == http.StatusUnauthorized:
		b.Error.Type = "authentication_error"
	case status < 500:
		b.Error.Type = "invalid_request_error"
	default:
		b.Error.Type = "api_error"
	}
	writeJSON(w, status, &b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// dbError answers a failed database call: a timeout or an unreachable
// server is 503 (retry later), never 500.
func (s *Server) dbError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(r.Context().Err(), context.Canceled) {
		return
	}
	s.log.Warn("query failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusServiceUnavailable, "database_unavailable", "the database did not answer: "+err.Error())
}
