package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// The reverse direction, for a native Gemini endpoint served by OpenAI-
// shaped upstreams: a generateContent request becomes a chat completion
// request, and the completion (or its stream) becomes Gemini's response.

// oaChatRequest is the chat completion request GenerateContentToOpenAI
// writes.
type oaChatRequest struct {
	Model               string          `json:"model"`
	Messages            []oaMessage     `json:"messages"`
	Tools               []chatTool      `json:"tools,omitempty"`
	ToolChoice          any             `json:"tool_choice,omitempty"`
	Temperature         json.RawMessage `json:"temperature,omitempty"`
	TopP                json.RawMessage `json:"top_p,omitempty"`
	N                   json.RawMessage `json:"n,omitempty"`
	Seed                json.RawMessage `json:"seed,omitempty"`
	MaxCompletionTokens json.RawMessage `json:"max_completion_tokens,omitempty"`
	PresencePenalty     json.RawMessage `json:"presence_penalty,omitempty"`
	FrequencyPenalty    json.RawMessage `json:"frequency_penalty,omitempty"`
	Stop                []string        `json:"stop,omitempty"`
	ResponseFormat      any             `json:"response_format,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         json.RawMessage `json:"top_logprobs,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *streamOptions  `json:"stream_options,omitempty"`
}

type oaMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content"` // string, []oaPart, or nil
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type oaPart struct {
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	ImageURL   *imageURL   `json:"image_url,omitempty"`
	InputAudio *inputAudio `json:"input_audio,omitempty"`
	File       *inputFile  `json:"file,omitempty"`
}

type oaAllowedTools struct {
	Type         string `json:"type"`
	AllowedTools struct {
		Mode  string        `json:"mode"`
		Tools []oaNamedTool `json:"tools"`
	} `json:"allowed_tools"`
}

