package mock

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// This file simulates Google's Gemini API (generativelanguage): POST
// /{name}/v1beta/models/{model}:{method} for generateContent,
// streamGenerateContent (gemini_stream.go), countTokens, embedContent and
// batchEmbedContents. Google's JSON accepts each field in lowerCamelCase
// or in snake_case; so does the mock, for the fields it reads.

// geminiRequest holds what the mock needs from a GenerateContentRequest.
// Raw schemas alias the request body, which must outlive them.
type geminiRequest struct {
	Contents               []geminiContent         `json:"contents"`
	SystemInstruction      *geminiContent          `json:"systemInstruction"`
	SystemInstructionSnake *geminiContent          `json:"system_instruction"`
	Tools                  []geminiTool            `json:"tools"`
	ToolConfig             *geminiToolConfig       `json:"toolConfig"`
	ToolConfigSnake        *geminiToolConfig       `json:"tool_config"`
	GenerationConfig       *geminiGenerationConfig `json:"generationConfig"`
	GenerationConfigSnake  *geminiGenerationConfig `json:"generation_config"`
	// countTokens may wrap the request.
	GenerateContentRequest      *geminiRequest `json:"generateContentRequest"`
	GenerateContentRequestSnake *geminiRequest `json:"generate_content_request"`
}

type geminiContent struct {
	Role  geminiRole   `json:"role"`
	Parts []geminiPart `json:"parts"`
}

type geminiRole uint8

const (
	geminiRoleNone geminiRole = iota // allowed for a single turn
	geminiRoleUser
	geminiRoleModel
	geminiRoleFunction
	geminiRoleInvalid
)

func (r *geminiRole) UnmarshalJSON(raw []byte) error {
	switch string(raw) {
	case `"user"`:
		*r = geminiRoleUser
	case `"model"`:
		*r = geminiRoleModel
	case `"function"`:
		*r = geminiRoleFunction
	case "null", `""`:
		*r = geminiRoleNone
	default:
		if raw[0] != '"' {
			return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
		}
		*r = geminiRoleInvalid
	}
	return nil
}

// geminiPart is one part: text, inline or file data, a function call or
// response, code.
type geminiPart struct {
	Text                     *hashedText `json:"text"`
	InlineData               hashedRaw   `json:"inlineData"`
	InlineDataSnake          hashedRaw   `json:"inline_data"`
	FileData                 hashedRaw   `json:"fileData"`
	FileDataSnake            hashedRaw   `json:"file_data"`
	FunctionCall             hashedRaw   `json:"functionCall"`
	FunctionCallSnake        hashedRaw   `json:"function_call"`
	FunctionResponse         hashedRaw   `json:"functionResponse"`
	FunctionResponseSnake    hashedRaw   `json:"function_response"`
	ExecutableCode           hashedRaw   `json:"executableCode"`
	ExecutableCodeSnake      hashedRaw   `json:"executable_code"`
	CodeExecutionResult      hashedRaw   `json:"codeExecutionResult"`
	CodeExecutionResultSnake hashedRaw   `json:"code_execution_result"`
}

// geminiImageTokens is what an image (or any inline or file data) counts:
// Gemini's price of an image up to 384 pixels a side.
const geminiImageTokens = 258

// tokens is what the part counts in the prompt, and whether it is media.
func (p *geminiPart) tokens() (n int, media bool, ok bool) {
	if p.Text != nil {
		return (p.Text.bytes + 3) / 4, false, true
	}
	if p.InlineData.n+p.InlineDataSnake.n+p.FileData.n+p.FileDataSnake.n > 0 {
		return geminiImageTokens, true, true
	}
	raw := p.FunctionCall.n + p.FunctionCallSnake.n + p.FunctionResponse.n + p.FunctionResponseSnake.n +
		p.ExecutableCode.n + p.ExecutableCodeSnake.n + p.CodeExecutionResult.n + p.CodeExecutionResultSnake.n
	return (raw + 3) / 4, false, raw > 0
}

