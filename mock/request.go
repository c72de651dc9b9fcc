package mock

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// maxRequestBytes bounds a request body; larger ones get 413.
const maxRequestBytes = 32 << 20

// chatRequest holds only what the mock needs from a chat completion request.
// encoding/json skips every other field without building it.
type chatRequest struct {
	Model               string         `json:"model"`
	Messages            []chatMessage  `json:"messages"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
	MaxTokens           *int64         `json:"max_tokens"`
	MaxCompletionTokens *int64         `json:"max_completion_tokens"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role    role           `json:"role"`
	Content messageContent `json:"content"`
}

// role is a message's role, decoded without allocating a string.
type role uint8

const (
	roleMissing role = iota
	roleInvalid
	roleKnown
)

var knownRoles = [...]string{`"system"`, `"developer"`, `"user"`, `"assistant"`, `"tool"`, `"function"`}

func (r *role) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		*r = roleMissing
		return nil
	case '"':
		*r = roleInvalid
		for _, known := range knownRoles {
			if string(raw) == known {
				*r = roleKnown
			}
		}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
}

// imageTokens is what one image part counts: OpenAI's price of a low-detail
// image.
const imageTokens = 85

// messageContent records what a message's content counts for: the bytes of
// its text, whether given as a string or as an array of content parts, and
// its images. Other parts (audio, files) count nothing.
type messageContent struct {
	textBytes int
	images    int
}

type contentPart struct {
	Type partType `json:"type"`
	Text textSize `json:"text"`
}

func (c *messageContent) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		return nil
	case '"':
		c.textBytes = unquotedLen(raw)
		return nil
	case '[':
		var parts []contentPart
		if err := json.Unmarshal(raw, &parts); err != nil {
			return err
		}
		for _, p := range parts {
			switch p.Type {
			case partText:
				c.textBytes += int(p.Text)
			case partImage:
				c.images++
			}
		}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
}

type partType uint8

const (
	partOther partType = iota
	partText
	partImage
)

func (t *partType) UnmarshalJSON(raw []byte) error {
	switch string(raw) {
	case `"text"`:
		*t = partText
	case `"image_url"`:
		*t = partImage
	default:
		*t = partOther
	}
	return nil
}

// textSize is the length in bytes of a decoded JSON string.
type textSize int

func (n *textSize) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		*n = 0
	case '"':
		*n = textSize(unquotedLen(raw))
	default:
		return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
	}
	return nil
}

// unquotedLen is the length in bytes of the UTF-8 string that the valid JSON
// string literal raw decodes to, computed without decoding it. Counting the
// decoded text (not the literal) keeps token counts the same whether or not a
// client, or a gateway in between, escapes "<" as \u003c.
func unquotedLen(raw []byte) int {
	n := 0
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				n++
				i++
				continue
			}
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				n += 3 // invalid UTF-8 decodes to U+FFFD
			} else {
				n += size
			}
			i += size
			continue
		}
		if i+1 < len(s) && s[i+1] == 'u' && i+6 <= len(s) {
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16IsHighSurrogate(r) && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if lo := hex4(s[i+2 : i+6]); lo >= 0xdc00 && lo < 0xe000 {
					n += 4
					i += 6
					continue
				}
			}
			if r >= 0xd800 && r < 0xe000 { // lone surrogate decodes to U+FFFD
				n += 3
			} else {
				n += utf8.RuneLen(r)
			}
			continue
		}
		n++
		i += 2
	}
	return n
}

func utf16IsHighSurrogate(r rune) bool { return r >= 0xd800 && r < 0xdc00 }

func hex4(s []byte) rune {
	var r rune
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return utf8.RuneError
		}
		r = r<<4 | rune(c)
	}
	return r
}

func jsonKind(raw []byte) string {
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// readBody reads r's body into buf, growing it as needed. It answers 413 for
// bodies over maxRequestBytes.
func readBody(r *http.Request, buf []byte) ([]byte, *apiError) {
	if r.ContentLength > maxRequestBytes {
		return buf, tooLarge()
	}
	if r.Body == nil { // a Request built by hand rather than by net/http
		return buf, nil
	}
	if n := int(r.ContentLength); n > 0 && cap(buf) < n+1 {
		// One more than the body so that the final read sees io.EOF without
		// growing again.
		buf = make([]byte, 0, n+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxRequestBytes {
			return buf, tooLarge()
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, badRequest("", "", "Could not read the request body: "+err.Error())
		}
	}
}

func tooLarge() *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error",
		message: "The request body is larger than " + strconv.Itoa(maxRequestBytes>>20) + " MiB."}
}

// parseChatRequest decodes and validates body, answering what OpenAI answers
// to a malformed request.
func parseChatRequest(body []byte, req *chatRequest) *apiError {
	if err := json.Unmarshal(body, req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if field == "" {
				return badRequest("", "", "The request body must be a JSON object.")
			}
			return badRequest(field, "invalid_type", "Invalid type for '"+field+"': expected "+expectedKind(typeErr.Type)+", but got "+typeErr.Value+" instead.")
		}
		return badRequest("", "", msgBadJSON)
	}
	if req.Model == "" {
		return badRequest("model", "missing_required_parameter", "you must provide a model parameter")
	}
	if req.Messages == nil {
		return badRequest("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	}
	if len(req.Messages) == 0 {
		return badRequest("messages", "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case roleMissing:
			param := "messages[" + strconv.Itoa(i) + "].role"
			return badRequest(param, "missing_required_parameter", "Missing required parameter: '"+param+"'.")
		case roleInvalid:
			param := "messages[" + strconv.Itoa(i) + "].role"
			return badRequest(param, "invalid_value", "Invalid value for '"+param+"'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.")
		}
	}
	for _, limit := range [...]struct {
		name  string
		value *int64
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if limit.value != nil && *limit.value < 1 {
			return badRequest(limit.name, "integer_below_min_value", "Invalid '"+limit.name+"': integer below minimum value. Expected a value >= 1, but got "+strconv.FormatInt(*limit.value, 10)+" instead.")
		}
	}
	return nil
}

func expectedKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// promptTokens counts the prompt the way OpenAI's cookbook estimates it:
// each message costs 4 tokens of framing plus its text at 4 bytes a token
// (rounded up) plus 85 per image, and every reply is primed with 3 more.
// cachedTokens follows OpenAI's prompt caching: prompts under 1,024 tokens
// are never cached; otherwise every message but the last (the conversation so
// far, a long system prompt) counts as a cached prefix, in 1,024 + 128·k
// token steps. The last message is what is new, so it is never cached. Both
// depend on the request alone: the same request always counts the same.
func promptTokens(messages []chatMessage) (prompt, cached int) {
	prefix := 0
	for i, m := range messages {
		if i == len(messages)-1 {
			prefix = prompt
		}
		prompt += 4 + (m.Content.textBytes+3)/4 + imageTokens*m.Content.images
	}
	prompt += 3
	if prompt >= 1024 && prefix >= 1024 {
		cached = 1024 + (prefix-1024)/128*128
	}
	return prompt, cached
}

// limit is the smaller of max_tokens and max_completion_tokens, or -1.
func (req *chatRequest) limit() int64 {
	limit := int64(-1)
	for _, v := range [...]*int64{req.MaxTokens, req.MaxCompletionTokens} {
		if v != nil && (limit < 0 || *v < limit) {
			limit = *v
		}
	}
	return limit
}

func (req *chatRequest) includeUsage() bool {
	return req.StreamOptions != nil && req.StreamOptions.IncludeUsage
}
