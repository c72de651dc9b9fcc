package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// translateResponse turns a generateContent response into a
// chat.completion.
func translateResponse(body []byte, opts chatOptions, e env) ([]byte, error) {
	var r generateResponse
	if err := r.decode(body); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, errors.New("the response is an error")
	}
	cc := chatCompletion{
		ID:      chatID(r.ResponseID, e),
		Object:  "chat.completion",
		Created: e.now().Unix(),
		Model:   modelName(r.ModelVersion, opts.model),
		Choices: []chatChoice{},
	}
	if len(r.Candidates) == 0 {
		// The prompt was blocked: Gemini answers 200 with promptFeedback and
		// no candidates. That is a completion that the filter ended, as it
		// is in a stream, where the 200 has been sent before anyone knows.
		cc.Choices = append(cc.Choices, chatChoice{
			Message:      chatResponse{Role: "assistant", Content: ptr("")},
			FinishReason: blockedFinish(r.PromptFeedback),
		})
	}
	for i, c := range r.Candidates {
		m := messageOf(c.Content.Parts, e)
		for j := range m.calls {
			m.calls[j].Index = nil // only stream deltas number their calls
		}
		msg := chatResponse{Role: "assistant", Content: m.content(), ToolCalls: m.calls, Images: m.images}
		if m.reasoning.Len() > 0 {
			msg.Reasoning = ptr(m.reasoning.String())
		}
		index := int64(i)
		if c.hasIndex {
			index = c.Index
		}
		cc.Choices = append(cc.Choices, chatChoice{
			Index:        index,
			Message:      msg,
			Logprobs:     openAILogprobs(c.LogprobsResult),
			FinishReason: finishReason(c.FinishReason, len(m.calls) > 0),
		})
	}
	if r.UsageMetadata != nil {
		cc.Usage = openAIUsage(r.UsageMetadata)
	}
	return marshal(cc)
}

func chatID(responseID string, e env) string {
	if responseID == "" {
		responseID = e.newID()
	}
	return "chatcmpl-" + responseID
}

// modelName is the model a response reports: Gemini's modelVersion, or the
// requested model when it sends none.
func modelName(version, requested string) string {
	if version != "" {
		return strings.TrimPrefix(version, "models/")
	}
	return requested
}

// message is what a candidate's parts (or one stream event's) say in
// OpenAI's terms.
type message struct {
	text      strings.Builder
	hasText   bool
	reasoning strings.Builder
	calls     []chatToolCall
	images    []outputImage
}

// messageOf reads a candidate's parts: text parts are joined into the
// content; thought parts into the reasoning, never the content;
// functionCall parts become tool calls; inline images become OpenRouter's
// images. Other parts (executable code and its results) are not
// translated.
func messageOf(parts []part, e env) *message {
	m := &message{}
	for _, p := range parts {
		switch {
		case p.FunctionCall != nil:
			m.calls = append(m.calls, toolCallOf(p, len(m.calls), e))
		case p.Thought:
			m.reasoning.WriteString(p.Text)
		case p.InlineData != nil:
			if strings.HasPrefix(p.InlineData.MimeType, "image/") {
				m.images = append(m.images, outputImage{Type: "image_url", ImageURL: imageURL{URL: "data:" + p.InlineData.MimeType + ";base64," + p.InlineData.Data}})
			}
		case p.Text != "":
			m.text.WriteString(p.Text)
			m.hasText = true
		}
	}
	return m
}

// content is the message's content: its text, null when it only calls
// tools, and "" when it holds nothing at all.
func (m *message) content() *string {
	if !m.hasText && len(m.calls) > 0 {
		return nil
	}
	return ptr(m.text.String())
}

// toolCallOf turns a functionCall part into a tool call. Gemini may name
// the call; otherwise it gets a fresh id. The part's thought signature
// rides in the id (see signatureSeparator).
func toolCallOf(p part, index int, e env) chatToolCall {
	fc := p.FunctionCall
	id := fc.ID
	if id == "" {
		id = "call_" + e.newID()
	}
	if p.ThoughtSignature != "" {
		id += signatureSeparator + p.ThoughtSignature
	}
	args := "{}"
	if a := bytes.TrimSpace(fc.Args); !isNull(a) {
		args = string(compact(a))
	}
	return chatToolCall{
		Index:    &index,
		ID:       id,
		Type:     "function",
		Function: chatFunctionCall{Name: fc.Name, Arguments: json.RawMessage(jsonx.AppendString(nil, args))},
	}
}

