package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// chatOptions are what the response translation needs to know about the
// request.
type chatOptions struct {
	model        string // as the request named it
	includeUsage bool   // stream_options.include_usage
}

// signatureSeparator joins a tool call's id and the thought signature of
// the functionCall it came from. OpenAI clients echo tool call ids back
// verbatim, so the signature that Gemini 3 requires on the next turn
// survives the round trip through any client. LiteLLM uses the same
// separator, so histories it produced translate too.
const signatureSeparator = "__thought__"

// skipSignature is the value Google documents for a functionCall that has
// no real signature — one another model made, or history from before
// signatures — so that Gemini 3 does not reject the request.
const skipSignature = "skip_thought_signature_validator"

// translateChat turns an OpenAI chat completion request into a Gemini
// generateContent request.
func translateChat(body []byte) ([]byte, chatOptions, error) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, chatOptions{}, badRequest("the request body is not a valid chat completion request: %v", err)
	}
	model := strings.TrimPrefix(req.Model, "models/")
	opts := chatOptions{model: model, includeUsage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	if model == "" {
		return nil, opts, badRequest("the request names no model")
	}
	if !isNull(req.Audio) {
		return nil, opts, unsupported("audio output")
	}
	if !isNull(req.WebSearchOptions) {
		return nil, opts, unsupported("web_search_options")
	}

	var g generateRequest
	system, contents, err := translateMessages(req.Messages)
	if err != nil {
		return nil, opts, err
	}
	if len(system) > 0 {
		g.SystemInstruction = &content{Parts: system}
	}
	if geminiMajor(model) >= 3 {
		addSkipSignatures(contents)
	}
	g.Contents = contents
	if g.Contents == nil {
		g.Contents = []content{}
	}

	decls, err := translateTools(&req)
	if err != nil {
		return nil, opts, err
	}
	cfg, decls, err := translateToolChoice(&req, decls)
	if err != nil {
		return nil, opts, err
	}
	if len(decls) > 0 {
		g.Tools = []tool{{FunctionDeclarations: decls}}
		g.ToolConfig = cfg
	}

	gc, err := translateGenerationConfig(&req, model)
	if err != nil {
		return nil, opts, err
	}
	g.GenerationConfig = gc

	out, err := marshal(&g)
	if err != nil {
		return nil, opts, badRequest("the request cannot be encoded: %v", err)
	}
	return out, opts, nil
}

// translateMessages maps OpenAI's messages onto Gemini's system instruction
// and contents. Consecutive messages of one Gemini role are merged into one
// content: Gemini wants the answers to parallel function calls in one turn,
// and older models want roles to alternate.
func translateMessages(msgs []chatMessage) ([]part, []content, error) {
	var system []part
	var contents []content
	callNames := map[string]string{} // tool call id → function name
	add := func(role string, parts []part) {
		if len(parts) == 0 {
			return
		}
		if n := len(contents); n > 0 && contents[n-1].Role == role {
			contents[n-1].Parts = append(contents[n-1].Parts, parts...)
			return
		}
		contents = append(contents, content{Role: role, Parts: parts})
	}
	for i, m := range msgs {
		where := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			// Gemini has one system instruction; every system message joins
			// it, in order.
			parts, err := textOnly(m.Content, where)
			if err != nil {
				return nil, nil, err
			}
			system = append(system, parts...)
		case "user":
			parts, err := userParts(m.Content, where)
			if err != nil {
				return nil, nil, err
			}
			add("user", parts)
		case "assistant":
			parts, err := textOnly(m.Content, where)
			if err != nil {
				return nil, nil, err
			}
			for j, tc := range m.ToolCalls {
				if tc.Type != "" && tc.Type != "function" {
					return nil, nil, unsupported("%s.tool_calls[%d] of type %q", where, j, tc.Type)
				}
				p, err := callPart(tc.Function, tc.ID, where+".tool_calls["+strconv.Itoa(j)+"]")
				if err != nil {
					return nil, nil, err
				}
				if p.ThoughtSignature == "" && tc.ExtraContent != nil && tc.ExtraContent.Google != nil {
					p.ThoughtSignature = tc.ExtraContent.Google.ThoughtSignature
				}
				callNames[tc.ID] = tc.Function.Name
				parts = append(parts, p)
			}
			if m.FunctionCall != nil {
				p, err := callPart(*m.FunctionCall, "", where+".function_call")
				if err != nil {
					return nil, nil, err
				}
				parts = append(parts, p)
			}
			add("model", parts)
		case "tool", "function":
			name := m.Name
			if m.Role == "tool" {
				var ok bool
				if name, ok = callNames[m.ToolCallID]; !ok {
					return nil, nil, badRequest("%s answers tool call %q, which no earlier assistant message made", where, m.ToolCallID)
				}
			}
			resp, err := functionResult(m.Content, where)
			if err != nil {
				return nil, nil, err
			}
			// The current API takes function responses in the user role.
			add("user", []part{{FunctionResponse: &functionResponse{Name: name, Response: resp}}})
		default:
			return nil, nil, badRequest("%s has the unknown role %q", where, m.Role)
		}
	}
	return system, contents, nil
}

