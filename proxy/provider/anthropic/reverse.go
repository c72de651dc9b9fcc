package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/proxy/provider"
)

// This file is the reverse direction: serving Anthropic's Messages API to
// Anthropic SDK clients from OpenAI-compatible upstreams.

// ErrInvalidRequest marks a Messages request that cannot be translated
// because it is malformed; errors that wrap provider.ErrUnsupported are
// valid requests that OpenAI's format cannot express.
var ErrInvalidRequest = errors.New("invalid Messages request")

func invalid(param, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRequest, param, fmt.Sprintf(format, args...))
}

// MessagesRequestToOpenAI translates a Messages request into an OpenAI chat
// completion request: system → a system message; text, image and PDF
// blocks → content parts; tool_use → tool_calls; tool_result → tool
// messages; tools, tool_choice, stop_sequences, max_tokens, temperature,
// top_p, metadata.user_id → user; stream → stream with
// stream_options.include_usage. Thinking blocks and the thinking, top_k and
// cache_control settings are dropped. Errors wrap ErrInvalidRequest or
// provider.ErrUnsupported.
func MessagesRequestToOpenAI(body []byte) ([]byte, error) {
	var in msgRequestIn
	if err := json.Unmarshal(body, &in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, invalid(typeErr.Field, "must be %s", jsonTypeName(typeErr.Type.Kind().String()))
		}
		return nil, invalid("body", "not valid JSON: %v", err)
	}
	out := chatRequestOut{
		Model:       in.Model,
		MaxTokens:   in.MaxTokens,
		Temperature: in.Temperature,
		TopP:        in.TopP,
		Stop:        in.StopSequences,
		Stream:      in.Stream,
	}
	if in.Stream {
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if in.Metadata != nil {
		out.User = in.Metadata.UserID
	}
	if kindOf(in.System) != 'n' {
		content, err := systemContent(in.System)
		if err != nil {
			return nil, err
		}
		if content != nil {
			out.Messages = append(out.Messages, chatMessage{Role: "system", Content: content})
		}
	}
	for i, m := range in.Messages {
		msgs, err := openAIMessages(m, "messages["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	for i, t := range in.Tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, fmt.Errorf("server tool %q: %w", t.Type, provider.ErrUnsupported)
		}
		if t.Name == "" {
			return nil, invalid("tools["+strconv.Itoa(i)+"].name", "is required")
		}
		out.Tools = append(out.Tools, chatTool{Type: "function", Function: chatFunction{Name: t.Name, Description: t.Description, Parameters: t.InputSchema}})
	}
	if c := in.ToolChoice; c != nil {
		switch c.Type {
		case "auto":
			out.ToolChoice = json.RawMessage(`"auto"`)
		case "any":
			out.ToolChoice = json.RawMessage(`"required"`)
		case "none":
			out.ToolChoice = json.RawMessage(`"none"`)
		case "tool":
			out.ToolChoice = functionChoice(c.Name)
		default:
			return nil, invalid("tool_choice.type", "unknown type %q", c.Type)
		}
		if c.DisableParallelToolUse && len(in.Tools) > 0 {
			f := false
			out.ParallelToolCalls = &f
		}
	}
	return marshal(&out)
}

// functionChoice is OpenAI's tool_choice naming one function.
func functionChoice(name string) json.RawMessage {
	raw, _ := marshal(struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}{Type: "function", Function: struct {
		Name string `json:"name"`
	}{name}})
	return raw
}

// systemContent is the system prompt as a string, or as text parts when it
// has several blocks. cache_control has no OpenAI equivalent.
func systemContent(raw json.RawMessage) (json.RawMessage, error) {
	if kindOf(raw) == '"' {
		if string(raw) == `""` {
			return nil, nil
		}
		return raw, nil
	}
	var blocks []msgBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, invalid("system", "must be a string or an array of text blocks")
	}
	var parts []chatPart
	for i, b := range blocks {
		if b.Type != "text" {
			return nil, invalid("system["+strconv.Itoa(i)+"].type", "must be text")
		}
		parts = append(parts, chatPart{Type: "text", Text: b.Text})
	}
	switch len(parts) {
	case 0:
		return nil, nil
	case 1:
		return marshalString(parts[0].Text), nil
	}
	return marshal(parts)
}