type oaNamedTool struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// GenerateContentToOpenAI translates a Gemini generateContent request (the
// model is named in the URL, so it is passed apart) into an OpenAI chat
// completion request; with stream, one that streams and asks for usage.
//
// Translated: systemInstruction; contents (user and model turns; text,
// inline images, audio and other files as data URLs; fileData images by
// URL; functionCall and functionResponse parts, whose ids are taken from
// the parts when set and otherwise paired by name in order); function
// declarations (parameters or parametersJsonSchema); toolConfig; and
// generationConfig's temperature, topP, candidateCount, seed,
// maxOutputTokens, penalties, stopSequences, JSON output with or without a
// schema, logprobs, and thinking (a level, or a positive budget, becomes
// reasoning_effort). Dropped, as OpenAI has no equivalent: topK,
// safetySettings, thought parts and signatures, includeThoughts. Refused
// with an error: cachedContent, tools other than functions (Google Search,
// code execution), non-image fileData, and media in model turns.
func GenerateContentToOpenAI(model string, body []byte, stream bool) ([]byte, error) {
	var g generateRequest
	if err := g.decode(body); err != nil {
		return nil, fmt.Errorf("gemini: the request is not a valid generateContent request: %w", err)
	}
	if g.CachedContent != "" {
		return nil, unsupported("cachedContent")
	}
	out := oaChatRequest{Model: strings.TrimPrefix(model, "models/"), Messages: []oaMessage{}}
	if g.SystemInstruction != nil {
		var texts []string
		for _, p := range g.SystemInstruction.Parts {
			if p.Text != "" && !p.Thought {
				texts = append(texts, p.Text)
			}
		}
		if len(texts) > 0 {
			out.Messages = append(out.Messages, oaMessage{Role: "system", Content: strings.Join(texts, "\n\n")})
		}
	}
	msgs, err := openAIMessages(g.Contents)
	if err != nil {
		return nil, err
	}
	out.Messages = append(out.Messages, msgs...)

	for _, t := range g.Tools {
		if t.other != "" {
			return nil, unsupported("the %s tool", t.other)
		}
		for _, d := range t.FunctionDeclarations {
			f := &chatFunction{Name: d.Name, Description: d.Description}
			switch {
			case d.ParametersJSONSchema != nil:
				f.Parameters = compact(d.ParametersJSONSchema)
			case d.Parameters != nil:
				s, err := fromGeminiSchema(d.Parameters)
				if err != nil {
					return nil, fmt.Errorf("gemini: function %s: parameters: %w", d.Name, err)
				}
				if f.Parameters, err = marshal(s); err != nil {
					return nil, err
				}
			}
			out.Tools = append(out.Tools, chatTool{Type: "function", Function: f})
		}
	}
	if g.ToolConfig != nil && len(out.Tools) > 0 {
		out.ToolChoice = openAIToolChoice(g.ToolConfig.FunctionCallingConfig)
	}
	if gc := g.GenerationConfig; gc != nil {
		if err := openAIGenerationConfig(gc, &out); err != nil {
			return nil, err
		}
	}
	if stream {
		out.Stream = true
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	return marshal(&out)
}

// openAIMessages translates Gemini's turns. A user turn's functionResponse
// parts become tool messages, which OpenAI wants right after the
// assistant's calls; the rest of the turn follows as a user message.
func openAIMessages(contents []content) ([]oaMessage, error) {
	type call struct {
		id, name string
		answered bool
	}
	var calls []*call
	next := 0
	var out []oaMessage
	for i, c := range contents {
		where := "contents[" + strconv.Itoa(i) + "]"
		switch c.Role {
		case "model":
			m := oaMessage{Role: "assistant"}
			var text strings.Builder
			hasText := false
			for j, p := range c.Parts {
				switch {
				case p.Thought:
				case p.FunctionCall != nil:
					id := p.FunctionCall.ID
					if id == "" {
						id = "call_" + strconv.Itoa(next)
						next++
					}
					calls = append(calls, &call{id: id, name: p.FunctionCall.Name})
					args := "{}"
					if a := bytes.TrimSpace(p.FunctionCall.Args); !isNull(a) {
						args = string(compact(a))
					}
					m.ToolCalls = append(m.ToolCalls, chatToolCall{ID: id, Type: "function", Function: chatFunctionCall{Name: p.FunctionCall.Name, Arguments: jsonx.AppendString(nil, args)}})
				case p.Text != "":
					text.WriteString(p.Text)
					hasText = true
				case p.InlineData != nil || p.FileData != nil || p.FunctionResponse != nil || p.other != "":
					return nil, fmt.Errorf("gemini: %s.parts[%d]: a model turn can carry only text and function calls", where, j)
				}
			}
			if hasText {
				m.Content = text.String()
			}
			if hasText || len(m.ToolCalls) > 0 {
				out = append(out, m)
			}
		case "user", "":
			var parts []oaPart
			for j, p := range c.Parts {
				at := where + ".parts[" + strconv.Itoa(j) + "]"
				switch {
				case p.Thought:
				case p.FunctionResponse != nil:
					fr := p.FunctionResponse
					var match *call
					for _, cl := range calls {
						if !cl.answered && (fr.ID != "" && cl.id == fr.ID || fr.ID == "" && cl.name == fr.Name) {
							match = cl
							break
						}
					}
					if match == nil {
						return nil, fmt.Errorf("gemini: %s: the functionResponse for %q answers no earlier functionCall", at, fr.Name)
					}
					match.answered = true
					resp := "{}"
					if r := bytes.TrimSpace(fr.Response); !isNull(r) {
						resp = string(compact(r))
					}
					out = append(out, oaMessage{Role: "tool", ToolCallID: match.id, Content: resp})
				case p.FunctionCall != nil || p.other != "":
					return nil, fmt.Errorf("gemini: %s: a user turn cannot carry this part", at)
				case p.InlineData != nil:
					parts = append(parts, inlinePart(p.InlineData))
				case p.FileData != nil:
					mt := p.FileData.MimeType
					if mt == "" {
						mt = guessMimeType(p.FileData.FileURI)
					}
					if !strings.HasPrefix(mt, "image/") {
						return nil, unsupported("%s: fileData of type %q; only images can be passed by URL", at, mt)
					}
					parts = append(parts, oaPart{Type: "image_url", ImageURL: &imageURL{URL: p.FileData.FileURI}})
				case p.Text != "":
					parts = append(parts, oaPart{Type: "text", Text: p.Text})
				}
			}
			switch {
			case len(parts) == 1 && parts[0].Type == "text":
				out = append(out, oaMessage{Role: "user", Content: parts[0].Text})
			case len(parts) > 0:
				out = append(out, oaMessage{Role: "user", Content: parts})
			}
		default:
			return nil, fmt.Errorf("gemini: %s has the unknown role %q", where, c.Role)
		}
	}
	return out, nil
}

// inlinePart passes inline data on: images as image_url, WAV and MP3 as
// input_audio, anything else as a file.
func inlinePart(b *blob) oaPart {
	mt := strings.ToLower(b.MimeType)
	switch {
	case strings.HasPrefix(mt, "image/"):
		return oaPart{Type: "image_url", ImageURL: &imageURL{URL: "data:" + b.MimeType + ";base64," + b.Data}}
	case mt == "audio/wav" || mt == "audio/x-wav" || mt == "audio/wave":
		return oaPart{Type: "input_audio", InputAudio: &inputAudio{Data: b.Data, Format: "wav"}}
	case mt == "audio/mp3" || mt == "audio/mpeg":
		return oaPart{Type: "input_audio", InputAudio: &inputAudio{Data: b.Data, Format: "mp3"}}
	}
	name := "file"
	if i := strings.IndexByte(mt, '/'); i >= 0 && i+1 < len(mt) {
		name += "." + strings.TrimPrefix(mt[i+1:], "x-")
	}
	return oaPart{Type: "file", File: &inputFile{FileData: "data:" + b.MimeType + ";base64," + b.Data, Filename: name}}
}

func openAIToolChoice(fc functionCallingConfig) any {
	switch fc.Mode {
	case "AUTO", "VALIDATED":
		return "auto"
	case "NONE":
		return "none"
	case "ANY":
		switch len(fc.AllowedFunctionNames) {
		case 0:
			return "required"
		case 1:
			t := oaNamedTool{Type: "function"}
			t.Function.Name = fc.AllowedFunctionNames[0]
			return t
		}
		var choice oaAllowedTools
		choice.Type, choice.AllowedTools.Mode = "allowed_tools", "required"
		choice.AllowedTools.Tools = make([]oaNamedTool, len(fc.AllowedFunctionNames))
		for i, n := range fc.AllowedFunctionNames {
			choice.AllowedTools.Tools[i].Type = "function"
			choice.AllowedTools.Tools[i].Function.Name = n
		}
		return choice
	}
	return nil
}

func openAIGenerationConfig(gc *generationConfig, out *oaChatRequest) error {
	out.Temperature, out.TopP, out.N, out.Seed = gc.Temperature, gc.TopP, gc.CandidateCount, gc.Seed
	out.MaxCompletionTokens = gc.MaxOutputTokens
	out.PresencePenalty, out.FrequencyPenalty = gc.PresencePenalty, gc.FrequencyPenalty
	out.Stop = gc.StopSequences
	if gc.ResponseLogprobs {
		out.Logprobs = ptr(true)
		out.TopLogprobs = gc.Logprobs
	}
	switch gc.ResponseMimeType {
	case "", "text/plain":
	case "application/json":
		switch {
		case gc.ResponseJSONSchema != nil:
			out.ResponseFormat = jsonSchemaFormat(compact(gc.ResponseJSONSchema))
		case gc.ResponseSchema != nil:
			s, err := fromGeminiSchema(gc.ResponseSchema)
			if err != nil {
				return fmt.Errorf("gemini: responseSchema: %w", err)
			}
			b, err := marshal(s)
			if err != nil {
				return err
			}
			out.ResponseFormat = jsonSchemaFormat(b)
		default:
			out.ResponseFormat = oaResponseFormat{Type: "json_object"}
		}
	default:
		return unsupported("responseMimeType %q", gc.ResponseMimeType)
	}
	if tc := gc.ThinkingConfig; tc != nil {
		switch {
		case tc.ThinkingLevel != "" && tc.ThinkingLevel != "THINKING_LEVEL_UNSPECIFIED":
			out.ReasoningEffort = strings.ToLower(tc.ThinkingLevel)
		case tc.ThinkingBudget != nil && *tc.ThinkingBudget > 0:
			switch b := *tc.ThinkingBudget; {
			case b <= 1024:
				out.ReasoningEffort = "low"
			case b <= 8192:
				out.ReasoningEffort = "medium"
			default:
				out.ReasoningEffort = "high"
			}
		}
	}
	return nil
}

type oaResponseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema,omitempty"`
}

