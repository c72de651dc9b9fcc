package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

// messageToCompletion translates a Messages response into an OpenAI
// chat.completion. jsonTool is the tool that stands for response_format
// (see translateTools); created is the completion's Unix time.
func messageToCompletion(body []byte, jsonTool string, created int64) ([]byte, error) {
	var m msgResponse
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	if m.Type != "message" {
		return nil, errors.New("not a Messages response")
	}
	var text strings.Builder
	var toolCalls []chatToolCall
	answered := false // the JSON format tool was called
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			args := compactInput(b.Input)
			if jsonTool != "" && b.Name == jsonTool {
				if !answered {
					text.Reset() // the answer is the JSON alone
					text.WriteString(args)
					answered = true
				}
				continue
			}
			toolCalls = append(toolCalls, chatToolCall{ID: b.ID, Type: "function", Function: chatFunctionCall{Name: b.Name, Arguments: args}})
		}
		// thinking and redacted_thinking blocks, and server tool blocks,
		// have no place in a chat completion's message.
	}
	msg := chatRespMessage{Role: "assistant", ToolCalls: toolCalls}
	if text.Len() > 0 || len(toolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	stop := ""
	if m.StopReason != nil {
		stop = *m.StopReason
	}
	c := chatCompletion{
		ID:      m.ID,
		Object:  "chat.completion",
		Created: created,
		Model:   m.Model,
		Choices: []chatChoice{{Message: msg, FinishReason: finishReason(stop, len(toolCalls) > 0)}},
		Usage:   completionUsage(m.Usage),
	}
	return marshal(&c)
}

// compactInput renders a tool_use input as OpenAI's arguments string.
func compactInput(input json.RawMessage) string {
	if len(input) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, input); err != nil {
		return "{}"
	}
	return buf.String()
}

// finishReason maps a stop_reason to OpenAI's finish_reason. A tool_use
// stop with no tool call left (the JSON format tool only) is a plain stop.
func finishReason(stop string, toolCalls bool) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		if toolCalls {
			return "tool_calls"
		}
		return "stop"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}

// completionUsage follows OpenAI's convention: prompt_tokens includes the
// tokens read from and written to the cache, which Anthropic counts apart.
func completionUsage(u msgUsage) *chatUsage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	return &chatUsage{
		PromptTokens:     prompt,
		CompletionTokens: u.OutputTokens,
		TotalTokens:      prompt + u.OutputTokens,
		PromptTokensDetails: promptTokensDetails{
			CachedTokens:     u.CacheReadInputTokens,
			CacheWriteTokens: u.CacheCreationInputTokens,
		},
	}
}

// anthropicError is the error object of Anthropic's error bodies and
// stream error events.
type anthropicError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// errorToOpenAI translates an Anthropic error body,
// {"type":"error","error":{"type","message"}}, into OpenAI's error shape,
// with the Anthropic error type as the code. A body in no known shape (an
// HTML page from a load balancer) becomes the message.
func errorToOpenAI(status int, body []byte) []byte {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	var ae anthropicError
	if json.Unmarshal(body, &e) == nil && kindOf(e.Error) == '{' {
		_ = json.Unmarshal(e.Error, &ae)
	}
	if ae.Message == "" {
		ae.Message = clip(strings.TrimSpace(string(body)))
		if ae.Message == "" {
			ae.Message = http.StatusText(status)
		}
	}
	return appendOpenAIError(nil, ae, status)
}

// appendOpenAIError appends {"error":{"message","type","param":null,"code"}};
// status is the HTTP status, or 0 for a stream's error event.
func appendOpenAIError(dst []byte, ae anthropicError, status int) []byte {
	var code any
	if ae.Type != "" {
		code = ae.Type
	}
	b, _ := marshal(struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    any     `json:"code"`
		} `json:"error"`
	}{Error: struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    any     `json:"code"`
	}{Message: ae.Message, Type: openAIErrorType(ae.Type, status), Code: code}})
	return append(dst, b...)
}

// openAIErrorType is the OpenAI error.type for an Anthropic error type,
// or for the status when the type is unknown.
func openAIErrorType(anthropicType string, status int) string {
	switch anthropicType {
	case "invalid_request_error", "authentication_error", "permission_error", "rate_limit_error", "timeout_error":
		return anthropicType
	case "not_found_error", "request_too_large", "billing_error":
		return "invalid_request_error"
	case "api_error", "overloaded_error":
		return "api_error"
	}
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return "timeout_error"
	case status >= 400 && status < 500:
		return "invalid_request_error"
	}
	return "api_error"
}

// clip bounds a message taken from an unknown body.
func clip(s string) string {
	const max = 512
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