// openAIMessages translates one turn. A user turn's tool results become
// tool messages, which OpenAI wants right after the assistant's tool calls,
// so they come first; the rest of the turn follows as one user message.
func openAIMessages(m msgMessage, param string) ([]chatMessage, error) {
	if m.Role != "user" && m.Role != "assistant" {
		return nil, invalid(param+".role", "must be user or assistant")
	}
	switch kindOf(m.Content) {
	case '"':
		return []chatMessage{{Role: m.Role, Content: m.Content}}, nil
	case '[':
	default:
		return nil, invalid(param+".content", "must be a string or an array of blocks")
	}
	var blocks []msgBlock
	if err := json.Unmarshal(m.Content, &blocks); err != nil {
		return nil, invalid(param+".content", "must be a string or an array of blocks")
	}
	if m.Role == "assistant" {
		msg, err := assistantMessage(blocks, param)
		if err != nil {
			return nil, err
		}
		return []chatMessage{msg}, nil
	}
	var out []chatMessage
	var parts []chatPart
	for j, b := range blocks {
		pp := param + ".content[" + strconv.Itoa(j) + "]"
		if b.Type == "tool_result" {
			msg, images, err := toolMessage(b, pp)
			if err != nil {
				return nil, err
			}
			out = append(out, msg)
			parts = append(parts, images...)
			continue
		}
		part, ok, err := userPart(b, pp)
		if err != nil {
			return nil, err
		}
		if ok {
			parts = append(parts, part)
		}
	}
	if len(parts) > 0 || len(out) == 0 {
		if parts == nil {
			parts = []chatPart{}
		}
		raw, err := marshal(parts)
		if err != nil {
			return nil, invalid(param, "%v", err)
		}
		out = append(out, chatMessage{Role: "user", Content: raw})
	}
	return out, nil
}

// userPart translates a user block into a content part; ok is false for
// blocks that carry nothing for OpenAI (thinking).
func userPart(b msgBlock, param string) (chatPart, bool, error) {
	switch b.Type {
	case "text":
		return chatPart{Type: "text", Text: b.Text}, true, nil
	case "image":
		u, err := sourceURL(b.Source, param)
		if err != nil {
			return chatPart{}, false, err
		}
		raw, _ := marshal(chatImageURL{URL: u})
		return chatPart{Type: "image_url", ImageURL: raw}, true, nil
	case "document":
		if b.Source == nil {
			return chatPart{}, false, invalid(param+".source", "is required")
		}
		switch b.Source.Type {
		case "base64":
			return chatPart{Type: "file", File: &chatFile{FileData: "data:" + b.Source.MediaType + ";base64," + b.Source.Data, Filename: b.Title}}, true, nil
		case "text":
			return chatPart{Type: "text", Text: b.Source.Data}, true, nil
		}
		return chatPart{}, false, fmt.Errorf("document source %q: %w", b.Source.Type, provider.ErrUnsupported)
	case "thinking", "redacted_thinking":
		return chatPart{}, false, nil
	}
	return chatPart{}, false, fmt.Errorf("content block %q: %w", b.Type, provider.ErrUnsupported)
}

func sourceURL(src *msgSource, param string) (string, error) {
	if src == nil {
		return "", invalid(param+".source", "is required")
	}
	switch src.Type {
	case "base64":
		return "data:" + src.MediaType + ";base64," + src.Data, nil
	case "url":
		return src.URL, nil
	}
	return "", fmt.Errorf("image source %q: %w", src.Type, provider.ErrUnsupported)
}

// toolMessage translates a tool_result block. OpenAI's tool messages hold
// text only, so images in the result go to the user message that follows.
// is_error has no equivalent and is dropped.
func toolMessage(b msgBlock, param string) (chatMessage, []chatPart, error) {
	msg := chatMessage{Role: "tool", ToolCallID: b.ToolUseID, Content: json.RawMessage(`""`)}
	switch kindOf(b.Content) {
	case 'n':
		return msg, nil, nil
	case '"':
		msg.Content = b.Content
		return msg, nil, nil
	case '[':
	default:
		return msg, nil, invalid(param+".content", "must be a string or an array of blocks")
	}
	var inner []msgBlock
	if err := json.Unmarshal(b.Content, &inner); err != nil {
		return msg, nil, invalid(param+".content", "must be a string or an array of blocks")
	}
	texts := []chatPart{}
	var images []chatPart
	for k, ib := range inner {
		part, ok, err := userPart(ib, param+".content["+strconv.Itoa(k)+"]")
		if err != nil {
			return msg, nil, err
		}
		switch {
		case !ok:
		case part.Type == "text":
			texts = append(texts, part)
		default:
			images = append(images, part)
		}
	}
	raw, err := marshal(texts)
	if err != nil {
		return msg, nil, invalid(param, "%v", err)
	}
	msg.Content = raw
	return msg, images, nil
}

// assistantMessage translates an assistant turn: text blocks → content (a
// string when there is one), tool_use → tool_calls; thinking is dropped.
func assistantMessage(blocks []msgBlock, param string) (chatMessage, error) {
	msg := chatMessage{Role: "assistant"}
	var texts []chatPart
	for j, b := range blocks {
		switch b.Type {
		case "text":
			texts = append(texts, chatPart{Type: "text", Text: b.Text})
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, chatToolCall{ID: b.ID, Type: "function", Function: chatFunctionCall{Name: b.Name, Arguments: compactInput(b.Input)}})
		case "thinking", "redacted_thinking":
		default:
			return msg, fmt.Errorf("%s.content[%d]: assistant block %q: %w", param, j, b.Type, provider.ErrUnsupported)
		}
	}
	var err error
	switch len(texts) {
	case 0:
		msg.Content = json.RawMessage("null")
	case 1:
		msg.Content = marshalString(texts[0].Text)
	default:
		msg.Content, err = marshal(texts)
	}
	return msg, err
}