type geminiTool struct {
	FunctionDeclarations      []geminiFunction `json:"functionDeclarations"`
	FunctionDeclarationsSnake []geminiFunction `json:"function_declarations"`
}

type geminiFunction struct {
	Name                      string     `json:"name"`
	Description               hashedText `json:"description"`
	Parameters                rawJSON    `json:"parameters"`
	ParametersJSONSchema      rawJSON    `json:"parametersJsonSchema"`
	ParametersJSONSchemaSnake rawJSON    `json:"parameters_json_schema"`
}

func (f *geminiFunction) schema() []byte {
	switch {
	case f.ParametersJSONSchema != nil:
		return f.ParametersJSONSchema
	case f.ParametersJSONSchemaSnake != nil:
		return f.ParametersJSONSchemaSnake
	}
	return f.Parameters
}

type geminiToolConfig struct {
	FunctionCallingConfig      *geminiFunctionCallingConfig `json:"functionCallingConfig"`
	FunctionCallingConfigSnake *geminiFunctionCallingConfig `json:"function_calling_config"`
}

type geminiFunctionCallingConfig struct {
	Mode                      string   `json:"mode"`
	AllowedFunctionNames      []string `json:"allowedFunctionNames"`
	AllowedFunctionNamesSnake []string `json:"allowed_function_names"`
}

type geminiGenerationConfig struct {
	MaxOutputTokens         *flexNumber           `json:"maxOutputTokens"`
	MaxOutputTokensSnake    *flexNumber           `json:"max_output_tokens"`
	StopSequences           []string              `json:"stopSequences"`
	StopSequencesSnake      []string              `json:"stop_sequences"`
	ResponseMimeType        string                `json:"responseMimeType"`
	ResponseMimeTypeSnake   string                `json:"response_mime_type"`
	ResponseSchema          rawJSON               `json:"responseSchema"`
	ResponseSchemaSnake     rawJSON               `json:"response_schema"`
	ResponseJSONSchema      rawJSON               `json:"responseJsonSchema"`
	ResponseJSONSchemaSnake rawJSON               `json:"response_json_schema"`
	CandidateCount          *flexNumber           `json:"candidateCount"`
	CandidateCountSnake     *flexNumber           `json:"candidate_count"`
	ThinkingConfig          *geminiThinkingConfig `json:"thinkingConfig"`
	ThinkingConfigSnake     *geminiThinkingConfig `json:"thinking_config"`
}

type geminiThinkingConfig struct {
	ThinkingBudget      *flexNumber `json:"thinkingBudget"`
	ThinkingBudgetSnake *flexNumber `json:"thinking_budget"`
}

// geminiSettings is a request's generation settings, whichever spelling
// carried them.
type geminiSettings struct {
	maxOutputTokens int64 // -1: none
	stops           []string
	json            bool
	schema          []byte
	candidates      int
	thinkingBudget  int64 // -1: dynamic
	toolMode        string
	allowed         []string
}

func pick[T any](camel, snake *T) *T {
	if camel != nil {
		return camel
	}
	return snake
}