// textOnly reads content that may only hold text: a system or assistant
// message's.
func textOnly(raw json.RawMessage, where string) ([]part, error) {
	parts, err := contentParts(raw, where)
	if err != nil {
		return nil, err
	}
	var out []part
	for j, p := range parts {
		switch p.Type {
		case "text", "refusal":
			t := p.Text
			if p.Type == "refusal" {
				t = p.Refusal
			}
			if t != "" {
				out = append(out, part{Text: t})
			}
		default:
			return nil, unsupported("%s.content[%d] of type %q in this role", where, j, p.Type)
		}
	}
	return out, nil
}

// contentParts reads a message's content: a string becomes one text part.
func contentParts(raw json.RawMessage, where string) ([]contentPart, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case isNull(raw):
		return nil, nil
	case raw[0] == '"':
		s, err := jsonx.Unquote(raw)
		if err != nil {
			return nil, badRequest("%s.content is not a valid string", where)
		}
		return []contentPart{{Type: "text", Text: s}}, nil
	case raw[0] == '[':
		var parts []contentPart
		if err := json.Unmarshal(raw, &parts); err != nil {
			return nil, badRequest("%s.content is not a valid list of content parts: %v", where, err)
		}
		return parts, nil
	}
	return nil, badRequest("%s.content must be a string or a list of content parts", where)
}

func userParts(raw json.RawMessage, where string) ([]part, error) {
	parts, err := contentParts(raw, where)
	if err != nil {
		return nil, err
	}
	var out []part
	for j, p := range parts {
		at := where + ".content[" + strconv.Itoa(j) + "]"
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, part{Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, badRequest("%s has no image_url.url", at)
			}
			gp, err := mediaPart(p.ImageURL.URL, at)
			if err != nil {
				return nil, err
			}
			out = append(out, gp)
		case "input_audio":
			if p.InputAudio == nil || p.InputAudio.Data == "" {
				return nil, badRequest("%s has no input_audio.data", at)
			}
			format := strings.ToLower(p.InputAudio.Format)
			if format == "" {
				format = "wav"
			}
			out = append(out, part{InlineData: &blob{MimeType: "audio/" + format, Data: p.InputAudio.Data}})
		case "file":
			if p.File == nil {
				return nil, badRequest("%s has no file", at)
			}
			switch {
			case p.File.FileData != "":
				gp, err := mediaPart(p.File.FileData, at)
				if err != nil {
					return nil, err
				}
				if gp.InlineData == nil {
					return nil, badRequest("%s: file.file_data must be a data: URL", at)
				}
				out = append(out, gp)
			case isGeminiFile(p.File.FileID):
				// A file uploaded to Gemini's Files API, named by its URI.
				out = append(out, part{FileData: &fileData{MimeType: guessMimeType(p.File.Filename), FileURI: p.File.FileID}})
			default:
				return nil, unsupported("%s: file_id %q is not a Gemini file", at, p.File.FileID)
			}
		default:
			return nil, unsupported("%s of type %q", at, p.Type)
		}
	}
	return out, nil
}

