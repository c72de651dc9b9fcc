package gemini

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Gemini's wire types (v1beta), the subset this package reads and writes.
// They encode in the API's camelCase; their decode methods accept
// snake_case too, as Google's own parsers do, and validate as they go.

type generateRequest struct {
	Contents          []content         `json:"contents"`
	SystemInstruction *content          `json:"systemInstruction,omitempty"`
	Tools             []tool            `json:"tools,omitempty"`
	ToolConfig        *toolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
	// CachedContent is read only to refuse it: a cache lives at Google.
	CachedContent string `json:"-"`
}

type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
}

type part struct {
	Text             string            `json:"text,omitempty"`
	Thought          bool              `json:"thought,omitempty"`
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
	InlineData       *blob             `json:"inlineData,omitempty"`
	FileData         *fileData         `json:"fileData,omitempty"`
	FunctionCall     *functionCall     `json:"functionCall,omitempty"`
	FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
	// other names a kind of part this package does not translate
	// (executableCode, codeExecutionResult, videoMetadata, ...).
	other string
}

type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type fileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type functionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type functionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type tool struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations,omitempty"`
	// other names a tool this package does not translate (googleSearch,
	// codeExecution, ...).
	other string
}

type functionDeclaration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	// ParametersJSONSchema is the newer alternative to Parameters: plain
	// JSON Schema. Read only.
	ParametersJSONSchema json.RawMessage `json:"-"`
}

type toolConfig struct {
	FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
}

type functionCallingConfig struct {
	Mode                 string   `json:"mode,omitempty"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type generationConfig struct {
	StopSequences    []string        `json:"stopSequences,omitempty"`
	ResponseMimeType string          `json:"responseMimeType,omitempty"`
	ResponseSchema   json.RawMessage `json:"responseSchema,omitempty"`
	CandidateCount   json.RawMessage `json:"candidateCount,omitempty"`
	MaxOutputTokens  json.RawMessage `json:"maxOutputTokens,omitempty"`
	Temperature      json.RawMessage `json:"temperature,omitempty"`
	TopP             json.RawMessage `json:"topP,omitempty"`
	TopK             json.RawMessage `json:"topK,omitempty"`
	Seed             json.RawMessage `json:"seed,omitempty"`
	PresencePenalty  json.RawMessage `json:"presencePenalty,omitempty"`
	FrequencyPenalty json.RawMessage `json:"frequencyPenalty,omitempty"`
	ResponseLogprobs bool            `json:"responseLogprobs,omitempty"`
	Logprobs         json.RawMessage `json:"logprobs,omitempty"`
	ThinkingConfig   *thinkingConfig `json:"thinkingConfig,omitempty"`
	// ResponseModalities asks image models for images as well as text.
	ResponseModalities []string `json:"responseModalities,omitempty"`
	// ResponseJSONSchema is plain JSON Schema, the newer alternative to
	// ResponseSchema. Read only.
	ResponseJSONSchema json.RawMessage `json:"-"`
}

type thinkingConfig struct {
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
	ThinkingBudget  *int64 `json:"thinkingBudget,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
}

type generateResponse struct {
	Candidates     []candidate     `json:"candidates,omitempty"`
	PromptFeedback *promptFeedback `json:"promptFeedback,omitempty"`
	UsageMetadata  *usageMetadata  `json:"usageMetadata,omitempty"`
	ModelVersion   string          `json:"modelVersion,omitempty"`
	ResponseID     string          `json:"responseId,omitempty"`
	// Error is set when a stream event reports a failure instead.
	Error *googleError `json:"error,omitempty"`
}

type candidate struct {
	Content        content         `json:"content"`
	FinishReason   string          `json:"finishReason,omitempty"`
	Index          int64           `json:"index"`
	LogprobsResult *logprobsResult `json:"logprobsResult,omitempty"`
	hasIndex       bool
}

type promptFeedback struct {
	BlockReason string `json:"blockReason,omitempty"`
}