func (req *geminiRequest) settings() geminiSettings {
	s := geminiSettings{maxOutputTokens: -1, candidates: 1, thinkingBudget: -1}
	if gc := pick(req.GenerationConfig, req.GenerationConfigSnake); gc != nil {
		if n := pick(gc.MaxOutputTokens, gc.MaxOutputTokensSnake); n != nil && *n > 0 {
			s.maxOutputTokens = int64(*n)
		}
		s.stops = gc.StopSequences
		if s.stops == nil {
			s.stops = gc.StopSequencesSnake
		}
		mime := gc.ResponseMimeType
		if mime == "" {
			mime = gc.ResponseMimeTypeSnake
		}
		s.json = mime == "application/json"
		for _, schema := range [...]rawJSON{gc.ResponseJSONSchema, gc.ResponseJSONSchemaSnake, gc.ResponseSchema, gc.ResponseSchemaSnake} {
			if schema != nil {
				s.schema = schema
				break
			}
		}
		if n := pick(gc.CandidateCount, gc.CandidateCountSnake); n != nil {
			s.candidates = int(*n)
		}
		if tc := pick(gc.ThinkingConfig, gc.ThinkingConfigSnake); tc != nil {
			if b := pick(tc.ThinkingBudget, tc.ThinkingBudgetSnake); b != nil && *b >= 0 {
				s.thinkingBudget = int64(*b)
			}
		}
	}
	if tc := pick(req.ToolConfig, req.ToolConfigSnake); tc != nil {
		if fc := pick(tc.FunctionCallingConfig, tc.FunctionCallingConfigSnake); fc != nil {
			s.toolMode = strings.ToUpper(fc.Mode)
			s.allowed = fc.AllowedFunctionNames
			if s.allowed == nil {
				s.allowed = fc.AllowedFunctionNamesSnake
			}
		}
	}
	return s
}

func (req *geminiRequest) functions() []*geminiFunction {
	var fs []*geminiFunction
	for i := range req.Tools {
		t := &req.Tools[i]
		decls := t.FunctionDeclarations
		if decls == nil {
			decls = t.FunctionDeclarationsSnake
		}
		for j := range decls {
			fs = append(fs, &decls[j])
		}
	}
	return fs
}

// maxCandidates is the largest candidateCount Gemini accepts.
const maxCandidates = 8

// decodeGemini decodes body into v, answering as Google's JSON parser does.
func decodeGemini(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badRequest(typeErr.Field, "", "Invalid JSON payload received. Invalid value at '"+typeErr.Field+"' ("+typeErr.Value+").")
		}
		return badRequest("", "", "Invalid JSON payload received. Unexpected token.")
	}
	return nil
}

// parseGeminiRequest decodes and validates a GenerateContentRequest.
func parseGeminiRequest(body []byte, req *geminiRequest) *apiError {
	if aerr := decodeGemini(body, req); aerr != nil {
		return aerr
	}
	return req.validate()
}

func (req *geminiRequest) validate() *apiError {
	if len(req.Contents) == 0 {
		return badRequest("contents", "", "* GenerateContentRequest.contents: contents is not specified\n")
	}
	for i, c := range req.Contents {
		at := "GenerateContentRequest.contents[" + strconv.Itoa(i) + "]"
		if c.Role == geminiRoleInvalid {
			return badRequest("contents", "", "Please use a valid role: user, model.")
		}
		if len(c.Parts) == 0 {
			return badRequest("contents", "", "* "+at+".parts: contents.parts must not be empty.\n")
		}
		for j := range c.Parts {
			if _, _, ok := c.Parts[j].tokens(); !ok {
				return badRequest("contents", "", "* "+at+".parts["+strconv.Itoa(j)+"].data: required oneof field 'data' must have one initialized field\n")
			}
		}
	}
	for i, f := range req.functions() {
		if f.Name == "" {
			return badRequest("tools", "", "* GenerateContentRequest.tools[0].function_declarations["+strconv.Itoa(i)+"].name: Name cannot be empty.\n")
		}
		if s := f.schema(); s != nil && s[0] != '{' {
			return badRequest("tools", "", "* GenerateContentRequest.tools[0].function_declarations["+strconv.Itoa(i)+"].parameters: must be an object.\n")
		}
	}
	s := req.settings()
	if s.candidates < 1 || s.candidates > maxCandidates {
		return badRequest("generation_config.candidate_count", "", "* GenerateContentRequest.generation_config.candidate_count: candidate_count must be between 1 and 8.\n")
	}
	switch s.toolMode {
	case "", "MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED":
	default:
		return badRequest("tool_config", "", "Invalid JSON payload received. Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), \""+s.toolMode+"\"")
	}
	return nil
}

