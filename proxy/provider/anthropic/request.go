package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/proxy/provider"
)

// defaultMaxTokens is max_tokens when the OpenAI request sets none:
// Anthropic requires it, OpenAI does not.
const defaultMaxTokens = 4096

// jsonToolDefault names the tool that carries response_format output when
// the format gives no usable name.
const jsonToolDefault = "json_response"

// requestError is an OpenAI request that cannot become a valid Messages
// request: the client's fault, answered with a 400 without calling
// Anthropic.
type requestError struct {
	param   string
	message string
}

func (e *requestError) Error() string {
	if e.param == "" {
		return e.message
	}
	return e.param + ": " + e.message
}

func badRequest(param, format string, args ...any) error {
	return &requestError{param: param, message: fmt.Sprintf(format, args...)}
}

// unsupported is a request that Anthropic cannot serve at all but another
// provider might: the proxy moves on to the next deployment.
func unsupported(what string) error {
	return fmt.Errorf("%s: %w", what, provider.ErrUnsupported)
}

// translatedRequest is a Messages request and what the response
// translation must know of the OpenAI request it came from.
type translatedRequest struct {
	body []byte
	// includeUsage is stream_options.include_usage: end the stream with a
	// usage chunk.
	includeUsage bool
	// jsonTool names the tool that stands for response_format; its input is
	// the message content. Empty when the request has no JSON format.
	jsonTool string
}

// chatToMessages translates an OpenAI chat completion request into a
// Messages request. Errors are *requestError (the request is invalid for
// Anthropic) or wrap provider.ErrUnsupported.
func chatToMessages(body []byte, stream bool) (translatedRequest, error) {
	var tr translatedRequest
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return tr, decodeError(err)
	}
	if req.N != nil && *req.N > 1 {
		return tr, unsupported("n > 1")
	}
	if req.Logprobs != nil && *req.Logprobs {
		return tr, unsupported("logprobs")
	}
	for _, m := range req.Modalities {
		if m == "audio" {
			return tr, unsupported("audio output")
		}
	}
	out := msgRequest{Model: req.Model, MaxTokens: defaultMaxTokens, Stream: stream, TopP: req.TopP, TopK: req.TopK}
	switch {
	case req.MaxCompletionTokens != nil:
		out.MaxTokens = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		out.MaxTokens = *req.MaxTokens
	}
	if t := req.Temperature; t != nil {
		// OpenAI's range is 0..2, Anthropic's 0..1: the most random stays
		// the most random rather than failing the request.
		v := min(*t, 1)
		out.Temperature = &v
	}
	if req.User != "" {
		out.Metadata = &msgMetadata{UserID: req.User}
	}
	var err error
	if out.StopSequences, err = stopSequences(req.Stop); err != nil {
		return tr, err
	}
	if out.System, out.Messages, err = translateMessages(req.Messages); err != nil {
		return tr, err
	}
	if out.Tools, out.ToolChoice, tr.jsonTool, err = translateTools(&req); err != nil {
		return tr, err
	}
	if tr.body, err = marshal(&out); err != nil {
		return tr, badRequest("", "%v", err)
	}
	tr.includeUsage = stream && req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	return tr, nil
}

// decodeError explains a request body that does not decode.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return badRequest(typeErr.Field, "must be %s, not %s", jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value)
	}
	return badRequest("", "request body is not valid JSON: %v", err)
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}

func stopSequences(raw json.RawMessage) ([]string, error) {
	switch kindOf(raw) {
	case 'n':
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest("stop", "must be a string or an array of strings")
		}
		return []string{s}, nil
	case '[':
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, badRequest("stop", "must be a string or an array of strings")
		}
		return list, nil
	}
	return nil, badRequest("stop", "must be a string or an array of strings")
}

// turn is a message being built; tool results from consecutive tool
// messages accumulate in one user turn, as Anthropic requires.
type turn struct {
	role        string
	text        *string // content given as a plain string
	blocks      []msgBlock
	toolResults bool
}

