package gemini

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/proxy/provider"
)

// requestError is a client request that cannot be sent as it is — not
// valid JSON, a tool message that answers no call. Send answers it with a
// 400 in OpenAI's shape, as a provider would, without calling Gemini.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// unsupported is a request that is valid but asks for something Gemini
// cannot do (audio output, a non-local schema reference, ...). It wraps
// provider.ErrUnsupported, so the proxy moves on to the next deployment.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("gemini: %w: "+format, append([]any{provider.ErrUnsupported}, args...)...)
}

// asBadRequest keeps an error that is already classified and otherwise
// reports what was wrong.
func asBadRequest(err error, what string) error {
	var re *requestError
	if errors.As(err, &re) || errors.Is(err, provider.ErrUnsupported) {
		return err
	}
	return badRequest("%s", what)
}

// maxErrorBody bounds the error body read from Gemini.
const maxErrorBody = 1 << 20

// canonicalStatus is google.rpc.Code's name for an HTTP status, for error
// bodies that do not say (a proxy's HTML page, an empty body).
func canonicalStatus(code int) string {
	switch code {
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
	case http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
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
	if code >= 500 {
		return "INTERNAL"
	}
	return "UNKNOWN"
}

// httpStatus is the HTTP status of a google.rpc.Code name, for errors that
// arrive inside a stream.
func httpStatus(status string, code int64) int {
	if code >= 400 && code <= 599 {
		return int(code)
	}
	switch status {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return http.StatusBadRequest
	case "UNAUTHENTICATED":
		return http.StatusUnauthorized
	case "PERMISSION_DENIED":
		return http.StatusForbidden
	case "NOT_FOUND":
		return http.StatusNotFound
	case "RESOURCE_EXHAUSTED":
		return http.StatusTooManyRequests
	case "UNAVAILABLE":
		return http.StatusServiceUnavailable
	case "DEADLINE_EXCEEDED":
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// openAIErrorType is OpenAI's error.type for an HTTP status.
func openAIErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return "timeout_error"
	}
	if status >= 500 {
		return "server_error"
	}
	return "invalid_request_error"
}

// errorBody writes OpenAI's error shape.
func errorBody(message, typ, code string) []byte {
	e := oaError{Error: oaErrorBody{Message: message, Type: typ}}
	if code != "" {
		e.Error.Code = &code
	}
	b, _ := marshal(e)
	return b
}

// parseGoogleError reads Google's error body, which is {"error": {...}}
// or, from the streaming method, that object inside an array.
func parseGoogleError(body []byte) (googleError, bool) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var first []byte
		_ = elements(body, func(v []byte) error {
			if first == nil {
				first = v
			}
			return nil
		})
		body = first
	}
	var ge googleError
	found := false
	err := members(body, func(key string, val []byte) error {
		if key == "error" && !isNull(val) {
			found = true
			return ge.decode(val)
		}
		return nil
	})
	return ge, err == nil && found
}

// convertError turns a Google error response into OpenAI's shape. The
// status is kept, but for a rejected API key: Google answers 400
// INVALID_ARGUMENT with reason API_KEY_INVALID, and the proxy must see 401
// to know that the fault is the provider key's, not the request's. The
// Retry-After to send is the upstream's header or else Google's RetryInfo
// delay, rounded up to whole seconds.
func convertError(status int, header http.Header, body []byte) (int, []byte, string) {
	retryAfter := header.Get("Retry-After")
	ge, ok := parseGoogleError(body)
	code, message := ge.Status, strings.TrimSpace(ge.Message)
	if ok {
		for _, d := range ge.Details {
			var typ, reason, delay string
			_ = members(d, func(key string, val []byte) error {
				switch key {
				case "@type":
					typ, _ = str(val)
				case "reason":
					reason, _ = str(val)
				case "retryDelay":
					delay, _ = str(val)
				}
				return nil
			})
			switch {
			case strings.HasSuffix(typ, "google.rpc.ErrorInfo") && reason == "API_KEY_INVALID" && status == http.StatusBadRequest:
				status = http.StatusUnauthorized
			case strings.HasSuffix(typ, "google.rpc.RetryInfo") && retryAfter == "":
				retryAfter = retrySeconds(delay)
			}
		}
	} else {
		message = strings.TrimSpace(string(body))
	}
	if code == "" {
		code = canonicalStatus(status)
	}
	if message == "" {
		message = http.StatusText(status)
	}
	return status, errorBody(clip(message), openAIErrorType(status), code), retryAfter
}

// retrySeconds turns a google.protobuf.Duration ("37s", "0.5s") into a
// Retry-After value.
func retrySeconds(d string) string {
	dur, err := time.ParseDuration(d)
	if err != nil || dur < 0 {
		return ""
	}
	return strconv.FormatInt(int64(math.Max(1, math.Ceil(dur.Seconds()))), 10)
}

// streamError is the OpenAI-shaped event for an error inside a Gemini
// stream, which the proxy turns into its error chunk.
func streamError(ge *googleError) []byte {
	status := httpStatus(ge.Status, ge.Code)
	code := ge.Status
	if code == "" {
		code = canonicalStatus(status)
	}
	msg := ge.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	return errorBody(clip(msg), openAIErrorType(status), code)
}

// errorResponse replaces a Gemini error response with OpenAI's shape.
func errorResponse(resp *http.Response) *http.Response {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	status, out, retryAfter := convertError(resp.StatusCode, resp.Header, body)
	return synthesized(resp, status, out, retryAfter)
}

// synthesized is a response with a body this package wrote, carrying over
// the upstream's headers but for those that described its own body.
func synthesized(resp *http.Response, status int, body []byte, retryAfter string) *http.Response {
	h := http.Header{}
	if resp != nil {
		h = resp.Header.Clone()
		h.Del("Content-Length")
		h.Del("Content-Encoding")
	}
	h.Set("Content-Type", "application/json")
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	out := &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	if resp != nil {
		out.Proto, out.ProtoMajor, out.ProtoMinor = resp.Proto, resp.ProtoMajor, resp.ProtoMinor
		out.Request, out.TLS = resp.Request, resp.TLS
	}
	return out
}

// clip bounds a message taken from an upstream body.
func clip(s string) string {
	const max = 2048
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