// geminiUsage is a response's usageMetadata.
type geminiUsage struct {
	prompt, cached, media int
	// candidates and thoughts are totals over the candidates.
	candidates, thoughts int
}

// countPrompt counts the prompt: each text part at 4 bytes a token,
// rounded up, each inline or file data part 258, function calls and
// responses by their JSON, function declarations by their name,
// description and schema. cachedContentTokenCount follows OpenAI's rule
// (see promptTokens): with a prompt of 1,024 tokens or more, everything
// before the last content (declarations, system instruction, earlier turns)
// is an implicitly cached prefix when it is itself 1,024 tokens or more,
// counted in 1,024 + 128·k token steps.
func (req *geminiRequest) countPrompt() geminiUsage {
	var u geminiUsage
	for _, f := range req.functions() {
		u.prompt += (len(f.Name) + f.Description.bytes + len(f.schema()) + 3) / 4
	}
	count := func(c *geminiContent) {
		for j := range c.Parts {
			n, media, _ := c.Parts[j].tokens()
			u.prompt += n
			if media {
				u.media += n
			}
		}
	}
	if si := pick(req.SystemInstruction, req.SystemInstructionSnake); si != nil {
		count(si)
	}
	prefix := 0
	for i := range req.Contents {
		if i == len(req.Contents)-1 {
			prefix = u.prompt
		}
		count(&req.Contents[i])
	}
	if u.prompt >= 1024 && prefix >= 1024 {
		u.cached = 1024 + (prefix-1024)/128*128
	}
	return u
}

// isThinkingModel says whether a Gemini model thinks before it answers:
// names containing "2.5" or "thinking", and the gemini-3 family.
func isThinkingModel(model string) bool {
	return strings.Contains(model, "2.5") || strings.Contains(model, "thinking") || strings.Contains(model, "gemini-3")
}

// geminiReply is what a generateContent response needs.
type geminiReply struct {
	model      string
	candidates int
	usage      geminiUsage
	ans        answer
	// stream pacing and faults, as for chat completions.
	tokensPerSecond float64
	cutAfter        int
	malformed       bool
	// sse: streamed as server-sent events (alt=sse) rather than a JSON array.
	sse bool
}

// reply settles the answer: function calls (see pickTools; mode ANY
// requires them, restricted to allowedFunctionNames), JSON for
// responseMimeType application/json (from responseJsonSchema or
// responseSchema when given, else {"answer":…}), or words cut by
// stopSequences; then thoughts for thinking models (thinkingBudget 0 turns
// them off, a positive budget caps them) and maxOutputTokens, which
// thoughts count against.
func (req *geminiRequest) reply(rep *geminiReply, words int, scratch *[]byte) *apiError {
	s := req.settings()
	rep.candidates = s.candidates
	a := &rep.ans
	var specs []toolSpec
	for _, f := range req.functions() {
		specs = append(specs, toolSpec{name: f.Name, schema: f.schema()})
	}
	choice := toolChoice{allowed: s.allowed}
	switch s.toolMode {
	case "ANY":
		choice.mode = toolRequired
	case "NONE":
		choice.mode = toolNone
	}
	asks := false
	if last := req.Contents[len(req.Contents)-1]; last.Role == geminiRoleUser || last.Role == geminiRoleNone {
		for _, p := range last.Parts {
			asks = asks || p.Text != nil && p.Text.mentions&mentionsCall != 0
		}
	}
	if picks := pickTools(specs, &choice, asks); len(picks) > 0 {
		calls, i, err := makeCalls(specs, picks)
		if err != nil {
			return badRequest("tools", "", "* GenerateContentRequest.tools[0].function_declarations["+strconv.Itoa(i)+"].parameters: "+err.Error()+"\n")
		}
		a.setCalls(calls)
	} else if s.json && s.schema != nil {
		doc, err := generateFromSchema(s.schema)
		if err != nil {
			return badRequest("generation_config.response_schema", "", "* GenerateContentRequest.generation_config.response_schema: "+err.Error()+"\n")
		}
		a.setText(doc)
	} else if s.json {
		*scratch = appendJSONObjectReply((*scratch)[:0], words)
		a.setText(*scratch)
	} else {
		*scratch = a.setWords(words, s.stops, (*scratch)[:0])
	}
	if isThinkingModel(rep.model) && s.thinkingBudget != 0 {
		a.think(s.thinkingBudget)
	}
	a.limit(s.maxOutputTokens)
	return nil
}