type usageMetadata struct {
	PromptTokenCount        int64 `json:"promptTokenCount,omitempty"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount,omitempty"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount,omitempty"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount,omitempty"`
	ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount,omitempty"`
	TotalTokenCount         int64 `json:"totalTokenCount,omitempty"`
}

type logprobsResult struct {
	TopCandidates    []topCandidates    `json:"topCandidates,omitempty"`
	ChosenCandidates []logprobCandidate `json:"chosenCandidates,omitempty"`
}

type topCandidates struct {
	Candidates []logprobCandidate `json:"candidates"`
}

type logprobCandidate struct {
	Token          string          `json:"token"`
	TokenID        int64           `json:"tokenId,omitempty"`
	LogProbability json.RawMessage `json:"logProbability"`
}

// googleError is the body of every Google API error: {"error": {...}}.
type googleError struct {
	Code    int64             `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status,omitempty"`
	Details []json.RawMessage `json:"details,omitempty"`
}

// Decoders. Each validates its input; unknown members are ignored.

func (r *generateRequest) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "contents":
			err = elements(val, func(v []byte) error {
				var c content
				if err := c.decode(v); err != nil {
					return err
				}
				r.Contents = append(r.Contents, c)
				return nil
			})
		case "systemInstruction":
			if !isNull(val) {
				r.SystemInstruction = new(content)
				err = r.SystemInstruction.decode(val)
			}
		case "tools":
			err = elements(val, func(v []byte) error {
				var t tool
				if err := t.decode(v); err != nil {
					return err
				}
				r.Tools = append(r.Tools, t)
				return nil
			})
		case "toolConfig":
			if !isNull(val) {
				r.ToolConfig = new(toolConfig)
				err = r.ToolConfig.decode(val)
			}
		case "generationConfig":
			if !isNull(val) {
				r.GenerationConfig = new(generationConfig)
				err = r.GenerationConfig.decode(val)
			}
		case "cachedContent":
			r.CachedContent, err = str(val)
		}
		return field(key, err)
	})
}

// field names the member a decoding error came from.
func field(key string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return &fieldError{path: key + "." + fe.path, err: fe.err}
	}
	return &fieldError{path: key, err: err}
}

type fieldError struct {
	path string
	err  error
}

func (e *fieldError) Error() string { return fmt.Sprintf("%s: %v", e.path, e.err) }
func (e *fieldError) Unwrap() error { return e.err }

func (c *content) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "role":
			c.Role, err = str(val)
		case "parts":
			err = elements(val, func(v []byte) error {
				var p part
				if err := p.decode(v); err != nil {
					return err
				}
				c.Parts = append(c.Parts, p)
				return nil
			})
		}
		return field(key, err)
	})
}

func (p *part) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "text":
			p.Text, err = str(val)
		case "thought":
			p.Thought, err = boolean(val)
		case "thoughtSignature":
			p.ThoughtSignature, err = str(val)
		case "inlineData":
			if !isNull(val) {
				p.InlineData = new(blob)
				err = members(val, func(k string, v []byte) (err error) {
					switch k {
					case "mimeType":
						p.InlineData.MimeType, err = str(v)
					case "data":
						p.InlineData.Data, err = str(v)
					}
					return field(k, err)
				})
			}
		case "fileData":
			if !isNull(val) {
				p.FileData = new(fileData)
				err = members(val, func(k string, v []byte) (err error) {
					switch k {
					case "mimeType":
						p.FileData.MimeType, err = str(v)
					case "fileUri":
						p.FileData.FileURI, err = str(v)
					}
					return field(k, err)
				})
			}
		case "functionCall":
			if !isNull(val) {
				p.FunctionCall = new(functionCall)
				err = members(val, func(k string, v []byte) (err error) {
					switch k {
					case "id":
						p.FunctionCall.ID, err = str(v)
					case "name":
						p.FunctionCall.Name, err = str(v)
					case "args":
						p.FunctionCall.Args = json.RawMessage(v)
					}
					return field(k, err)
				})
			}
		case "functionResponse":
			if !isNull(val) {
				p.FunctionResponse = new(functionResponse)
				err = members(val, func(k string, v []byte) (err error) {
					switch k {
					case "id":
						p.FunctionResponse.ID, err = str(v)
					case "name":
						p.FunctionResponse.Name, err = str(v)
					case "response":
						p.FunctionResponse.Response = json.RawMessage(v)
					}
					return field(k, err)
				})
			}
		case "executableCode", "codeExecutionResult", "videoMetadata", "toolCall", "toolResponse":
			if !isNull(val) && key != "videoMetadata" {
				p.other = key
			}
		}
		return field(key, err)
	})
}