// OpenAIResponseToMessages translates an OpenAI chat.completion into a
// Messages response: reasoning (reasoning_content or reasoning) → a
// thinking block, content → a text block, a refusal → a text block with
// stop_reason "refusal", tool_calls → tool_use blocks (arguments must be a
// JSON object), finish_reason → stop_reason, and usage with the cache
// fields (input_tokens excludes cached and cache-write tokens). Only the
// first choice is used.
func OpenAIResponseToMessages(body []byte) ([]byte, error) {
	var c chatCompletionIn
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, err
	}
	if len(c.Choices) == 0 {
		return nil, errors.New("chat completion has no choices")
	}
	ch := c.Choices[0]
	for _, x := range c.Choices {
		if x.Index == 0 {
			ch = x
			break
		}
	}
	out := msgResponseOut{ID: c.ID, Type: "message", Role: "assistant", Model: c.Model, Content: []any{}}
	finish := ""
	if ch.FinishReason != nil {
		finish = *ch.FinishReason
	}
	out.StopReason = stopReason(finish)
	msg := ch.Message
	reasoning := msg.ReasoningContent
	if reasoning == nil {
		reasoning = msg.Reasoning
	}
	if reasoning != nil && *reasoning != "" {
		out.Content = append(out.Content, thinkingBlockOut{Type: "thinking", Thinking: *reasoning})
	}
	text, err := completionText(msg.Content)
	if err != nil {
		return nil, err
	}
	if text != "" {
		out.Content = append(out.Content, textBlockOut{Type: "text", Text: text})
	}
	if msg.Refusal != nil && *msg.Refusal != "" {
		out.Content = append(out.Content, textBlockOut{Type: "text", Text: *msg.Refusal})
		out.StopReason = "refusal"
	}
	for i, tc := range msg.ToolCalls {
		input, ok := argumentsInput(tc.Function.Arguments)
		if !ok {
			return nil, fmt.Errorf("tool call %d: arguments are not a JSON object", i)
		}
		out.Content = append(out.Content, toolUseBlockOut{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	if u := c.Usage; u != nil {
		var cached, written int64
		if d := u.PromptTokensDetails; d != nil {
			cached, written = d.CachedTokens, d.CacheWriteTokens
		}
		out.Usage = msgUsage{
			InputTokens:              max(u.PromptTokens-cached-written, 0),
			CacheCreationInputTokens: written,
			CacheReadInputTokens:     cached,
			OutputTokens:             u.CompletionTokens,
		}
	}
	return marshal(&out)
}

// completionText reads a message's content: a string, null, or (from some
// providers) text parts.
func completionText(raw json.RawMessage) (string, error) {
	switch kindOf(raw) {
	case 'n':
		return "", nil
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var parts []chatPart
		if err := json.Unmarshal(raw, &parts); err != nil {
			return "", err
		}
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String(), nil
	}
	return "", errors.New("message content is not a string")
}

// stopReason maps OpenAI's finish_reason to Anthropic's stop_reason.
// OpenAI does not say which stop sequence matched, so "stop" is end_turn.
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	default:
		return "end_turn"
	}
}

// OpenAIErrorToMessages translates an OpenAI-shaped error body (or any
// body) with its status into Anthropic's error shape,
// {"type":"error","error":{"type","message"}}, the type chosen by status
// as Anthropic's API does.
func OpenAIErrorToMessages(status int, body []byte) []byte {
	msg := openAIErrorMessage(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	if msg == "" {
		msg = "error"
	}
	return appendMessagesError(nil, anthropicErrorType(status), msg)
}

func openAIErrorMessage(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		switch kindOf(e.Error) {
		case '{':
			var inner struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(e.Error, &inner) == nil && inner.Message != "" {
				return inner.Message
			}
		case '"':
			var s string
			if json.Unmarshal(e.Error, &s) == nil && s != "" {
				return s
			}
		}
	}
	return clip(strings.TrimSpace(string(body)))
}

// anthropicErrorType is the error type Anthropic's API uses for a status.
func anthropicErrorType(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return "invalid_request_error"
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusPaymentRequired:
		return "billing_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return "timeout_error"
	case status == http.StatusServiceUnavailable || status == 529:
		return "overloaded_error"
	case status >= 400 && status < 500:
		return "invalid_request_error"
	}
	return "api_error"
}

func appendMessagesError(dst []byte, typ, message string) []byte {
	b, _ := marshal(struct {
		Type  string         `json:"type"`
		Error anthropicError `json:"error"`
	}{Type: "error", Error: anthropicError{Type: typ, Message: message}})
	return append(dst, b...)
}
