package mock

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/switchyard/switchyard/config"
)

// The official Go SDK is a real client: what it accepts, applications accept.

func sdkClient(t *testing.T, providerAPIKey string) (openai.Client, *Server) {
	t.Helper()
	p := testProvider("sdk")
	p.APIKey = providerAPIKey
	s := New([]config.MockProvider{p})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return openai.NewClient(
		option.WithBaseURL(srv.URL+"/sdk/v1/"),
		option.WithAPIKey("sk-sdk"),
		option.WithMaxRetries(0),
	), s
}

func sdkParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are a helpful assistant."),
			openai.UserMessage("Hello!"),
		},
	}
}

func TestSDKChatCompletion(t *testing.T) {
	client, _ := sdkClient(t, "sk-sdk")
	resp, err := client.Chat.Completions.New(context.Background(), sdkParams())
	if err != nil {
		t.Fatal(err)
	}
	if !completionIDPattern.MatchString(resp.ID) || resp.Model != "gpt-4o-mini" || resp.Created == 0 || resp.SystemFingerprint == "" {
		t.Errorf("response = %+v", resp)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("%d choices", len(resp.Choices))
	}
	c := resp.Choices[0]
	if c.FinishReason != "stop" || c.Message.Content != expectedContent(8) || c.Message.Role != "assistant" {
		t.Errorf("choice = %+v", c)
	}
	if !c.Message.JSON.Refusal.Valid() && c.Message.JSON.Refusal.Raw() != "null" {
		t.Errorf("refusal missing")
	}
	u := resp.Usage
	if u.PromptTokens != basicPromptTokens || u.CompletionTokens != 8 || u.TotalTokens != basicPromptTokens+8 || !u.JSON.PromptTokensDetails.Valid() {
		t.Errorf("usage = %+v", u)
	}
	if len(resp.JSON.ExtraFields) != 0 {
		t.Errorf("fields the SDK does not know: %v", resp.JSON.ExtraFields)
	}
}

func TestSDKStream(t *testing.T) {
	client, s := sdkClient(t, "")
	params := sdkParams()
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	params.MaxTokens = openai.Int(5)
	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		chunks++
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("the accumulator rejected chunk %d", chunks)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if chunks != 1+5+1+1 {
		t.Errorf("%d chunks", chunks)
	}
	if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != expectedContent(5) || acc.Choices[0].FinishReason != "length" {
		t.Errorf("accumulated %+v", acc.Choices)
	}
	if acc.Usage.PromptTokens != basicPromptTokens || acc.Usage.CompletionTokens != 5 || acc.Usage.TotalTokens != basicPromptTokens+5 {
		t.Errorf("usage = %+v", acc.Usage)
	}
	if st := s.Stats("sdk"); st.Streams != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestSDKErrors(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		headers map[string]string
		status  int
		errType string
		code    string
	}{
		{name: "rate limited", key: "", headers: map[string]string{HeaderStatus: "429"}, status: 429, errType: "rate_limit_exceeded", code: "rate_limit_exceeded"},
		{name: "server error", key: "", headers: map[string]string{HeaderStatus: "500"}, status: 500, errType: "server_error"},
		{name: "bad key", key: "sk-something-else", status: 401, errType: "invalid_request_error", code: "invalid_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, _ := sdkClient(t, tt.key)
			var opts []option.RequestOption
			for k, v := range tt.headers {
				opts = append(opts, option.WithHeader(k, v))
			}
			_, err := client.Chat.Completions.New(context.Background(), sdkParams(), opts...)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v, want an *openai.Error", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Type != tt.errType || apiErr.Code != tt.code || apiErr.Message == "" {
				t.Errorf("error = status %d type %q code %q message %q", apiErr.StatusCode, apiErr.Type, apiErr.Code, apiErr.Message)
			}
		})
	}
}

func TestSDKBrokenStreams(t *testing.T) {
	for _, header := range [][2]string{{HeaderCutAfter, "2"}, {HeaderMalformed, "1"}} {
		t.Run(header[0], func(t *testing.T) {
			client, _ := sdkClient(t, "")
			stream := client.Chat.Completions.NewStreaming(context.Background(), sdkParams(), option.WithHeader(header[0], header[1]))
			for stream.Next() {
			}
			if stream.Err() == nil {
				t.Errorf("the SDK saw no error")
			}
		})
	}
}

func TestSDKModels(t *testing.T) {
	client, _ := sdkClient(t, "sk-sdk")
	page, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) == 0 || page.Data[0].OwnedBy != "sdk" || page.Data[0].ID == "" {
		t.Errorf("models = %+v", page.Data)
	}
	m, err := client.Models.Get(context.Background(), "gpt-4o")
	if err != nil || m.ID != "gpt-4o" {
		t.Errorf("Get = %+v, %v", m, err)
	}
}