// gemini serves the methods of a model.
func gemini(w http.ResponseWriter, r *http.Request, p *provider, model, method string) {
	switch method {
	case "generateContent", "streamGenerateContent":
		generateContent(w, r, p, model, method == "streamGenerateContent")
	case "countTokens":
		geminiCountTokens(w, r, p)
	case "embedContent", "batchEmbedContents":
		geminiEmbed(w, r, p, model, method == "batchEmbedContents")
	default:
		writeErrorAs(w, dialectGemini, &apiError{status: http.StatusNotFound, message: "Method not found: " + method + "."})
	}
}

func generateContent(w http.ResponseWriter, r *http.Request, p *provider, model string, stream bool) {
	x, ok := begin(w, r, p, dialectGemini)
	if !ok {
		return
	}
	defer x.release()
	if model == "" {
		x.fail(w, badRequest("model", "", "* GenerateContentRequest.model: unexpected model name format\n"))
		return
	}
	var req geminiRequest
	if aerr := parseGeminiRequest(x.body, &req); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.behave(w, r) {
		return
	}
	scratch := getBuffer()
	defer putBuffer(scratch)
	rep := geminiReply{model: model, tokensPerSecond: x.b.tokensPerSecond, cutAfter: x.b.cutAfter, malformed: x.b.malformed}
	if aerr := req.reply(&rep, x.b.completionTokens, scratch); aerr != nil {
		x.fail(w, aerr)
		return
	}
	rep.usage = req.countPrompt()
	rep.usage.candidates = rep.candidates * (rep.ans.tokens + rep.ans.callTokens)
	rep.usage.thoughts = rep.candidates * rep.ans.reasoning
	if !x.admit(w, r) {
		return
	}
	if stream {
		rep.sse = r.URL.RawQuery != "" && r.URL.Query().Get("alt") == "sse"
		p.stats.streams.Add(1)
		if !writeGeminiStream(w, r, &rep) {
			p.stats.canceled.Add(1)
		}
		return
	}
	var id [geminiResponseIDLength]byte
	b := appendGeminiResponse((*x.buf)[:0], &rep, &geminiPiece{whole: true, calls: len(rep.ans.calls) > 0, final: true}, newGeminiResponseID(&id))
	b = append(b, '\n')
	*x.buf = b
	writeBody(w, headerJSONUTF8, b, &x.b)
}

// geminiPiece says what one GenerateContentResponse carries.
type geminiPiece struct {
	// whole: the whole reply, as a plain response has it; otherwise text,
	// one piece of a stream (nil: no text part).
	whole bool
	text  []byte
	// calls: the function calls (a stream sends them at once).
	calls bool
	// final: the finishReason and the final usage go with it.
	final bool
	// sent is the text tokens sent so far, for a stream's running usage.
	sent int
}

