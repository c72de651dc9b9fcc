package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The framing of a chat prompt, as OpenAI's cookbook counts it ("How to
// count tokens with tiktoken"): every message is wrapped in
// <|start|>{role}<|message|>{content}<|end|>, a name costs one more token,
// and the reply is primed with <|start|>assistant<|message|>.
const (
	tokensPerMessage     = 3
	tokensPerName        = 1
	tokensReplyPriming   = 3
	tokensPerToolCall    = 3 // the call's id and framing; not published, measured roughly
	legacyPerMessage0301 = 4 // gpt-3.5-turbo-0301 framed messages with 4 tokens
	legacyPerName0301    = -1

	// Images: OpenAI prices a high-detail image by 512 px tiles (85 + 170
	// per tile after scaling). The request holds no dimensions, so an image
	// is taken as 1024x1024 (four tiles) unless it asks for low detail.
	imageLowDetail  = 85
	imageHighDetail = 85 + 4*170
)

// Tool definitions are rendered by OpenAI into a TypeScript-like namespace
// before the messages. The cookbook's estimate of that rendering:
const (
	toolFuncInitO200K  = 7  // per function, o200k models
	toolFuncInitCL100K = 10 // per function, cl100k models
	toolPropInit       = 3  // once, when a function has properties
	toolPropKey        = 3  // per property
	toolEnumInit       = -3 // once per enum
	toolEnumItem       = 3  // per enum value
	toolFuncEnd        = 12 // once, after all functions
)

// ErrNotChatRequest is returned for a body that is not a JSON object.
var ErrNotChatRequest = errors.New("tokens: not a chat completions request")

type chatRequest struct {
	Messages       []chatMessage   `json:"messages"`
	Tools          []chatTool      `json:"tools"`
	Functions      []chatFunction  `json:"functions"`
	ResponseFormat *responseFormat `json:"response_format"`
}

type chatMessage struct {
	Role         string          `json:"role"`
	Name         string          `json:"name"`
	Content      json.RawMessage `json:"content"`
	Refusal      string          `json:"refusal"`
	ToolCalls    []chatToolCall  `json:"tool_calls"`
	FunctionCall *chatCall       `json:"function_call"`
}

type chatToolCall struct {
	Function chatCall `json:"function"`
}

type chatCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type contentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL *struct {
		Detail string `json:"detail"`
	} `json:"image_url"`
}

type chatTool struct {
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema"`
}

// jsonSchema is the part of a tool's parameters schema that the rendering
// spells out.
type jsonSchema struct {
	Type        any                        `json:"type"`
	Description string                     `json:"description"`
	Enum        []any                      `json:"enum"`
	Properties  map[string]json.RawMessage `json:"properties"`
}

// CountMessages estimates the prompt tokens of an OpenAI chat completions
// request body as OpenAI counts them: the messages with their framing,
// names, tool calls and images, the tool definitions, and a JSON schema
// response format. Models without a public tokenizer get the same framing
// over the generic estimate.
func CountMessages(model string, chatRequestBody []byte) (int, error) {
	return countMessages(model, chatRequestBody, EncodingFor(model).Count)
}

// countMessages counts with any counter of text, so that calibration can
// check the framing with a real BPE.
func countMessages(model string, chatRequestBody []byte, count func(string) int) (int, error) {
	body := bytes.TrimSpace(chatRequestBody)
	if len(body) == 0 || body[0] != '{' {
		return 0, ErrNotChatRequest
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotChatRequest, err)
	}
	enc := EncodingFor(model)
	perMessage, perName := tokensPerMessage, tokensPerName
	if strings.Contains(strings.ToLower(model), "gpt-3.5-turbo-0301") {
		perMessage, perName = legacyPerMessage0301, legacyPerName0301
	}

	n := tokensReplyPriming
	for _, m := range req.Messages {
		n += perMessage + count(m.Role) + contentTokens(count, model, m.Content) + count(m.Refusal)
		if m.Name != "" {
			n += perName + count(m.Name)
		}
		for _, call := range m.ToolCalls {
			n += tokensPerToolCall + count(call.Function.Name) + count(call.Function.Arguments)
		}
		if call := m.FunctionCall; call != nil {
			n += tokensPerToolCall + count(call.Name) + count(call.Arguments)
		}
	}

	functions := req.Functions
	for _, tool := range req.Tools {
		if tool.Type == "function" || tool.Type == "" {
			functions = append(functions, tool.Function)
		}
	}
	n += functionTokens(enc, count, functions)

	if rf := req.ResponseFormat; rf != nil && rf.JSONSchema != nil {
		// Rendered much like a tool; its JSON text is a fair measure.
		n += toolFuncEnd + count(rf.JSONSchema.Name) + count(string(rf.JSONSchema.Schema))
	}
	return n, nil
}

// contentTokens counts a message's content: a string, or an array of parts.
func contentTokens(count func(string) int, model string, raw json.RawMessage) int {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		return count(s)
	case '[':
		var parts []contentPart
		if json.Unmarshal(raw, &parts) != nil {
			return 0
		}
		n := 0
		for _, p := range parts {
			switch {
			case p.ImageURL != nil || p.Type == "image_url":
				n += imageTokens(model, p)
			default:
				n += count(p.Text) + count(p.Refusal)
			}
		}
		return n
	default:
		return 0
	}
}

// imageTokens estimates one image part. gpt-4o-mini bills images at
// 2,833 tokens per 85 of gpt-4o's, so that their price matches.
func imageTokens(model string, p contentPart) int {
	n := imageHighDetail
	if p.ImageURL != nil && p.ImageURL.Detail == "low" {
		n = imageLowDetail
	}
	if strings.Contains(strings.ToLower(model), "gpt-4o-mini") {
		n = n * 2833 / 85
	}
	return n
}

// functionTokens follows the cookbook's count of tool definitions.
// Properties nested deeper than the first level are counted as their JSON
// text, which the rendering roughly reproduces.
func functionTokens(enc Encoding, count func(string) int, functions []chatFunction) int {
	if len(functions) == 0 {
		return 0
	}
	funcInit := toolFuncInitCL100K
	if enc == O200K {
		funcInit = toolFuncInitO200K
	}
	n := 0
	for _, f := range functions {
		n += funcInit + count(f.Name+":"+strings.TrimSuffix(f.Description, "."))
		var params jsonSchema
		if len(f.Parameters) == 0 || json.Unmarshal(f.Parameters, &params) != nil || len(params.Properties) == 0 {
			continue
		}
		n += toolPropInit
		keys := make([]string, 0, len(params.Properties))
		for k := range params.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			n += toolPropKey
			var prop jsonSchema
			raw := params.Properties[key]
			if json.Unmarshal(raw, &prop) != nil {
				n += count(key + ":" + string(raw))
				continue
			}
			if len(prop.Enum) > 0 {
				n += toolEnumInit
				for _, item := range prop.Enum {
					n += toolEnumItem + count(fmt.Sprint(item))
				}
			}
			typ, _ := prop.Type.(string)
			n += count(key + ":" + typ + ":" + strings.TrimSuffix(prop.Description, "."))
			if len(prop.Properties) > 0 || typ == "array" {
				n += nestedSchemaTokens(count, raw)
			}
		}
	}
	return n + toolFuncEnd
}

// nestedSchemaTokens counts an object or array property's inner schema as
// its JSON text, without the description and type already counted.
func nestedSchemaTokens(count func(string) int, raw json.RawMessage) int {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return 0
	}
	n := 0
	for _, key := range []string{"properties", "items", "required"} {
		if v, ok := m[key]; ok {
			n += count(string(v))
		}
	}
	return n
}