func translateMessages(msgs []chatMessage) (json.RawMessage, []msgMessage, error) {
	var system []msgBlock
	var turns []turn
	for i, m := range msgs {
		param := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			blocks, err := systemBlocks(m.Content, param+".content")
			if err != nil {
				return nil, nil, err
			}
			system = append(system, blocks...)
		case "user":
			t := turn{role: "user"}
			switch kindOf(m.Content) {
			case '"', 'n':
				s, err := stringContent(m.Content, param+".content")
				if err != nil {
					return nil, nil, err
				}
				t.text = &s
			default:
				blocks, err := contentBlocks(m.Content, param+".content", false)
				if err != nil {
					return nil, nil, err
				}
				t.blocks = blocks
			}
			if n := len(turns); n > 0 && turns[n-1].toolResults {
				// The turn that answers tool calls may go on with text:
				// one user turn, tool results first, keeps roles
				// alternating as Anthropic requires.
				prev := &turns[n-1]
				if t.text != nil && *t.text != "" {
					t.blocks = []msgBlock{{Type: "text", Text: *t.text}}
				}
				prev.blocks = append(prev.blocks, t.blocks...)
				prev.toolResults = false
				continue
			}
			turns = append(turns, t)
		case "assistant":
			t, err := assistantTurn(&m, param)
			if err != nil {
				return nil, nil, err
			}
			if len(t.blocks) > 0 || t.text != nil {
				turns = append(turns, t)
			}
		case "tool":
			block, err := toolResult(&m, param)
			if err != nil {
				return nil, nil, err
			}
			if n := len(turns); n > 0 && turns[n-1].toolResults {
				turns[n-1].blocks = append(turns[n-1].blocks, block)
			} else {
				turns = append(turns, turn{role: "user", blocks: []msgBlock{block}, toolResults: true})
			}
		case "function":
			return nil, nil, badRequest(param+".role", "the deprecated function role is not supported; use tool messages")
		default:
			return nil, nil, badRequest(param+".role", "unknown role %q", m.Role)
		}
	}
	out := make([]msgMessage, 0, len(turns))
	for _, t := range turns {
		var content any = t.blocks
		if t.text != nil {
			content = *t.text
		}
		raw, err := marshal(content)
		if err != nil {
			return nil, nil, badRequest("messages", "%v", err)
		}
		out = append(out, msgMessage{Role: t.role, Content: raw})
	}
	var sys json.RawMessage
	switch {
	case len(system) == 1 && system[0].CacheControl == nil:
		sys = marshalString(system[0].Text)
	case len(system) > 0:
		var err error
		if sys, err = marshal(system); err != nil {
			return nil, nil, badRequest("messages", "%v", err)
		}
	}
	return sys, out, nil
}

func stringContent(raw json.RawMessage, param string) (string, error) {
	if kindOf(raw) == 'n' {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest(param, "must be a string or an array of content parts")
	}
	return s, nil
}

func decodeParts(raw json.RawMessage, param string) ([]chatPart, error) {
	var parts []chatPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, badRequest(param, "must be a string or an array of content parts")
	}
	return parts, nil
}

// systemBlocks reads a system or developer message: text only.
func systemBlocks(raw json.RawMessage, param string) ([]msgBlock, error) {
	if k := kindOf(raw); k == '"' || k == 'n' {
		s, err := stringContent(raw, param)
		if err != nil || s == "" {
			return nil, err
		}
		return []msgBlock{{Type: "text", Text: s}}, nil
	}
	parts, err := decodeParts(raw, param)
	if err != nil {
		return nil, err
	}
	var blocks []msgBlock
	for j, p := range parts {
		if p.Type != "text" {
			return nil, badRequest(param+"["+strconv.Itoa(j)+"].type", "system messages hold text parts only")
		}
		if p.Text != "" {
			blocks = append(blocks, msgBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl})
		}
	}
	return blocks, nil
}