// appendGeminiResponse appends a GenerateContentResponse:
// {"candidates":[{"content":{"parts":[…],"role":"model"},"finishReason",
// "index"}],"usageMetadata",…,"modelVersion","responseId"}, every
// candidate carrying the same piece. A candidate with nothing to say has
// no parts, as Gemini sends it.
func appendGeminiResponse(b []byte, rep *geminiReply, piece *geminiPiece, responseID []byte) []byte {
	a := &rep.ans
	b = append(b, `{"candidates":[`...)
	for c := range rep.candidates {
		if c > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"content":{`...)
		switch {
		case piece.calls:
			b = append(b, `"parts":[`...)
			for k, call := range a.calls {
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"functionCall":{"name":`...)
				b = appendString(b, call.name)
				b = append(b, `,"args":`...)
				b = append(b, call.args...)
				b = append(b, "}}"...)
			}
			b = append(b, "],"...)
		case piece.whole && a.tokens > 0:
			b = append(b, `"parts":[{"text":"`...)
			b = a.appendText(b)
			b = append(b, `"}],`...)
		case !piece.whole && piece.text != nil:
			b = append(b, `"parts":[{"text":"`...)
			b = appendEscaped(b, piece.text)
			b = append(b, `"}],`...)
		}
		b = append(b, `"role":"model"}`...)
		if piece.final {
			b = append(b, `,"finishReason":"`...)
			b = append(b, a.finish.gemini()...)
			b = append(b, '"')
		}
		b = append(b, `,"index":`...)
		b = strconv.AppendInt(b, int64(c), 10)
		b = append(b, '}')
	}
	b = append(b, `],"usageMetadata":`...)
	u := rep.usage
	if !piece.final {
		u.candidates = rep.candidates * piece.sent
	}
	b = appendGeminiUsage(b, u)
	b = append(b, `,"modelVersion":`...)
	b = appendString(b, rep.model)
	b = append(b, `,"responseId":"`...)
	b = append(b, responseID...)
	return append(b, `"}`...)
}

// appendGeminiUsage appends usageMetadata. As proto3 JSON does, counts
// that are zero are left out.
func appendGeminiUsage(b []byte, u geminiUsage) []byte {
	b = append(b, `{"promptTokenCount":`...)
	b = strconv.AppendInt(b, int64(u.prompt), 10)
	if u.candidates > 0 {
		b = append(b, `,"candidatesTokenCount":`...)
		b = strconv.AppendInt(b, int64(u.candidates), 10)
	}
	b = append(b, `,"totalTokenCount":`...)
	b = strconv.AppendInt(b, int64(u.prompt+u.candidates+u.thoughts), 10)
	if u.cached > 0 {
		b = append(b, `,"cachedContentTokenCount":`...)
		b = strconv.AppendInt(b, int64(u.cached), 10)
	}
	b = append(b, `,"promptTokensDetails":`...)
	b = appendModalities(b, u.prompt-u.media, u.media)
	if u.cached > 0 {
		b = append(b, `,"cacheTokensDetails":`...)
		b = appendModalities(b, u.cached, 0)
	}
	if u.thoughts > 0 {
		b = append(b, `,"thoughtsTokenCount":`...)
		b = strconv.AppendInt(b, int64(u.thoughts), 10)
	}
	return append(b, '}')
}

