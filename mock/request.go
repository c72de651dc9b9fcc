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
// encoding/json skips every other field without building it. Raw schemas
// (rawJSON) alias the request body, which must outlive them.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	N                   *int64          `json:"n"`
	Logprobs            *bool           `json:"logprobs"`
	TopLogprobs         *int64          `json:"top_logprobs"`
	Seed                *int64          `json:"seed"` // accepted; the mock is deterministic anyway
	Stop                stopList        `json:"stop"`
	Tools               []chatTool      `json:"tools"`
	ToolChoice          *chatToolChoice `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	ResponseFormat      *responseFormat `json:"response_format"`
}

// maxChoices is the largest n OpenAI accepts.
const maxChoices = 128

// chatTool is one entry of tools: {"type":"function","function":{"name",
// "parameters"}}. Custom tools are accepted and never called.
type chatTool struct {
	Type     toolType      `json:"type"`
	Function *chatFunction `json:"function"`
}

type chatFunction struct {
	Name       *string `json:"name"`
	Parameters rawJSON `json:"parameters"`
}

type toolType uint8

const (
	toolTypeMissing toolType = iota
	toolTypeFunction
	toolTypeCustom
	toolTypeInvalid
)

func (t *toolType) UnmarshalJSON(raw []byte) error {
	switch string(raw) {
	case `"function"`:
		*t = toolTypeFunction
	case `"custom"`:
		*t = toolTypeCustom
	case "null":
		*t = toolTypeMissing
	default:
		if raw[0] != '"' {
			return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
		}
		*t = toolTypeInvalid
	}
	return nil
}

// rawJSON keeps a member's raw JSON without copying it: it aliases the
// body being decoded.
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		*r = nil
		return nil
	}
	*r = raw
	return nil
}

// chatToolChoice is tool_choice: "none", "auto", "required", or an object
// naming a function ({"type":"function","function":{"name"}}) or listing
// allowed tools ({"type":"allowed_tools","allowed_tools":{"mode","tools"}}).
type chatToolChoice struct {
	choice  toolChoice
	invalid string // an unknown string value, for the error
}

func (c *chatToolChoice) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		return nil
	case '"':
		switch string(raw) {
		case `"none"`:
			c.choice.mode = toolNone
		case `"auto"`:
			c.choice.mode = toolAuto
		case `"required"`:
			c.choice.mode = toolRequired
		default:
			c.invalid, _ = strconv.Unquote(string(raw))
			if c.invalid == "" {
				c.invalid = string(raw)
			}
		}
		return nil
	case '{':
		var obj struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
			AllowedTools struct {
				Mode  string     `json:"mode"`
				Tools []chatTool `json:"tools"`
			} `json:"allowed_tools"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return err
		}
		switch obj.Type {
		case "function":
			c.choice.mode, c.choice.name = toolNamed, obj.Function.Name
		case "allowed_tools":
			if obj.AllowedTools.Mode == "required" {
				c.choice.mode = toolRequired
			}
			for _, t := range obj.AllowedTools.Tools {
				if t.Function != nil && t.Function.Name != nil {
					c.choice.allowed = append(c.choice.allowed, *t.Function.Name)
				}
			}
		}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
}

// responseFormat is {"type":"text"|"json_object"|"json_schema",
// "json_schema":{"name","schema","strict"}}.
type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   *string `json:"name"`
		Schema rawJSON `json:"schema"`
	} `json:"json_schema"`
}

// stopList is stop: a string, an array of strings, or null.
type stopList []string

func (s *stopList) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		*s = nil
		return nil
	case '"':
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return err
		}
		*s = stopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return err
	}
	*s = many
	return nil
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
	roleSystem // the known roles, in the order of knownRoles
	roleDeveloper
	roleUser
	roleAssistant
	roleTool
	roleFunction
)

var knownRoles = [...]string{`"system"`, `"developer"`, `"user"`, `"assistant"`, `"tool"`, `"function"`}