func jsonSchemaFormat(schema []byte) any {
	f := oaResponseFormat{Type: "json_schema"}
	f.JSONSchema = &struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
	}{Name: "response", Schema: schema}
	return f
}

// oaCompletion is the chat completion OpenAIResponseToGenerateContent
// reads.
type oaCompletion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int64 `json:"index"`
		Message struct {
			Content          json.RawMessage   `json:"content"`
			Refusal          *string           `json:"refusal"`
			Reasoning        *string           `json:"reasoning"`
			ReasoningContent *string           `json:"reasoning_content"`
			ToolCalls        []chatToolCall    `json:"tool_calls"`
			FunctionCall     *chatFunctionCall `json:"function_call"`
		} `json:"message"`
		FinishReason *string     `json:"finish_reason"`
		Logprobs     *oaLogprobs `json:"logprobs"`
	} `json:"choices"`
	Usage *oaUsage        `json:"usage"`
	Error json.RawMessage `json:"error"`
}

type oaLogprobs struct {
	Content []struct {
		Token       string          `json:"token"`
		Logprob     json.RawMessage `json:"logprob"`
		TopLogprobs []struct {
			Token   string          `json:"token"`
			Logprob json.RawMessage `json:"logprob"`
		} `json:"top_logprobs"`
	} `json:"content"`
}

type oaUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

// OpenAIResponseToGenerateContent translates an OpenAI chat completion into
// a Gemini GenerateContentResponse: each choice becomes a candidate
// (reasoning as a thought part, text, tool calls as functionCall parts
// whose id is the tool call's, so that clients answer with it), the finish
// reason and logprobs are mapped, and usage becomes usageMetadata (thoughts
// counted apart from the candidates, as Gemini does). An error body is an
// error.
func OpenAIResponseToGenerateContent(body []byte) ([]byte, error) {
	var cc oaCompletion
	if err := json.Unmarshal(body, &cc); err != nil {
		return nil, fmt.Errorf("gemini: the response is not a chat completion: %w", err)
	}
	if !isNull(cc.Error) {
		return nil, errors.New("gemini: the response is an error")
	}
	r := generateResponse{Candidates: []candidate{}, ModelVersion: cc.Model, ResponseID: cc.ID}
	for _, ch := range cc.Choices {
		m := ch.Message
		c := candidate{Index: ch.Index, Content: content{Role: "model", Parts: []part{}}}
		for _, rs := range []*string{m.Reasoning, m.ReasoningContent} {
			if rs != nil && *rs != "" {
				c.Content.Parts = append(c.Content.Parts, part{Text: *rs, Thought: true})
				break
			}
		}
		text, err := completionText(m.Content)
		if err != nil {
			return nil, err
		}
		if text == "" && m.Refusal != nil {
			text = *m.Refusal
		}
		if text != "" {
			c.Content.Parts = append(c.Content.Parts, part{Text: text})
		}
		tcs := m.ToolCalls
		if m.FunctionCall != nil {
			tcs = append(tcs, chatToolCall{Function: *m.FunctionCall})
		}
		for _, tc := range tcs {
			args, err := callArguments(tc.Function.Arguments)
			if err != nil {
				return nil, fmt.Errorf("gemini: tool call %q: arguments: %w", tc.ID, err)
			}
			c.Content.Parts = append(c.Content.Parts, part{FunctionCall: &functionCall{ID: tc.ID, Name: tc.Function.Name, Args: args}})
		}
		if ch.FinishReason != nil {
			c.FinishReason = geminiFinishReason(*ch.FinishReason)
		}
		if ch.Logprobs != nil && len(ch.Logprobs.Content) > 0 {
			l := &logprobsResult{}
			for _, t := range ch.Logprobs.Content {
				l.ChosenCandidates = append(l.ChosenCandidates, logprobCandidate{Token: t.Token, LogProbability: t.Logprob})
				var top topCandidates
				for _, tt := range t.TopLogprobs {
					top.Candidates = append(top.Candidates, logprobCandidate{Token: tt.Token, LogProbability: tt.Logprob})
				}
				if top.Candidates == nil {
					top.Candidates = []logprobCandidate{}
				}
				l.TopCandidates = append(l.TopCandidates, top)
			}
			c.LogprobsResult = l
		}
		r.Candidates = append(r.Candidates, c)
	}
	if cc.Usage != nil {
		r.UsageMetadata = geminiUsage(cc.Usage)
	}
	return marshal(&r)
}

// completionText reads a message's content: a string, null, or (rarely, in
// responses) a list of text parts.
func completionText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case isNull(raw):
		return "", nil
	case raw[0] == '"':
		return jsonx.Unquote(raw)
	case raw[0] == '[':
		var parts []contentPart
		if err := json.Unmarshal(raw, &parts); err != nil {
			return "", fmt.Errorf("gemini: message content: %w", err)
		}
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String(), nil
	}
	return "", errors.New("gemini: message content is neither text nor parts")
}

// geminiFinishReason maps OpenAI's finish reasons onto Gemini's.
func geminiFinishReason(reason string) string {
	switch reason {
	case "stop", "tool_calls", "function_call":
		return "STOP"
	case "length":
		return "MAX_TOKENS"
	case "content_filter":
		return "SAFETY"
	}
	return "OTHER"
}

// geminiUsage maps OpenAI's usage onto usageMetadata.
func geminiUsage(u *oaUsage) *usageMetadata {
	m := &usageMetadata{PromptTokenCount: u.PromptTokens, TotalTokenCount: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		m.CachedContentTokenCount = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		m.ThoughtsTokenCount = u.CompletionTokensDetails.ReasoningTokens
	}
	m.CandidatesTokenCount = max(0, u.CompletionTokens-m.ThoughtsTokenCount)
	if m.TotalTokenCount == 0 {
		m.TotalTokenCount = u.PromptTokens + u.CompletionTokens
	}
	return m
}