func isGeminiFile(id string) bool {
	return strings.HasPrefix(id, "https://generativelanguage.googleapis.com/") || strings.HasPrefix(id, "files/")
}

// mediaPart turns an image's or file's URL into a part: a data: URL
// becomes inline data; any other URL becomes fileData, which Gemini fetches.
func mediaPart(rawURL, where string) (part, error) {
	if strings.HasPrefix(rawURL, "data:") {
		mimeType, data, err := parseDataURL(rawURL)
		if err != nil {
			return part{}, badRequest("%s: %v", where, err)
		}
		return part{InlineData: &blob{MimeType: mimeType, Data: data}}, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return part{}, badRequest("%s: %q is neither a data: URL nor an absolute URL", where, rawURL)
	}
	// FileData's mimeType is optional; it is sent only when the URL's
	// extension tells it, since a guess like image/* is not a MIME type
	// Gemini accepts.
	return part{FileData: &fileData{MimeType: guessMimeType(u.Path), FileURI: rawURL}}, nil
}

// parseDataURL splits "data:image/png;base64,...." into its media type and
// base64 payload. A payload that is not base64 is encoded; a missing media
// type is sniffed from the payload.
func parseDataURL(s string) (mimeType, data string, err error) {
	comma := strings.IndexByte(s, ',')
	if comma < 0 {
		return "", "", errString("malformed data: URL")
	}
	meta, payload := s[len("data:"):comma], s[comma+1:]
	isBase64 := false
	if strings.HasSuffix(meta, ";base64") {
		isBase64, meta = true, strings.TrimSuffix(meta, ";base64")
	}
	if i := strings.IndexByte(meta, ';'); i >= 0 {
		meta = meta[:i] // parameters such as charset
	}
	if !isBase64 {
		decoded, err := url.PathUnescape(payload)
		if err != nil {
			return "", "", errString("malformed data: URL")
		}
		payload = base64.StdEncoding.EncodeToString([]byte(decoded))
	}
	if meta == "" {
		head := payload
		if len(head) > 684 {
			head = head[:684] // 512 bytes decoded, what DetectContentType reads
		}
		b, _ := base64.StdEncoding.DecodeString(head[:len(head)/4*4])
		meta = strings.SplitN(http.DetectContentType(b), ";", 2)[0]
	}
	return meta, payload, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// guessMimeType names the type of a file from its extension, or returns "".
func guessMimeType(p string) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	case ".gif":
		return "image/gif"
	case ".heic":
		return "image/heic"
	case ".heif":
		return "image/heif"
	case ".pdf":
		return "application/pdf"
	case ".wav":
		return "audio/wav"
	case ".mp3":
		return "audio/mp3"
	case ".mp4":
		return "video/mp4"
	case ".txt":
		return "text/plain"
	}
	return ""
}

// callPart turns an assistant's tool call into a functionCall part,
// recovering the thought signature its id carries.
func callPart(fc chatFunctionCall, id, where string) (part, error) {
	if fc.Name == "" {
		return part{}, badRequest("%s has no function name", where)
	}
	args, err := callArguments(fc.Arguments)
	if err != nil {
		return part{}, badRequest("%s.function.arguments: %v", where, err)
	}
	p := part{FunctionCall: &functionCall{Name: fc.Name, Args: args}}
	if i := strings.Index(id, signatureSeparator); i >= 0 {
		p.ThoughtSignature = id[i+len(signatureSeparator):]
	}
	return p, nil
}

// callArguments turns a tool call's arguments — a JSON string by the spec
// — into the object Gemini's args must be. Empty arguments are {}; text
// that is not a JSON object (a model can write broken JSON, and the client
// echoes it back) is kept as {"arguments": text} rather than failing the
// whole conversation.
func callArguments(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return json.RawMessage("{}"), nil
	}
	if raw[0] == '{' {
		if !isObject(raw) {
			return nil, errString("not valid JSON")
		}
		return compact(raw), nil
	}
	s, err := str(raw)
	if err != nil {
		return nil, errString("must be a string")
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return json.RawMessage("{}"), nil
	}
	if isObject([]byte(t)) {
		return compact([]byte(t)), nil
	}
	wrapped := append([]byte(`{"arguments":`), jsonx.AppendString(nil, s)...)
	return append(wrapped, '}'), nil
}