// contentBlocks translates an array of content parts. Empty text parts are
// dropped: Anthropic rejects empty text blocks.
func contentBlocks(raw json.RawMessage, param string, assistant bool) ([]msgBlock, error) {
	parts, err := decodeParts(raw, param)
	if err != nil {
		return nil, err
	}
	blocks := make([]msgBlock, 0, len(parts))
	for j, p := range parts {
		pp := param + "[" + strconv.Itoa(j) + "]"
		switch p.Type {
		case "text":
			if p.Text != "" {
				blocks = append(blocks, msgBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl})
			}
		case "refusal":
			if p.Refusal != "" {
				blocks = append(blocks, msgBlock{Type: "text", Text: p.Refusal, CacheControl: p.CacheControl})
			}
		case "image_url":
			if assistant {
				return nil, badRequest(pp+".type", "assistant messages cannot hold images")
			}
			src, err := imageSource(p.ImageURL, pp+".image_url")
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, msgBlock{Type: "image", Source: src, CacheControl: p.CacheControl})
		case "file":
			if assistant {
				return nil, badRequest(pp+".type", "assistant messages cannot hold files")
			}
			b, err := documentBlock(p.File, pp+".file")
			if err != nil {
				return nil, err
			}
			b.CacheControl = p.CacheControl
			blocks = append(blocks, b)
		case "input_audio":
			return nil, unsupported("audio input")
		default:
			return nil, badRequest(pp+".type", "unknown content part type %q", p.Type)
		}
	}
	return blocks, nil
}

// imageSource turns an image_url (a data: URL or an http(s) URL) into an
// image source.
func imageSource(raw json.RawMessage, param string) (*msgSource, error) {
	var img chatImageURL
	switch kindOf(raw) {
	case '"':
		if err := json.Unmarshal(raw, &img.URL); err != nil {
			return nil, badRequest(param, "must be an object with a url")
		}
	case '{':
		if err := json.Unmarshal(raw, &img); err != nil {
			return nil, badRequest(param, "must be an object with a url")
		}
	default:
		return nil, badRequest(param, "must be an object with a url")
	}
	u := img.URL
	switch {
	case hasPrefixFold(u, "data:"):
		mediaType, data, ok := parseDataURL(u)
		if !ok {
			return nil, badRequest(param+".url", "a data URL must be base64-encoded (data:<media type>;base64,<data>)")
		}
		return &msgSource{Type: "base64", MediaType: mediaType, Data: data}, nil
	case hasPrefixFold(u, "https://"), hasPrefixFold(u, "http://"):
		return &msgSource{Type: "url", URL: u}, nil
	}
	return nil, badRequest(param+".url", "must be an http(s) URL or a base64 data URL")
}

// documentBlock turns an OpenAI file part (inline file_data) into a
// document block. OpenAI file ids mean nothing to Anthropic.
func documentBlock(f *chatFile, param string) (msgBlock, error) {
	if f == nil || f.FileData == "" {
		if f != nil && f.FileID != "" {
			return msgBlock{}, unsupported("OpenAI file ids")
		}
		return msgBlock{}, badRequest(param, "needs file_data")
	}
	mediaType, data := "application/pdf", f.FileData
	if hasPrefixFold(data, "data:") {
		var ok bool
		if mediaType, data, ok = parseDataURL(data); !ok {
			return msgBlock{}, badRequest(param+".file_data", "a data URL must be base64-encoded")
		}
	}
	return msgBlock{Type: "document", Source: &msgSource{Type: "base64", MediaType: mediaType, Data: data}, Title: f.Filename}, nil
}