func (t *tool) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "functionDeclarations":
			err = elements(val, func(v []byte) error {
				var d functionDeclaration
				err := members(v, func(k string, v []byte) (err error) {
					switch k {
					case "name":
						d.Name, err = str(v)
					case "description":
						d.Description, err = str(v)
					case "parameters":
						if !isNull(v) {
							d.Parameters = json.RawMessage(v)
						}
					case "parametersJsonSchema":
						if !isNull(v) {
							d.ParametersJSONSchema = json.RawMessage(v)
						}
					}
					return field(k, err)
				})
				t.FunctionDeclarations = append(t.FunctionDeclarations, d)
				return err
			})
		default:
			if !isNull(val) {
				t.other = key
			}
		}
		return field(key, err)
	})
}

func (t *toolConfig) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		if key != "functionCallingConfig" {
			return nil
		}
		err = members(val, func(k string, v []byte) (err error) {
			switch k {
			case "mode":
				t.FunctionCallingConfig.Mode, err = str(v)
			case "allowedFunctionNames":
				err = elements(v, func(e []byte) error {
					s, err := str(e)
					t.FunctionCallingConfig.AllowedFunctionNames = append(t.FunctionCallingConfig.AllowedFunctionNames, s)
					return err
				})
			}
			return field(k, err)
		})
		return field(key, err)
	})
}

var errNotNumber = errors.New("not a number")

// number keeps a raw JSON number as it was written; null is absent.
func number(dst *json.RawMessage, raw []byte) error {
	if isNull(raw) {
		return nil
	}
	if !isNumber(raw) {
		return errNotNumber
	}
	*dst = json.RawMessage(raw)
	return nil
}

func (g *generationConfig) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "stopSequences":
			err = elements(val, func(e []byte) error {
				s, err := str(e)
				g.StopSequences = append(g.StopSequences, s)
				return err
			})
		case "responseMimeType":
			g.ResponseMimeType, err = str(val)
		case "responseSchema":
			if !isNull(val) {
				g.ResponseSchema = json.RawMessage(val)
			}
		case "responseJsonSchema", "responseJsonSchemaOrdered":
			if !isNull(val) {
				g.ResponseJSONSchema = json.RawMessage(val)
			}
		case "candidateCount":
			err = number(&g.CandidateCount, val)
		case "maxOutputTokens":
			err = number(&g.MaxOutputTokens, val)
		case "temperature":
			err = number(&g.Temperature, val)
		case "topP":
			err = number(&g.TopP, val)
		case "topK":
			err = number(&g.TopK, val)
		case "seed":
			err = number(&g.Seed, val)
		case "presencePenalty":
			err = number(&g.PresencePenalty, val)
		case "frequencyPenalty":
			err = number(&g.FrequencyPenalty, val)
		case "responseLogprobs":
			g.ResponseLogprobs, err = boolean(val)
		case "logprobs":
			err = number(&g.Logprobs, val)
		case "thinkingConfig":
			if isNull(val) {
				return nil
			}
			tc := new(thinkingConfig)
			g.ThinkingConfig = tc
			err = members(val, func(k string, v []byte) (err error) {
				switch k {
				case "includeThoughts":
					tc.IncludeThoughts, err = boolean(v)
				case "thinkingBudget":
					if !isNull(v) {
						var n int64
						n, err = count(v)
						tc.ThinkingBudget = &n
					}
				case "thinkingLevel":
					tc.ThinkingLevel, err = str(v)
				}
				return field(k, err)
			})
		}
		return field(key, err)
	})
}