// functionResult turns a tool message's content into a functionResponse's
// response, which must be an object: a JSON object is sent as it is,
// anything else as {"content": text}.
func functionResult(raw json.RawMessage, where string) (json.RawMessage, error) {
	parts, err := contentParts(raw, where)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	for j, p := range parts {
		if p.Type != "text" {
			return nil, unsupported("%s.content[%d] of type %q in a tool result", where, j, p.Type)
		}
		text.WriteString(p.Text)
	}
	s := text.String()
	if t := strings.TrimSpace(s); isObject([]byte(t)) {
		return compact([]byte(t)), nil
	}
	out := append([]byte(`{"content":`), jsonx.AppendString(nil, s)...)
	return append(out, '}'), nil
}

// geminiMajor is the generation of a Gemini model id (3 for
// gemini-3-pro-preview), or 0 when the id does not say.
func geminiMajor(model string) int {
	model = strings.TrimPrefix(model, "models/")
	if !strings.HasPrefix(model, "gemini-") {
		return 0
	}
	rest := model[len("gemini-"):]
	n := 0
	i := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && i < 4; i++ {
		n = n*10 + int(rest[i]-'0')
	}
	if i == 0 {
		return 0
	}
	return n
}

// addSkipSignatures gives the first functionCall of each model turn that
// lacks one the documented placeholder signature. Gemini 3 rejects a
// function call without a signature, and history from another provider
// (after a fallback) or from an older model has none.
func addSkipSignatures(contents []content) {
	for i := range contents {
		if contents[i].Role != "model" {
			continue
		}
		for j := range contents[i].Parts {
			p := &contents[i].Parts[j]
			if p.FunctionCall == nil {
				continue
			}
			if p.ThoughtSignature == "" {
				p.ThoughtSignature = skipSignature
			}
			break
		}
	}
}

