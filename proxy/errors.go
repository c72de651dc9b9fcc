package proxy

import (
	"net/http"
	"strconv"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/record"
)

// errorClass is one row of the classification table: every error the proxy
// returns is one of these, so a status code, an OpenAI error type and a
// stable error_type always go together.
type errorClass struct {
	status    int
	errorType string // stable, in records and error metadata
	oaiType   string // OpenAI's error.type
	outcome   string // record outcome
}

var (
	errInvalidJSON       = errorClass{http.StatusBadRequest, "invalid_json", "invalid_request_error", record.OutcomeError}
	errInvalidRequest    = errorClass{http.StatusBadRequest, "invalid_request", "invalid_request_error", record.OutcomeError}
	errUpstreamRejected  = errorClass{http.StatusBadRequest, "upstream_rejected", "invalid_request_error", record.OutcomeError}
	errContextLength     = errorClass{http.StatusBadRequest, "context_length_exceeded", "invalid_request_error", record.OutcomeError}
	errContentPolicy     = errorClass{http.StatusBadRequest, "content_policy", "invalid_request_error", record.OutcomeError}
	errProviderAuth      = errorClass{http.StatusBadGateway, "provider_auth", "api_error", record.OutcomeError}
	errOverloaded        = errorClass{http.StatusServiceUnavailable, "overloaded", "api_error", record.OutcomeError}
	errUnauthorized      = errorClass{http.StatusUnauthorized, "unauthorized", "authentication_error", record.OutcomeError}
	errNotFound          = errorClass{http.StatusNotFound, "not_found", "invalid_request_error", record.OutcomeError}
	errModelNotFound     = errorClass{http.StatusNotFound, "model_not_found", "invalid_request_error", record.OutcomeError}
	errMethodNotAllowed  = errorClass{http.StatusMethodNotAllowed, "method_not_allowed", "invalid_request_error", record.OutcomeError}
	errBodyTooLarge      = errorClass{http.StatusRequestEntityTooLarge, "body_too_large", "invalid_request_error", record.OutcomeError}
	errRateLimited       = errorClass{http.StatusTooManyRequests, "rate_limited", "rate_limit_error", record.OutcomeRateLimited}
	errUpstream          = errorClass{http.StatusBadGateway, "upstream_error", "api_error", record.OutcomeError}
	errUpstreamMalformed = errorClass{http.StatusBadGateway, "upstream_malformed", "api_error", record.OutcomeError}
	errNoProvider        = errorClass{http.StatusServiceUnavailable, "no_provider", "api_error", record.OutcomeError}
	errTimeout           = errorClass{http.StatusGatewayTimeout, "timeout", "timeout_error", record.OutcomeTimeout}
	errCanceled          = errorClass{499, "canceled", "api_error", record.OutcomeCanceled}
	errInternal          = errorClass{http.StatusInternalServerError, "internal_error", "api_error", record.OutcomeError}
)

// apiError is an error on its way to the client.
type apiError struct {
	class      errorClass
	message    string
	param      string
	retryAfter string
}

// appendErrorBody appends the OpenAI error shape plus Switchyard's metadata.
func appendErrorBody(dst []byte, e *apiError, requestID string, attempts []record.Attempt) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = jsonx.AppendString(dst, e.message)
	dst = append(dst, `,"type":`...)
	dst = jsonx.AppendString(dst, e.class.oaiType)
	dst = append(dst, `,"param":`...)
	if e.param == "" {
		dst = append(dst, "null"...)
	} else {
		dst = jsonx.AppendString(dst, e.param)
	}
	dst = append(dst, `,"code":`...)
	dst = jsonx.AppendString(dst, e.class.errorType)
	dst = append(dst, `,"metadata":{"error_type":`...)
	dst = jsonx.AppendString(dst, e.class.errorType)
	if requestID != "" {
		dst = append(dst, `,"request_id":`...)
		dst = jsonx.AppendString(dst, requestID)
	}
	dst = append(dst, `,"attempts":[`...)
	for i, a := range attempts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"provider":`...)
		dst = jsonx.AppendString(dst, a.Provider)
		dst = append(dst, `,"model":`...)
		dst = jsonx.AppendString(dst, a.Model)
		dst = append(dst, `,"status_code":`...)
		dst = strconv.AppendInt(dst, int64(a.StatusCode), 10)
		dst = append(dst, `,"latency_ms":`...)
		dst = strconv.AppendInt(dst, a.LatencyMs, 10)
		dst = append(dst, `,"error_type":`...)
		dst = jsonx.AppendString(dst, a.ErrorType)
		dst = append(dst, '}')
	}
	return append(dst, "]}}}"...)
}

func (e *apiError) Error() string { return e.class.errorType + ": " + e.message }