// finishReason maps Gemini's finishReason onto OpenAI's. STOP with tool
// calls is "tool_calls"; the reasons that a filter ended the candidate are
// "content_filter"; the others (OTHER, MALFORMED_FUNCTION_CALL, ...) are
// "stop", since OpenAI has nothing closer.
func finishReason(reason string, toolCalls bool) string {
	switch reason {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return "content_filter"
	}
	if toolCalls {
		return "tool_calls"
	}
	return "stop"
}

// blockedFinish is the finish reason of a response without candidates.
func blockedFinish(pf *promptFeedback) string {
	if pf != nil && pf.BlockReason != "" {
		return "content_filter"
	}
	return "stop"
}

// openAIUsage maps usageMetadata onto OpenAI's usage. Gemini counts
// thinking apart from the candidates, and the results of its own tools
// apart from the prompt; OpenAI counts reasoning within the completion, so
// both are added in.
func openAIUsage(u *usageMetadata) *chatUsage {
	prompt := u.PromptTokenCount + u.ToolUsePromptTokenCount
	completion := u.CandidatesTokenCount + u.ThoughtsTokenCount
	return &chatUsage{
		PromptTokens:            prompt,
		CompletionTokens:        completion,
		TotalTokens:             prompt + completion,
		PromptTokensDetails:     &promptDetails{CachedTokens: u.CachedContentTokenCount},
		CompletionTokensDetails: &completionDetails{ReasoningTokens: u.ThoughtsTokenCount},
	}
}

// openAILogprobs maps logprobsResult onto OpenAI's logprobs.
func openAILogprobs(l *logprobsResult) *logprobs {
	if l == nil {
		return nil
	}
	out := &logprobs{Content: []tokenLogprob{}}
	for i, c := range l.ChosenCandidates {
		t := tokenLogprob{Token: c.Token, Logprob: logprobValue(c.LogProbability), Bytes: tokenBytes(c.Token), TopLogprobs: []topLogprob{}}
		if i < len(l.TopCandidates) {
			for _, tc := range l.TopCandidates[i].Candidates {
				t.TopLogprobs = append(t.TopLogprobs, topLogprob{Token: tc.Token, Logprob: logprobValue(tc.LogProbability), Bytes: tokenBytes(tc.Token)})
			}
		}
		out.Content = append(out.Content, t)
	}
	return out
}

func logprobValue(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return json.RawMessage("0") // proto3 omits a zero
	}
	return raw
}

func tokenBytes(token string) []int {
	b := make([]int, len(token))
	for i := 0; i < len(token); i++ {
		b[i] = int(token[i])
	}
	return b
}

// Usage is what a native generateContent response reports about tokens,
// in Gemini's own terms: CandidatesTokens excludes ThoughtsTokens, and
// PromptTokens includes CachedTokens but not ToolUsePromptTokens (the
// results of Gemini's built-in tools). In OpenAI's terms, prompt tokens are
// PromptTokens + ToolUsePromptTokens and completion tokens are
// CandidatesTokens + ThoughtsTokens.
type Usage struct {
	PromptTokens        int64
	CandidatesTokens    int64
	CachedTokens        int64
	ThoughtsTokens      int64
	ToolUsePromptTokens int64
}

// ParseUsage reads the usage and finish reason of a native Gemini
// response: a generateContent body, one event of an alt=sse stream, or the
// JSON array that streamGenerateContent returns without alt=sse (the last
// usage and the last finish reason win, as later events restate running
// totals). The finish reason is OpenAI's ("stop", "length",
// "content_filter", "tool_calls"), the vocabulary of the request record;
// "" when the body has none. Within a stream, "tool_calls" is reported
// only when the function call arrives in the event that finishes.
func ParseUsage(body []byte) (Usage, string, error) {
	body = bytes.TrimSpace(body)
	var u Usage
	finish := ""
	one := func(raw []byte) error {
		var r generateResponse
		if err := r.decode(raw); err != nil {
			return err
		}
		if m := r.UsageMetadata; m != nil {
			u = Usage{
				PromptTokens:        m.PromptTokenCount,
				CandidatesTokens:    m.CandidatesTokenCount,
				CachedTokens:        m.CachedContentTokenCount,
				ThoughtsTokens:      m.ThoughtsTokenCount,
				ToolUsePromptTokens: m.ToolUsePromptTokenCount,
			}
		}
		if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
			finish = "content_filter"
		}
		for _, c := range r.Candidates {
			if c.FinishReason == "" {
				continue
			}
			calls := false
			for _, p := range c.Content.Parts {
				calls = calls || p.FunctionCall != nil
			}
			finish = finishReason(c.FinishReason, calls)
			break
		}
		return nil
	}
	if len(body) > 0 && body[0] == '[' {
		return u, finish, elements(body, one)
	}
	return u, finish, one(body)
}
