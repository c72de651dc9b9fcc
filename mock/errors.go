package mock

import (
	"net/http"
	"strconv"
)

// apiError is an error answer in OpenAI's shape:
// {"error":{"message","type","param","code"}}. An empty param or code is
// written as null, as OpenAI does.
type apiError struct {
	status  int
	typ     string
	code    string
	param   string
	message string
}

func (e *apiError) Error() string { return e.message }

// OpenAI's own wording, so that clients that match on messages behave as they
// would against the real API.
const (
	msgServerError = "The server had an error while processing your request. Sorry about that!"
	msgOverloaded  = "That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists."
	msgRateLimited = "Rate limit reached for requests. Please try again in 1s."
	msgBadJSON     = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
	msgNoKey       = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
	// The real API echoes a masked key; the mock echoes nothing, so that no
	// key can leak into a log through it.
	msgBadKey = "Incorrect API key provided."
)

func badRequest(param, code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, code: code, message: message}
}

// statusError is the error a provider answers with for a forced or injected
// status code.
func statusError(status int) *apiError {
	switch {
	case status == http.StatusTooManyRequests:
		return &apiError{status: status, typ: "rate_limit_exceeded", code: "rate_limit_exceeded", message: msgRateLimited}
	case status == http.StatusServiceUnavailable:
		return &apiError{status: status, typ: "server_error", message: msgOverloaded}
	case status >= 500:
		return &apiError{status: status, typ: "server_error", message: msgServerError}
	case status == http.StatusUnauthorized:
		return &apiError{status: status, typ: "invalid_request_error", code: "invalid_api_key", message: msgBadKey}
	case status == http.StatusForbidden:
		return &apiError{status: status, typ: "invalid_request_error", code: "permission_denied", message: "You are not allowed to make this request."}
	case status == http.StatusNotFound:
		return &apiError{status: status, typ: "invalid_request_error", code: "model_not_found", message: "The model does not exist or you do not have access to it."}
	case status == http.StatusRequestTimeout:
		return &apiError{status: status, typ: "timeout", message: "Request timed out."}
	default:
		return &apiError{status: status, typ: "invalid_request_error", message: "Simulated error (HTTP " + strconv.Itoa(status) + ")."}
	}
}

var (
	headerJSON        = []string{"application/json"}
	headerEventStream = []string{"text/event-stream; charset=utf-8"}
	headerNoCache     = []string{"no-cache"}
	headerRetryAfter  = []string{"1"}
)

// writeError writes e. 429 answers carry Retry-After, as OpenAI's do.
func writeError(w http.ResponseWriter, e *apiError) {
	bp := getBuffer()
	defer putBuffer(bp)
	b := appendError((*bp)[:0], e)
	*bp = b

	h := w.Header()
	// Assigning shared slices (rather than Header.Set) keeps the error path
	// free of allocations; net/http only reads them.
	h["Content-Type"] = headerJSON
	if e.status == http.StatusTooManyRequests {
		h["Retry-After"] = headerRetryAfter
	}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

func appendError(b []byte, e *apiError) []byte {
	b = append(b, `{"error":{"message":`...)
	b = appendString(b, e.message)
	b = append(b, `,"type":`...)
	b = appendString(b, e.typ)
	b = append(b, `,"param":`...)
	b = appendStringOrNull(b, e.param)
	b = append(b, `,"code":`...)
	b = appendStringOrNull(b, e.code)
	return append(b, "}}\n"...)
}