func TestSDKTextCompletion(t *testing.T) {
	client, _ := sdkClient(t, "sk-sdk")
	params := openai.CompletionNewParams{
		Model:     "gpt-3.5-turbo-instruct",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"Say this", "Say that"}},
		MaxTokens: openai.Int(5),
	}
	resp, err := client.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Object != "text_completion" || len(resp.Choices) != 2 || resp.Choices[1].Index != 1 || resp.Choices[0].Text != expectedContent(5) || resp.Choices[0].FinishReason != "length" {
		t.Errorf("response = %+v", resp)
	}
	if resp.Usage.PromptTokens != 4 || resp.Usage.CompletionTokens != 10 || len(resp.JSON.ExtraFields) != 0 {
		t.Errorf("usage = %+v, extra fields %v", resp.Usage, resp.JSON.ExtraFields)
	}
	params.Prompt = openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say this")}
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	stream := client.Completions.NewStreaming(context.Background(), params)
	var text string
	var usage openai.CompletionUsage
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 {
			text += c.Choices[0].Text
		}
		if c.JSON.Usage.Valid() {
			usage = c.Usage
		}
	}
	if err := stream.Err(); err != nil || text != expectedContent(5) || usage.TotalTokens != 2+5 {
		t.Errorf("stream: %q, usage %+v, %v", text, usage, err)
	}
}

func TestSDKEmbeddings(t *testing.T) {
	client, _ := sdkClient(t, "sk-sdk")
	var vectors [2][]float64
	for i, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
		resp, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
			Model:          openai.EmbeddingModelTextEmbedding3Small,
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world"}},
			Dimensions:     openai.Int(64),
			EncodingFormat: format,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || len(resp.Data[1].Embedding) != 64 || resp.Data[1].Index != 1 || resp.Usage.PromptTokens != 4 || resp.Usage.TotalTokens != 4 {
			t.Fatalf("%s: response = %+v", format, resp.Usage)
		}
		vectors[i] = resp.Data[0].Embedding
		if n := norm(vectors[i]); n < 0.99999 || n > 1.00001 {
			t.Errorf("%s: norm %v", format, n)
		}
	}
	for j := range vectors[0] {
		if d := vectors[0][j] - vectors[1][j]; d > 1e-8 || d < -1e-8 {
			t.Fatalf("float and base64 differ at %d", j)
		}
	}
}

func TestSDKToolCalls(t *testing.T) {
	client, _ := sdkClient(t, "sk-sdk")
	params := openai.ChatCompletionNewParams{
		Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage("What is the weather in Paris? Call the tool."),
		},
		Tools: []openai.ChatCompletionToolUnionParam{
			openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
				Name: "get_weather",
				Parameters: shared.FunctionParameters{
					"type":       "object",
					"properties": map[string]any{"location": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer", "minimum": 1}},
					"required":   []string{"location", "days"},
				},
			}),
			openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_time"}),
		},
	}
	resp, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.Choices[0].Message.ToolCalls
	if resp.Choices[0].FinishReason != "tool_calls" || len(calls) != 2 || calls[0].Function.Name != "get_weather" {
		t.Fatalf("response = %+v", resp.Choices[0])
	}
	var args struct {
		Location string `json:"location"`
		Days     int    `json:"days"`
	}
	if err := json.Unmarshal([]byte(calls[0].Function.Arguments), &args); err != nil || args.Location == "" || args.Days < 1 {
		t.Errorf("arguments %q: %v", calls[0].Function.Arguments, err)
	}

	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	var finished []string
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatal("the accumulator rejected a chunk")
		}
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc.Name)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	got := acc.Choices[0].Message.ToolCalls
	if len(got) != 2 || got[0].Function.Arguments != calls[0].Function.Arguments || got[1].Function.Name != "get_time" || acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("accumulated %+v", acc.Choices[0])
	}
	if len(finished) != 2 {
		t.Errorf("JustFinishedToolCall saw %v", finished)
	}
}

func TestSDKStructuredOutput(t *testing.T) {
	client, _ := sdkClient(t, "sk-sdk")
	type step struct {
		Explanation string `json:"explanation"`
		Output      string `json:"output"`
	}
	var answer struct {
		Steps       []step `json:"steps"`
		FinalAnswer string `json:"final_answer"`
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(schemaCases["pydantic"]), &schema); err != nil {
		t.Fatal(err)
	}
	params := sdkParams()
	params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
		OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
			Name: "math_reasoning", Schema: schema, Strict: openai.Bool(true),
		}},
	}
	resp, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(resp.Choices[0].Message.Content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&struct {
		Steps       *[]step `json:"steps"`
		FinalAnswer *string `json:"final_answer"`
		Note        any     `json:"note"`
	}{&answer.Steps, &answer.FinalAnswer, nil}); err != nil || len(answer.Steps) == 0 || answer.FinalAnswer == "" || answer.Steps[0].Explanation == "" {
		t.Errorf("content %q: %v", resp.Choices[0].Message.Content, err)
	}
}
