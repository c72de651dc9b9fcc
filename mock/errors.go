package mock

import (
	"net/http"
	"strconv"
)

// apiError is an error answer. In OpenAI's shape it is
// {"error":{"message","type","param","code"}}, an empty param or code being
// written as null, as OpenAI does; Anthropic's and Gemini's shapes are
// derived from its status (see writeErrorAs).
type apiError struct {
	status  int
	typ     string
	code    string
	param   string
	message string
	// reason is Google's ErrorInfo reason (API_KEY_INVALID), for Gemini.
	reason string
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

// statusErrorAs is the error a provider of dialect d answers with for a
// forced or injected status code, in that provider's words.
func statusErrorAs(d dialect, status int) *apiError {
	switch d {
	case dialectAnthropic:
		return &apiError{status: status, message: anthropicStatusMessage(status)}
	case dialectGemini:
		return &apiError{status: status, message: geminiStatusMessage(status)}
	}
	return statusError(status)
}

// statusError is the error an OpenAI-compatible provider answers with for a
// forced or injected status code.
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
	headerJSONUTF8    = []string{"application/json; charset=UTF-8"}
	headerEventStream = []string{"text/event-stream; charset=utf-8"}
	headerNoCache     = []string{"no-cache"}
	headerRetryAfter  = []string{"1"}
)

// writeError writes e in OpenAI's shape. 429 answers carry Retry-After, as
// OpenAI's do.
func writeError(w http.ResponseWriter, e *apiError) { writeErrorAs(w, dialectOpenAI, e) }

// writeErrorAs writes e in the shape of dialect d:
//
//   - OpenAI: {"error":{"message","type","param","code"}}, Retry-After: 1
//     on 429;
//   - Anthropic: {"type":"error","error":{"type","message"}}, the type
//     following the status (400 invalid_request_error, 401
//     authentication_error, 403 permission_error, 404 not_found_error, 413
//     request_too_large, 429 rate_limit_error with retry-after: 1, 500
//     api_error, 529 overloaded_error, …);
//   - Gemini: {"error":{"code","message","status"}}, the status following
//     the code (400 INVALID_ARGUMENT, 403 PERMISSION_DENIED, 404 NOT_FOUND,
//     429 RESOURCE_EXHAUSTED with a RetryInfo detail, 500 INTERNAL, 503
//     UNAVAILABLE, …), and an ErrorInfo detail where Google sends one. A
//     body too large is 400 INVALID_ARGUMENT, as Google answers it.
func writeErrorAs(w http.ResponseWriter, d dialect, e *apiError) {
	bp := getBuffer()
	defer putBuffer(bp)
	status := e.status
	var b []byte
	h := w.Header()
	// Assigning shared slices (rather than Header.Set) keeps the error path
	// free of allocations; net/http only reads them.
	switch d {
	case dialectAnthropic:
		b = appendAnthropicError((*bp)[:0], e)
		h["Content-Type"] = headerJSON
	case dialectGemini:
		if status == http.StatusRequestEntityTooLarge {
			status = http.StatusBadRequest
		}
		b = appendGeminiError((*bp)[:0], status, e)
		h["Content-Type"] = headerJSONUTF8
	default:
		b = appendError((*bp)[:0], e)
		h["Content-Type"] = headerJSON
	}
	*bp = b
	if status == http.StatusTooManyRequests && d != dialectGemini {
		h["Retry-After"] = headerRetryAfter
	}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
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

// anthropicErrorType is Anthropic's error type for a status.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case statusOverloaded:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// statusOverloaded is Anthropic's 529, "overloaded": what its API answers
// when it fails for want of capacity.
const statusOverloaded = 529

func anthropicStatusMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Number of requests has exceeded your rate limit (https://docs.claude.com/en/api/rate-limits). Please try again later or contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
	case statusOverloaded:
		return "Overloaded"
	case http.StatusUnauthorized:
		return "invalid x-api-key"
	case http.StatusForbidden:
		return "Your API key does not have permission to use the specified resource."
	case http.StatusNotFound:
		return "The requested resource could not be found."
	case http.StatusGatewayTimeout:
		return "Request timed out."
	}
	if status >= 500 {
		return "Internal server error"
	}
	return "Simulated error (HTTP " + strconv.Itoa(status) + ")."
}

func appendAnthropicError(b []byte, e *apiError) []byte {
	b = append(b, `{"type":"error","error":{"type":"`...)
	b = append(b, anthropicErrorType(e.status)...)
	b = append(b, `","message":`...)
	b = appendString(b, e.message)
	return append(b, "}}\n"...)
}

// geminiStatus is Google's canonical status name for an HTTP status.
func geminiStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

func geminiStatusMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Resource has been exhausted (e.g. check quota)."
	case http.StatusServiceUnavailable:
		return "The model is overloaded. Please try again later."
	case http.StatusGatewayTimeout:
		return "Deadline expired before operation could complete."
	case http.StatusUnauthorized:
		return "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."
	case http.StatusForbidden:
		return "The caller does not have permission"
	case http.StatusNotFound:
		return "Requested entity was not found."
	case http.StatusBadRequest:
		return "Request contains an invalid argument."
	}
	if status >= 500 {
		return "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
	}
	return "Simulated error (HTTP " + strconv.Itoa(status) + ")."
}

func appendGeminiError(b []byte, status int, e *apiError) []byte {
	b = append(b, `{"error":{"code":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"message":`...)
	b = appendString(b, e.message)
	b = append(b, `,"status":"`...)
	b = append(b, geminiStatus(status)...)
	b = append(b, '"')
	switch {
	case e.reason != "":
		b = append(b, `,"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":`...)
		b = appendString(b, e.reason)
		b = append(b, `,"domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]`...)
	case status == http.StatusTooManyRequests:
		b = append(b, `,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"}]`...)
	}
	return append(b, "}}\n"...)
}