func (r *generateResponse) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "candidates":
			err = elements(val, func(v []byte) error {
				var c candidate
				if err := c.decode(v); err != nil {
					return err
				}
				r.Candidates = append(r.Candidates, c)
				return nil
			})
		case "promptFeedback":
			if !isNull(val) {
				r.PromptFeedback = new(promptFeedback)
				err = members(val, func(k string, v []byte) (err error) {
					if k == "blockReason" {
						r.PromptFeedback.BlockReason, err = str(v)
					}
					return field(k, err)
				})
			}
		case "usageMetadata":
			if !isNull(val) {
				r.UsageMetadata = new(usageMetadata)
				err = r.UsageMetadata.decode(val)
			}
		case "modelVersion":
			r.ModelVersion, err = str(val)
		case "responseId":
			r.ResponseID, err = str(val)
		case "error":
			if !isNull(val) {
				r.Error = new(googleError)
				err = r.Error.decode(val)
			}
		}
		return field(key, err)
	})
}

func (c *candidate) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "content":
			err = c.Content.decode(val)
		case "finishReason":
			c.FinishReason, err = str(val)
		case "index":
			c.Index, err = count(val)
			c.hasIndex = err == nil && !isNull(val)
		case "logprobsResult":
			if !isNull(val) {
				c.LogprobsResult = new(logprobsResult)
				err = c.LogprobsResult.decode(val)
			}
		}
		return field(key, err)
	})
}

func (u *usageMetadata) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "promptTokenCount":
			u.PromptTokenCount, err = count(val)
		case "candidatesTokenCount":
			u.CandidatesTokenCount, err = count(val)
		case "thoughtsTokenCount":
			u.ThoughtsTokenCount, err = count(val)
		case "cachedContentTokenCount":
			u.CachedContentTokenCount, err = count(val)
		case "toolUsePromptTokenCount":
			u.ToolUsePromptTokenCount, err = count(val)
		case "totalTokenCount":
			u.TotalTokenCount, err = count(val)
		}
		return field(key, err)
	})
}

func (l *logprobsResult) decode(raw []byte) error {
	cand := func(v []byte) (logprobCandidate, error) {
		var c logprobCandidate
		err := members(v, func(k string, v []byte) (err error) {
			switch k {
			case "token":
				c.Token, err = str(v)
			case "tokenId":
				c.TokenID, err = count(v)
			case "logProbability":
				err = number(&c.LogProbability, v)
			}
			return field(k, err)
		})
		return c, err
	}
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "chosenCandidates":
			err = elements(val, func(v []byte) error {
				c, err := cand(v)
				l.ChosenCandidates = append(l.ChosenCandidates, c)
				return err
			})
		case "topCandidates":
			err = elements(val, func(v []byte) error {
				var tc topCandidates
				err := members(v, func(k string, v []byte) error {
					if k != "candidates" {
						return nil
					}
					return field(k, elements(v, func(v []byte) error {
						c, err := cand(v)
						tc.Candidates = append(tc.Candidates, c)
						return err
					}))
				})
				l.TopCandidates = append(l.TopCandidates, tc)
				return err
			})
		}
		return field(key, err)
	})
}

func (e *googleError) decode(raw []byte) error {
	return members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "code":
			e.Code, err = count(val)
		case "message":
			e.Message, err = str(val)
		case "status":
			e.Status, err = str(val)
		case "details":
			err = elements(val, func(v []byte) error {
				e.Details = append(e.Details, json.RawMessage(v))
				return nil
			})
		}
		return field(key, err)
	})
}