func (r *role) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		*r = roleMissing
		return nil
	case '"':
		*r = roleInvalid
		for i, known := range knownRoles {
			if string(raw) == known {
				*r = roleSystem + role(i)
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
// its images. Other parts (audio, files) count nothing. It also records
// which of the words the simulation reacts to the text mentions.
type messageContent struct {
	textBytes int
	images    int
	mentions  mentions
}

type contentPart struct {
	Type partType `json:"type"`
	Text textInfo `json:"text"`
}

// mentions are the words in a text that the simulation reacts to.
type mentions uint8

const (
	mentionsCall mentions = 1 << iota // "call": the user asks for a tool call
	mentionsJSON                      // "json": OpenAI's json_object mode requires it
)

func mentionsIn(raw []byte) mentions {
	var m mentions
	if asksFor(raw, "call") {
		m |= mentionsCall
	}
	if asksFor(raw, "json") {
		m |= mentionsJSON
	}
	return m
}

func (c *messageContent) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		return nil
	case '"':
		c.textBytes = unquotedLen(raw)
		c.mentions = mentionsIn(raw)
		return nil
	case '[':
		var parts []contentPart
		if err := json.Unmarshal(raw, &parts); err != nil {
			return err
		}
		for _, p := range parts {
			switch p.Type {
			case partText:
				c.textBytes += p.Text.bytes
				c.mentions |= p.Text.mentions
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

// textInfo is the length in bytes of a decoded JSON string and what it
// mentions.
type textInfo struct {
	bytes    int
	mentions mentions
}

func (t *textInfo) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		*t = textInfo{}
	case '"':
		*t = textInfo{bytes: unquotedLen(raw), mentions: mentionsIn(raw)}
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

// decodeOpenAI decodes body into v, answering a body that is not JSON, or a
// member of the wrong type, as OpenAI does.
func decodeOpenAI(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
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
	return nil
}

// parseChatRequest decodes and validates body, answering what OpenAI answers
// to a malformed request.
func parseChatRequest(body []byte, req *chatRequest) *apiError {
	if aerr := decodeOpenAI(body, req); aerr != nil {
		return aerr
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
			return belowMin(limit.name, 1, *limit.value)
		}
	}
	if req.N != nil {
		if *req.N < 1 {
			return belowMin("n", 1, *req.N)
		}
		if *req.N > maxChoices {
			return aboveMax("n", maxChoices, *req.N)
		}
	}
	if req.TopLogprobs != nil {
		if *req.TopLogprobs < 0 {
			return belowMin("top_logprobs", 0, *req.TopLogprobs)
		}
		if *req.TopLogprobs > 20 {
			return aboveMax("top_logprobs", 20, *req.TopLogprobs)
		}
	}
	if len(req.Stop) > 4 {
		return badRequest("stop", "array_above_max_length", "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length "+strconv.Itoa(len(req.Stop))+" instead.")
	}
	if aerr := req.validateTools(); aerr != nil {
		return aerr
	}
	return req.validateResponseFormat()
}

func belowMin(param string, least, got int64) *apiError {
	return badRequest(param, "integer_below_min_value", "Invalid '"+param+"': integer below minimum value. Expected a value >= "+strconv.FormatInt(least, 10)+", but got "+strconv.FormatInt(got, 10)+" instead.")
}

func aboveMax(param string, most, got int64) *apiError {
	return badRequest(param, "integer_above_max_value", "Invalid '"+param+"': integer above maximum value. Expected a value <= "+strconv.FormatInt(most, 10)+", but got "+strconv.FormatInt(got, 10)+" instead.")
}

func (req *chatRequest) validateTools() *apiError {
	for i, t := range req.Tools {
		at := "tools[" + strconv.Itoa(i) + "]"
		switch t.Type {
		case toolTypeMissing:
			return badRequest(at+".type", "missing_required_parameter", "Missing required parameter: '"+at+".type'.")
		case toolTypeInvalid:
			return badRequest(at+".type", "invalid_value", "Invalid value for '"+at+".type': supported values are 'function' and 'custom'.")
		case toolTypeCustom:
			continue
		}
		if t.Function == nil {
			return badRequest(at+".function", "missing_required_parameter", "Missing required parameter: '"+at+".function'.")
		}
		if t.Function.Name == nil {
			return badRequest(at+".function.name", "missing_required_parameter", "Missing required parameter: '"+at+".function.name'.")
		}
		if !validFunctionName(*t.Function.Name) {
			return badRequest(at+".function.name", "invalid_value", "Invalid '"+at+".function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.")
		}
		if p := t.Function.Parameters; p != nil && p[0] != '{' {
			return badRequest(at+".function.parameters", "invalid_type", "Invalid type for '"+at+".function.parameters': expected an object, but got "+jsonKind(p)+" instead.")
		}
	}
	if req.ToolChoice == nil {
		return nil
	}
	tc := req.ToolChoice
	if tc.invalid != "" {
		return badRequest("tool_choice", "invalid_value", "Invalid value: '"+tc.invalid+"'. Supported values are: 'none', 'auto', and 'required'.")
	}
	if len(req.Tools) == 0 && (tc.choice.mode == toolRequired || tc.choice.mode == toolNamed) {
		return badRequest("tool_choice", "", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
	}
	if tc.choice.mode == toolNamed {
		for _, t := range req.Tools {
			if t.Function != nil && t.Function.Name != nil && *t.Function.Name == tc.choice.name {
				return nil
			}
		}
		return badRequest("tool_choice", "invalid_value", "Invalid value for 'tool_choice': no function named '"+tc.choice.name+"' in 'tools'.")
	}
	return nil
}

// validFunctionName is OpenAI's rule for function names:
// ^[a-zA-Z0-9_-]{1,64}$.
func validFunctionName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (req *chatRequest) validateResponseFormat() *apiError {
	rf := req.ResponseFormat
	if rf == nil {
		return nil
	}
	switch rf.Type {
	case "text":
	case "json_object":
		var m mentions
		for _, msg := range req.Messages {
			m |= msg.Content.mentions
		}
		if m&mentionsJSON == 0 {
			return badRequest("messages", "", "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
		}
	case "json_schema":
		if rf.JSONSchema == nil {
			return badRequest("response_format.json_schema", "missing_required_parameter", "Missing required parameter: 'response_format.json_schema'.")
		}
		if rf.JSONSchema.Name == nil {
			return badRequest("response_format.json_schema.name", "missing_required_parameter", "Missing required parameter: 'response_format.json_schema.name'.")
		}
	case "":
		return badRequest("response_format.type", "missing_required_parameter", "Missing required parameter: 'response_format.type'.")
	default:
		return badRequest("response_format.type", "invalid_value", "Invalid value: '"+rf.Type+"'. Supported values are: 'json_object', 'json_schema', and 'text'.")
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
// (rounded up) plus 85 per image, and every reply is primed with 3 more;
// toolTokens, what the tool definitions count, come first. cachedTokens
// follows OpenAI's prompt caching: prompts under 1,024 tokens are never
// cached; otherwise the tools and every message but the last (the
// conversation so far, a long system prompt) count as a cached prefix, in
// 1,024 + 128·k token steps. The last message is what is new, so it is
// never cached. Both depend on the request alone: the same request always
// counts the same.
func promptTokens(messages []chatMessage, toolTokens int) (prompt, cached int) {
	prompt = toolTokens
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

// toolTokens is what the function tools count in the prompt: their names
// and parameter schemas at 4 bytes a token, rounded up.
func (req *chatRequest) toolTokens() int {
	n := 0
	for _, t := range req.Tools {
		if t.Function != nil && t.Function.Name != nil {
			n += (len(*t.Function.Name) + len(t.Function.Parameters) + 3) / 4
		}
	}
	return n
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