// parseDataURL splits data:<media type>[;params];base64,<data>.
func parseDataURL(u string) (mediaType, data string, ok bool) {
	header, data, found := strings.Cut(u[len("data:"):], ",")
	if !found {
		return "", "", false
	}
	params := strings.Split(header, ";")
	if len(params) < 2 || !strings.EqualFold(params[len(params)-1], "base64") {
		return "", "", false
	}
	mediaType = strings.ToLower(strings.TrimSpace(params[0]))
	if mediaType == "" {
		return "", "", false
	}
	return mediaType, data, true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// assistantTurn translates an assistant message: its text, then its tool
// calls as tool_use blocks.
func assistantTurn(m *chatMessage, param string) (turn, error) {
	t := turn{role: "assistant"}
	switch kindOf(m.Content) {
	case '"', 'n':
		s, err := stringContent(m.Content, param+".content")
		if err != nil {
			return t, err
		}
		if s == "" && m.Refusal != nil {
			s = *m.Refusal
		}
		if s != "" {
			if len(m.ToolCalls) == 0 {
				t.text = &s
				return t, nil
			}
			t.blocks = append(t.blocks, msgBlock{Type: "text", Text: s})
		}
	default:
		blocks, err := contentBlocks(m.Content, param+".content", true)
		if err != nil {
			return t, err
		}
		t.blocks = blocks
	}
	for j, tc := range m.ToolCalls {
		pp := param + ".tool_calls[" + strconv.Itoa(j) + "]"
		if tc.Type != "" && tc.Type != "function" {
			return t, unsupported("tool calls of type " + strconv.Quote(tc.Type))
		}
		if tc.ID == "" {
			return t, badRequest(pp+".id", "is required")
		}
		input, ok := argumentsInput(tc.Function.Arguments)
		if !ok {
			return t, badRequest(pp+".function.arguments", "must be a JSON object")
		}
		t.blocks = append(t.blocks, msgBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return t, nil
}

// argumentsInput turns a tool call's arguments (a JSON text) into a
// tool_use input, which must be an object.
func argumentsInput(args string) (json.RawMessage, bool) {
	trimmed := strings.TrimSpace(args)
	if trimmed == "" {
		return json.RawMessage("{}"), true
	}
	if trimmed[0] != '{' || !json.Valid([]byte(trimmed)) {
		return nil, false
	}
	return json.RawMessage(trimmed), true
}

// toolResult translates a tool message into a tool_result block.
func toolResult(m *chatMessage, param string) (msgBlock, error) {
	if m.ToolCallID == "" {
		return msgBlock{}, badRequest(param+".tool_call_id", "is required")
	}
	b := msgBlock{Type: "tool_result", ToolUseID: m.ToolCallID}
	switch kindOf(m.Content) {
	case '"', 'n':
		s, err := stringContent(m.Content, param+".content")
		if err != nil {
			return b, err
		}
		if s != "" {
			b.Content = marshalString(s)
		}
	default:
		blocks, err := contentBlocks(m.Content, param+".content", false)
		if err != nil {
			return b, err
		}
		if len(blocks) > 0 {
			raw, err := marshal(blocks)
			if err != nil {
				return b, badRequest(param, "%v", err)
			}
			b.Content = raw
		}
	}
	return b, nil
}

// toolName is what Anthropic accepts as a tool name.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// translateTools translates tools, tool_choice, parallel_tool_calls and
// response_format. A JSON response format becomes one more tool, whose
// input_schema is the format's schema, forced with tool_choice; its input
// is the answer, which the response translation turns back into content.
func translateTools(req *chatRequest) ([]msgTool, *msgToolChoice, string, error) {
	var tools []msgTool
	names := map[string]bool{}
	for i, t := range req.Tools {
		param := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "" && t.Type != "function" {
			return nil, nil, "", unsupported("tools of type " + strconv.Quote(t.Type))
		}
		if t.Function.Name == "" {
			return nil, nil, "", badRequest(param+".function.name", "is required")
		}
		schema, err := inputSchema(t.Function.Parameters, param+".function.parameters")
		if err != nil {
			return nil, nil, "", err
		}
		names[t.Function.Name] = true
		tools = append(tools, msgTool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema, CacheControl: t.CacheControl})
	}
	choice, err := toolChoice(req.ToolChoice)
	if err != nil {
		return nil, nil, "", err
	}

	jsonTool := ""
	if rf := req.ResponseFormat; rf != nil && rf.Type != "text" && rf.Type != "" {
		var schema json.RawMessage
		description := "Give your final answer by calling this tool: its input is the answer, a JSON object."
		switch rf.Type {
		case "json_object":
			jsonTool = jsonToolDefault
			schema = json.RawMessage(`{"type":"object"}`)
		case "json_schema":
			if rf.JSONSchema == nil {
				return nil, nil, "", badRequest("response_format.json_schema", "is required")
			}
			jsonTool = rf.JSONSchema.Name
			if !toolName.MatchString(jsonTool) {
				jsonTool = jsonToolDefault
			}
			if schema, err = inputSchema(rf.JSONSchema.Schema, "response_format.json_schema.schema"); err != nil {
				return nil, nil, "", err
			}
			if d := rf.JSONSchema.Description; d != "" {
				description += " " + d
			}
		default:
			return nil, nil, "", badRequest("response_format.type", "unknown type %q", rf.Type)
		}
		for names[jsonTool] {
			jsonTool += "_"
		}
		tools = append(tools, msgTool{Name: jsonTool, Description: description, InputSchema: schema})
		switch {
		case choice != nil && choice.Type == "tool":
			// The client asked for one of its tools by name: that comes first.
		case len(req.Tools) > 0 && (choice == nil || choice.Type != "none"):
			// Either one of the client's tools or the answer.
			choice = &msgToolChoice{Type: "any", DisableParallelToolUse: choice != nil && choice.DisableParallelToolUse}
		default:
			choice = &msgToolChoice{Type: "tool", Name: jsonTool}
		}
	}

	if len(tools) == 0 {
		return nil, nil, "", nil // a tool_choice without tools means nothing
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		if choice == nil {
			choice = &msgToolChoice{Type: "auto"}
		}
		if choice.Type != "none" {
			choice.DisableParallelToolUse = true
		}
	}
	return tools, choice, jsonTool, nil
}

// inputSchema returns a function's parameters as an input_schema, which
// Anthropic requires to be an object schema.
func inputSchema(raw json.RawMessage, param string) (json.RawMessage, error) {
	switch kindOf(raw) {
	case 'n':
		return json.RawMessage(`{"type":"object","properties":{}}`), nil
	case '{':
	default:
		return nil, badRequest(param, "must be a JSON Schema object")
	}
	raw = bytes.TrimSpace(raw)
	typ, err := jsonx.Get(raw, "type")
	if err != nil {
		return nil, badRequest(param, "must be a JSON Schema object")
	}
	if typ == nil {
		// OpenAI takes a schema without "type" as an object schema.
		return jsonx.Set(raw, "type", []byte(`"object"`))
	}
	return raw, nil
}

func toolChoice(raw json.RawMessage) (*msgToolChoice, error) {
	switch kindOf(raw) {
	case 'n':
		return nil, nil
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		switch s {
		case "auto":
			return &msgToolChoice{Type: "auto"}, nil
		case "none":
			return &msgToolChoice{Type: "none"}, nil
		case "required":
			return &msgToolChoice{Type: "any"}, nil
		}
		return nil, badRequest("tool_choice", "unknown value %q", s)
	case '{':
		var c struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, badRequest("tool_choice", "must be a string or a function choice")
		}
		switch c.Type {
		case "function":
			if c.Function.Name == "" {
				return nil, badRequest("tool_choice.function.name", "is required")
			}
			return &msgToolChoice{Type: "tool", Name: c.Function.Name}, nil
		case "allowed_tools", "custom":
			return nil, unsupported("tool_choice of type " + strconv.Quote(c.Type))
		}
		return nil, badRequest("tool_choice.type", "unknown type %q", c.Type)
	}
	return nil, badRequest("tool_choice", "must be a string or a function choice")
}
