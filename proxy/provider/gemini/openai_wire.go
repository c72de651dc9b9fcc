package gemini

import "encoding/json"

// OpenAI's wire types, the subset this package reads and writes. Numbers
// that pass between the formats stay json.RawMessage, so that a
// temperature of 0.7 arrives as 0.7 and not as 0.69999999.

// chatRequest is an OpenAI chat completion request, with OpenRouter's
// reasoning extensions.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	StreamOptions       *streamOptions  `json:"stream_options,omitempty"`
	Temperature         json.RawMessage `json:"temperature,omitempty"`
	TopP                json.RawMessage `json:"top_p,omitempty"`
	TopK                json.RawMessage `json:"top_k,omitempty"`
	N                   json.RawMessage `json:"n,omitempty"`
	Seed                json.RawMessage `json:"seed,omitempty"`
	PresencePenalty     json.RawMessage `json:"presence_penalty,omitempty"`
	FrequencyPenalty    json.RawMessage `json:"frequency_penalty,omitempty"`
	MaxTokens           json.RawMessage `json:"max_tokens,omitempty"`
	MaxCompletionTokens json.RawMessage `json:"max_completion_tokens,omitempty"`
	Stop                json.RawMessage `json:"stop,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	Tools               []chatTool      `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	Functions           []chatFunction  `json:"functions,omitempty"`     // deprecated form of tools
	FunctionCall        json.RawMessage `json:"function_call,omitempty"` // deprecated form of tool_choice
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         json.RawMessage `json:"top_logprobs,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	Reasoning           *reasoning      `json:"reasoning,omitempty"`
	IncludeReasoning    *bool           `json:"include_reasoning,omitempty"`
	Modalities          []string        `json:"modalities,omitempty"`
	Audio               json.RawMessage `json:"audio,omitempty"`
	WebSearchOptions    json.RawMessage `json:"web_search_options,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// reasoning is OpenRouter's reasoning request object.
type reasoning struct {
	Effort    string `json:"effort,omitempty"`
	MaxTokens *int64 `json:"max_tokens,omitempty"`
	Exclude   *bool  `json:"exclude,omitempty"`
	Enabled   *bool  `json:"enabled,omitempty"`
}

type chatMessage struct {
	Role string `json:"role"`
	// Content is a string, an array of content parts, or null.
	Content      json.RawMessage   `json:"content,omitempty"`
	Name         string            `json:"name,omitempty"`
	ToolCalls    []chatToolCall    `json:"tool_calls,omitempty"`
	ToolCallID   string            `json:"tool_call_id,omitempty"`
	FunctionCall *chatFunctionCall `json:"function_call,omitempty"`
}

type contentPart struct {
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	Refusal    string      `json:"refusal,omitempty"`
	ImageURL   *imageURL   `json:"image_url,omitempty"`
	InputAudio *inputAudio `json:"input_audio,omitempty"`
	File       *inputFile  `json:"file,omitempty"`
}

// imageURL is an image part's image_url; clients send an object, a few
// send the bare URL string.
type imageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

func (u *imageURL) UnmarshalJSON(raw []byte) error {
	if len(raw) > 0 && raw[0] == '"' {
		return json.Unmarshal(raw, &u.URL)
	}
	type plain imageURL
	return json.Unmarshal(raw, (*plain)(u))
}

type inputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

type inputFile struct {
	FileData string `json:"file_data,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type chatToolCall struct {
	Index    *int             `json:"index,omitempty"` // in stream deltas only
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type,omitempty"`
	Function chatFunctionCall `json:"function"`
	// ExtraContent is where Google's own OpenAI-compatible endpoint puts a
	// call's thought signature; it is read, never written.
	ExtraContent *struct {
		Google *struct {
			ThoughtSignature string `json:"thought_signature"`
		} `json:"google"`
	} `json:"extra_content,omitempty"`
}

// chatFunctionCall is a tool call's function. Arguments are a JSON string
// by the spec; some clients send the object itself, which is accepted.
type chatFunctionCall struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

type chatTool struct {
	Type     string        `json:"type"`
	Function *chatFunction `json:"function,omitempty"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// What this package writes.

type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage,omitempty"`
}

type chatChoice struct {
	Index        int64        `json:"index"`
	Message      chatResponse `json:"message"`
	Logprobs     *logprobs    `json:"logprobs"`
	FinishReason string       `json:"finish_reason"`
}

// chatResponse is the assistant message of a completion. Reasoning and
// Images are OpenRouter's extensions.
type chatResponse struct {
	Role      string         `json:"role"`
	Content   *string        `json:"content"`
	Refusal   *string        `json:"refusal"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
	Reasoning *string        `json:"reasoning,omitempty"`
	Images    []outputImage  `json:"images,omitempty"`
}

type outputImage struct {
	Type     string   `json:"type"`
	ImageURL imageURL `json:"image_url"`
}

type logprobs struct {
	Content []tokenLogprob `json:"content"`
	Refusal []tokenLogprob `json:"refusal"`
}

type tokenLogprob struct {
	Token       string          `json:"token"`
	Logprob     json.RawMessage `json:"logprob"`
	Bytes       []int           `json:"bytes"`
	TopLogprobs []topLogprob    `json:"top_logprobs"`
}

type topLogprob struct {
	Token   string          `json:"token"`
	Logprob json.RawMessage `json:"logprob"`
	Bytes   []int           `json:"bytes"`
}

type chatUsage struct {
	PromptTokens            int64              `json:"prompt_tokens"`
	CompletionTokens        int64              `json:"completion_tokens"`
	TotalTokens             int64              `json:"total_tokens"`
	PromptTokensDetails     *promptDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *completionDetails `json:"completion_tokens_details,omitempty"`
}

type promptDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

type completionDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

type chatChunk struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []chunkChoice   `json:"choices"`
	Usage   json.RawMessage `json:"usage,omitempty"` // null, or a chatUsage
}

type chunkChoice struct {
	Index        int64      `json:"index"`
	Delta        chunkDelta `json:"delta"`
	Logprobs     *logprobs  `json:"logprobs"`
	FinishReason *string    `json:"finish_reason"`
}

type chunkDelta struct {
	Role      string         `json:"role,omitempty"`
	Content   *string        `json:"content,omitempty"`
	Reasoning *string        `json:"reasoning,omitempty"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
	Images    []outputImage  `json:"images,omitempty"`
}

// oaError is OpenAI's error body.
type oaError struct {
	Error oaErrorBody `json:"error"`
}

type oaErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}