// appendModalities appends [{"modality":"TEXT","tokenCount":…}] and an
// IMAGE entry when there is media.
func appendModalities(b []byte, text, media int) []byte {
	b = append(b, `[{"modality":"TEXT","tokenCount":`...)
	b = strconv.AppendInt(b, int64(text), 10)
	b = append(b, '}')
	if media > 0 {
		b = append(b, `,{"modality":"IMAGE","tokenCount":`...)
		b = strconv.AppendInt(b, int64(media), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// geminiCountTokens answers countTokens: {"totalTokens","promptTokensDetails"}
// for {"contents"} or {"generateContentRequest"}.
func geminiCountTokens(w http.ResponseWriter, r *http.Request, p *provider) {
	x, ok := begin(w, r, p, dialectGemini)
	if !ok {
		return
	}
	defer x.release()
	var req geminiRequest
	if aerr := decodeGemini(x.body, &req); aerr != nil {
		x.fail(w, aerr)
		return
	}
	target := &req
	if inner := pick(req.GenerateContentRequest, req.GenerateContentRequestSnake); inner != nil {
		target = inner
	}
	if aerr := target.validate(); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.behave(w, r) || !x.admit(w, r) {
		return
	}
	u := target.countPrompt()
	b := append((*x.buf)[:0], `{"totalTokens":`...)
	b = strconv.AppendInt(b, int64(u.prompt), 10)
	b = append(b, `,"promptTokensDetails":`...)
	b = appendModalities(b, u.prompt-u.media, u.media)
	b = append(b, "}\n"...)
	*x.buf = b
	writeBody(w, headerJSONUTF8, b, &x.b)
}

// geminiEmbedRequest is an EmbedContentRequest, or, for
// batchEmbedContents, a list of them.
type geminiEmbedRequest struct {
	Content                   *geminiContent       `json:"content"`
	OutputDimensionality      *flexNumber          `json:"outputDimensionality"`
	OutputDimensionalitySnake *flexNumber          `json:"output_dimensionality"`
	Requests                  []geminiEmbedRequest `json:"requests"`
}

// geminiEmbeddingDimensions is a model's vector size: 3,072 for
// gemini-embedding models, 768 for the others (text-embedding-004).
func geminiEmbeddingDimensions(model string) int {
	if strings.Contains(model, "gemini-embedding") {
		return 3072
	}
	return 768
}

// geminiEmbed answers embedContent ({"embedding":{"values":[…]}}) and
// batchEmbedContents ({"embeddings":[{"values":[…]},…]}), with the same
// deterministic unit vectors as OpenAI's endpoint, outputDimensionality
// long.
func geminiEmbed(w http.ResponseWriter, r *http.Request, p *provider, model string, batch bool) {
	x, ok := begin(w, r, p, dialectGemini)
	if !ok {
		return
	}
	defer x.release()
	var req geminiEmbedRequest
	if aerr := decodeGemini(x.body, &req); aerr != nil {
		x.fail(w, aerr)
		return
	}
	requests := []geminiEmbedRequest{req}
	if batch {
		requests = req.Requests
		if len(requests) == 0 {
			x.fail(w, badRequest("requests", "", "* BatchEmbedContentsRequest.requests: requests is not specified\n"))
			return
		}
	}
	most := geminiEmbeddingDimensions(model)
	for i, e := range requests {
		if e.Content == nil || len(e.Content.Parts) == 0 {
			x.fail(w, badRequest("content", "", "* EmbedContentRequest.content: content is not specified\n"))
			return
		}
		if d := pick(e.OutputDimensionality, e.OutputDimensionalitySnake); d != nil && (*d < 1 || int(*d) > most) {
			x.fail(w, badRequest("output_dimensionality", "", "* requests["+strconv.Itoa(i)+"].output_dimensionality: must be between 1 and "+strconv.Itoa(most)+".\n"))
			return
		}
	}
	if !x.behave(w, r) || !x.admit(w, r) {
		return
	}
	vp := getVector(most)
	defer putVector(vp)
	seed := hashBytes([]byte(model))
	var b []byte
	if batch {
		b = append((*x.buf)[:0], `{"embeddings":[`...)
	} else {
		b = append((*x.buf)[:0], `{"embedding":`...)
	}
	for i, e := range requests {
		if i > 0 {
			b = append(b, ',')
		}
		dims := most
		if d := pick(e.OutputDimensionality, e.OutputDimensionalitySnake); d != nil {
			dims = int(*d)
		}
		h := seed
		for _, part := range e.Content.Parts {
			if part.Text != nil {
				h = mix(h, part.Text.hash)
			}
		}
		v := (*vp)[:dims]
		fillEmbedding(v, h)
		b = append(b, `{"values":`...)
		b = appendVector(b, v)
		b = append(b, '}')
	}
	if batch {
		b = append(b, ']')
	}
	b = append(b, "}\n"...)
	*x.buf = b
	writeBody(w, headerJSONUTF8, b, &x.b)
}

// geminiResponseIDLength is the length of Gemini's responseId.
const geminiResponseIDLength = 23

// newGeminiResponseID fills id with a fresh responseId and returns it.
func newGeminiResponseID(id *[geminiResponseIDLength]byte) []byte {
	return appendRandomID(id[:0], "", geminiResponseIDLength)
}
