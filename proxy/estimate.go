package proxy

import (
	"encoding/json"
	"strconv"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/tokens"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

// Usage estimates. A provider that reports no usage (some self-hosted
// servers, a stream cut short) would otherwise leave a request recorded
// at zero tokens and zero cost. Instead the proxy counts the prompt and the
// completion it relayed with the offline estimator of internal/tokens and
// marks the record's usage as estimated. The work is done only when the
// provider's usage is missing.

// missingUsage reports whether a provider's usage says nothing: absent, or
// every count zero (which no real request has: a prompt always has
// tokens), as some servers send it.
func missingUsage(u *record.Usage) bool {
	return u == nil || u.PromptTokens == 0 && u.CompletionTokens == 0 && u.CachedTokens == 0 && u.CacheWriteTokens == 0
}

// estimateUsage sets the record's usage to an estimate: the prompt counted
// from the client's request (kind k, for the upstream model), the
// completion as given, and prices it at the deployment's prices.
func (ex *exchange) estimateUsage(k *kind, cand route.Candidate, completion int64) {
	rec := ex.rec
	rec.Usage = record.Usage{
		PromptTokens:     promptTokens(k, cand.Model, ex.reqBody),
		CompletionTokens: completion,
		Estimated:        true,
	}
	rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
}

// promptTokens estimates the prompt tokens of a request body of kind k.
func promptTokens(k *kind, model string, body []byte) int64 {
	if len(body) == 0 {
		return 0
	}
	enc := tokens.EncodingFor(model)
	switch k {
	case kindChat:
		if n, err := tokens.CountMessages(model, body); err == nil {
			return int64(n)
		}
		return 0
	case kindCompletions:
		return countMembers(enc, body, "prompt", "suffix")
	case kindEmbeddings:
		return countMembers(enc, body, "input")
	case kindRerank:
		return countMembers(enc, body, "query", "documents")
	}
	return 0
}

// countMembers estimates the tokens of the named members of a JSON object:
// every string in them, and one token per number (a prompt given as token
// ids).
func countMembers(enc tokens.Encoding, body []byte, names ...string) int64 {
	var n int64
	for _, name := range names {
		raw, err := jsonx.Get(body, name)
		if err != nil || jsonx.IsNull(raw) {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) == nil {
			n += countValue(enc, v)
		}
	}
	return n
}

func countValue(enc tokens.Encoding, v any) int64 {
	switch v := v.(type) {
	case string:
		return int64(enc.Count(v))
	case float64:
		return 1
	case []any:
		var n int64
		for _, e := range v {
			n += countValue(enc, e)
		}
		return n
	case map[string]any:
		var n int64
		for _, e := range v {
			n += countValue(enc, e)
		}
		return n
	}
	return 0
}

// completionTokens estimates the completion tokens of a complete chat or
// text completion response: every choice's text, refusal and tool calls.
// Other kinds have none.
func completionTokens(k *kind, model string, body []byte) int64 {
	if k != kindChat && k != kindCompletions {
		return 0
	}
	var resp struct {
		Choices []struct {
			Text    string `json:"text"`
			Message struct {
				Content   json.RawMessage `json:"content"`
				Refusal   string          `json:"refusal"`
				ToolCalls []struct {
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return 0
	}
	enc := tokens.EncodingFor(model)
	var n int64
	for _, c := range resp.Choices {
		n += int64(enc.Count(c.Text) + enc.Count(c.Message.Refusal))
		if len(c.Message.Content) > 0 && !jsonx.IsNull(c.Message.Content) {
			var content any
			if json.Unmarshal(c.Message.Content, &content) == nil {
				n += countValue(enc, content)
			}
		}
		for _, tc := range c.Message.ToolCalls {
			n += int64(enc.Count(tc.Function.Name)+enc.Count(tc.Function.Arguments)) + toolCallFraming
		}
	}
	return n
}

// toolCallFraming is the tokens a tool call costs beyond its name and
// arguments (as internal/tokens counts tool calls in a prompt).
const toolCallFraming = 3

// appendUsage renders usage as OpenAI's usage object with OpenRouter's
// cost, and "estimated": true when the proxy counted it.
func appendUsage(b []byte, u record.Usage, costNUSD int64) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, u.PromptTokens, 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, u.CompletionTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, u.PromptTokens+u.CompletionTokens, 10)
	b = append(b, `,"cost":`...)
	b = appendUSD(b, costNUSD)
	if u.Estimated {
		b = append(b, `,"estimated":true`...)
	}
	return append(b, '}')
}