// translateTools turns function tools (and the deprecated functions list)
// into function declarations.
func translateTools(req *chatRequest) ([]functionDeclaration, error) {
	var decls []functionDeclaration
	add := func(f *chatFunction, where string) error {
		if f == nil || f.Name == "" {
			return badRequest("%s has no function name", where)
		}
		d := functionDeclaration{Name: f.Name, Description: f.Description}
		if !isNull(f.Parameters) {
			s, err := toGeminiSchema(f.Parameters)
			if err != nil {
				return asBadRequest(err, where+".parameters is not a valid JSON schema")
			}
			// A function without parameters is declared without them:
			// Gemini rejects an OBJECT with empty properties.
			if !(s.Type == "OBJECT" && s.Properties == nil && len(s.AnyOf) == 0) {
				d.Parameters, err = marshal(s)
				if err != nil {
					return badRequest("%s.parameters: %v", where, err)
				}
			}
		}
		decls = append(decls, d)
		return nil
	}
	for i, t := range req.Tools {
		where := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "function" {
			return nil, unsupported("%s of type %q", where, t.Type)
		}
		if err := add(t.Function, where+".function"); err != nil {
			return nil, err
		}
	}
	for i := range req.Functions {
		if err := add(&req.Functions[i], "functions["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
	}
	return decls, nil
}

// translateToolChoice maps tool_choice (or the deprecated function_call)
// onto functionCallingConfig: auto → AUTO, none → NONE, required → ANY, a
// named function → ANY limited to it. allowed_tools narrows the declared
// functions to the allowed ones, with AUTO or ANY.
func translateToolChoice(req *chatRequest, decls []functionDeclaration) (*toolConfig, []functionDeclaration, error) {
	choice := req.ToolChoice
	if isNull(choice) {
		choice = req.FunctionCall
	}
	if isNull(choice) {
		return nil, decls, nil
	}
	mode := func(m string, names ...string) (*toolConfig, []functionDeclaration, error) {
		if len(decls) == 0 {
			if m == "ANY" {
				return nil, nil, badRequest("tool_choice asks for a tool call, but the request declares no tools")
			}
			return nil, decls, nil
		}
		return &toolConfig{FunctionCallingConfig: functionCallingConfig{Mode: m, AllowedFunctionNames: names}}, decls, nil
	}
	if choice[0] == '"' {
		s, _ := str(choice)
		switch s {
		case "auto":
			return mode("AUTO")
		case "none":
			return mode("NONE")
		case "required", "any":
			return mode("ANY")
		}
		return nil, nil, badRequest("tool_choice %q is unknown", s)
	}
	var tc struct {
		Type     string `json:"type"`
		Name     string `json:"name"` // the deprecated function_call form
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools *struct {
			Mode  string `json:"mode"`
			Tools []struct {
				Type     string `json:"type"`
				Function *struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		} `json:"allowed_tools"`
	}
	if err := json.Unmarshal(choice, &tc); err != nil {
		return nil, nil, badRequest("tool_choice is malformed: %v", err)
	}
	switch {
	case tc.Type == "function" && tc.Function != nil && tc.Function.Name != "":
		return mode("ANY", tc.Function.Name)
	case tc.Type == "" && tc.Name != "":
		return mode("ANY", tc.Name)
	case tc.Type == "allowed_tools" && tc.AllowedTools != nil:
		allowed := map[string]bool{}
		for _, t := range tc.AllowedTools.Tools {
			if t.Function != nil {
				allowed[t.Function.Name] = true
			}
		}
		var kept []functionDeclaration
		var names []string
		for _, d := range decls {
			if allowed[d.Name] {
				kept = append(kept, d)
				names = append(names, d.Name)
			}
		}
		decls = kept
		switch tc.AllowedTools.Mode {
		case "required":
			return mode("ANY", names...)
		case "auto", "":
			return mode("AUTO")
		}
		return nil, nil, badRequest("tool_choice.allowed_tools.mode %q is unknown", tc.AllowedTools.Mode)
	}
	return nil, nil, badRequest("tool_choice of type %q is not supported", tc.Type)
}

// translateGenerationConfig maps the sampling and output parameters.
func translateGenerationConfig(req *chatRequest, model string) (*generationConfig, error) {
	g := &generationConfig{}
	for _, m := range req.Modalities {
		switch m {
		case "text":
		case "image":
			// OpenRouter's way to ask for images, which Gemini's image
			// models return when the response modalities allow them.
			g.ResponseModalities = []string{"TEXT", "IMAGE"}
		default:
			return nil, unsupported("output modality %q", m)
		}
	}
	nums := []struct {
		name string
		src  json.RawMessage
		dst  *json.RawMessage
	}{
		{"temperature", req.Temperature, &g.Temperature},
		{"top_p", req.TopP, &g.TopP},
		{"top_k", req.TopK, &g.TopK},
		{"n", req.N, &g.CandidateCount},
		{"seed", req.Seed, &g.Seed},
		{"presence_penalty", req.PresencePenalty, &g.PresencePenalty},
		{"frequency_penalty", req.FrequencyPenalty, &g.FrequencyPenalty},
		{"max_tokens", req.MaxTokens, &g.MaxOutputTokens},
		{"max_completion_tokens", req.MaxCompletionTokens, &g.MaxOutputTokens}, // wins over max_tokens
	}
	for _, n := range nums {
		if err := number(n.dst, n.src); err != nil {
			return nil, badRequest("%s must be a number", n.name)
		}
	}

	stop := bytes.TrimSpace(req.Stop)
	switch {
	case isNull(stop):
	case stop[0] == '"':
		if s, _ := str(stop); s != "" {
			g.StopSequences = []string{s}
		}
	default:
		var list []string
		if err := json.Unmarshal(stop, &list); err != nil {
			return nil, badRequest("stop must be a string or a list of strings")
		}
		for _, s := range list {
			if s != "" {
				g.StopSequences = append(g.StopSequences, s)
			}
		}
	}

	if req.Logprobs != nil && *req.Logprobs {
		g.ResponseLogprobs = true
		if err := number(&g.Logprobs, req.TopLogprobs); err != nil {
			return nil, badRequest("top_logprobs must be a number")
		}
	}

	if err := translateResponseFormat(req.ResponseFormat, g); err != nil {
		return nil, err
	}

	tc, err := translateReasoning(req, model)
	if err != nil {
		return nil, err
	}
	g.ThinkingConfig = tc

	if g.isZero() {
		return nil, nil
	}
	return g, nil
}

func (g *generationConfig) isZero() bool {
	return g.StopSequences == nil && g.ResponseMimeType == "" && g.ResponseSchema == nil &&
		g.CandidateCount == nil && g.MaxOutputTokens == nil && g.Temperature == nil && g.TopP == nil &&
		g.TopK == nil && g.Seed == nil && g.PresencePenalty == nil && g.FrequencyPenalty == nil &&
		!g.ResponseLogprobs && g.Logprobs == nil && g.ThinkingConfig == nil && g.ResponseModalities == nil
}

// translateResponseFormat maps response_format: json_object asks for JSON,
// json_schema for JSON of the converted schema.
func translateResponseFormat(raw json.RawMessage, g *generationConfig) error {
	if isNull(raw) {
		return nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return badRequest("response_format is malformed: %v", err)
	}
	switch rf.Type {
	case "text", "":
	case "json_object":
		g.ResponseMimeType = "application/json"
	case "json_schema":
		g.ResponseMimeType = "application/json"
		if rf.JSONSchema == nil || isNull(rf.JSONSchema.Schema) {
			return nil
		}
		s, err := toGeminiSchema(rf.JSONSchema.Schema)
		if err != nil {
			return asBadRequest(err, "response_format.json_schema.schema is not a valid JSON schema")
		}
		if g.ResponseSchema, err = marshal(s); err != nil {
			return badRequest("response_format.json_schema.schema: %v", err)
		}
	default:
		return badRequest("response_format.type %q is unknown", rf.Type)
	}
	return nil
}

// translateReasoning maps reasoning_effort, and OpenRouter's reasoning
// object, onto thinkingConfig. Gemini 3 takes a thinking level and cannot
// switch thinking off; Gemini 2.5 takes a token budget. The levels follow
// Google's own table for its OpenAI-compatible endpoint: Pro models know
// only LOW and HIGH. Thought summaries are asked for only when the client
// asks for reasoning through OpenRouter's reasoning object (unless it
// excludes it) or include_reasoning.
func translateReasoning(req *chatRequest, model string) (*thinkingConfig, error) {
	effort := req.ReasoningEffort
	r := req.Reasoning
	if r != nil && r.Effort != "" {
		effort = r.Effort
	}
	tc := &thinkingConfig{}
	set := false
	gen3 := geminiMajor(model) >= 3
	pro := strings.Contains(model, "pro")
	switch {
	case r != nil && r.Enabled != nil && !*r.Enabled:
		effort, set = "none", true
	case r != nil && r.MaxTokens != nil:
		// Gemini 3 still takes a budget, in place of a level.
		tc.ThinkingBudget, set = ptr(*r.MaxTokens), true
		effort = ""
	}
	if effort != "" {
		set = true
		if gen3 {
			level := map[string]string{"none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH"}[effort]
			if level == "" {
				return nil, badRequest("reasoning effort %q is unknown", effort)
			}
			if pro && (level == "MINIMAL" || level == "MEDIUM") {
				level = map[string]string{"MINIMAL": "LOW", "MEDIUM": "HIGH"}[level]
			}
			tc.ThinkingLevel = level
		} else {
			budget, ok := map[string]int64{"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}[effort]
			if !ok {
				return nil, badRequest("reasoning effort %q is unknown", effort)
			}
			if budget == 0 && pro {
				budget = 128 // 2.5 Pro cannot switch thinking off; this is its least
			}
			tc.ThinkingBudget = &budget
		}
	}
	if r != nil && !(r.Exclude != nil && *r.Exclude) && !(r.Enabled != nil && !*r.Enabled) ||
		req.IncludeReasoning != nil && *req.IncludeReasoning {
		tc.IncludeThoughts, set = true, true
	}
	if !set {
		return nil, nil
	}
	return tc, nil
}
