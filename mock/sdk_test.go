package mock

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

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
