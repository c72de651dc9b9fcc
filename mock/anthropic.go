package mock

import (
	"encoding/json"
	"errors"
	"hash/maphash"
	"net/http"
	"reflect"
	"strconv"
	"time"
)

// This file simulates Anthropic's Messages API: POST /{name}/v1/messages
// and /v1/messages/count_tokens, with prompt caching as Anthropic reports
// it. Streams are in anthropic_stream.go.

// anthropicRequest holds what the mock needs from a Messages request. Raw
// schemas (rawJSON) alias the request body, which must outlive them.
type anthropicRequest struct {
	Model         string               `json:"model"`
	MaxTokens     *int64               `json:"max_tokens"`
	System        anthropicContent     `json:"system"`
	Messages      []anthropicMessage   `json:"messages"`
	Tools         []anthropicTool      `json:"tools"`
	ToolChoice    *anthropicToolChoice `json:"tool_choice"`
	StopSequences []string             `json:"stop_sequences"`
	Stream        bool                 `json:"stream"`
}

type anthropicMessage struct {
	Role    anthropicRole    `json:"role"`
	Content anthropicContent `json:"content"`
}

type anthropicRole uint8

const (
	anthropicRoleMissing anthropicRole = iota
	anthropicRoleUser
	anthropicRoleAssistant
	anthropicRoleInvalid
)

func (r *anthropicRole) UnmarshalJSON(raw []byte) error {
	switch string(raw) {
	case `"user"`:
		*r = anthropicRoleUser
	case `"assistant"`:
		*r = anthropicRoleAssistant
	case "null":
		*r = anthropicRoleMissing
	default:
		if raw[0] != '"' {
			return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
		}
		*r = anthropicRoleInvalid
	}
	return nil
}

// anthropicContent is a message's content (or the system prompt): a string,
// or an array of content blocks, summarised block by block.
type anthropicContent struct {
	present bool
	blocks  []blockSummary
}

// blockSummary is what a content block counts for in the prompt and in the
// cache: its tokens, a hash of what it holds (its cache_control aside), and
// whether a cache breakpoint follows it.
type blockSummary struct {
	tokens     int
	hash       uint64
	breakpoint bool
	longTTL    bool // cache_control.ttl "1h"
	mentions   mentions
}

// anthropicBlock is one content block, whatever its type: text, image,
// document, tool_use, tool_result, thinking, …
type anthropicBlock struct {
	Type         blockType    `json:"type"`
	Text         hashedText   `json:"text"`
	Thinking     hashedText   `json:"thinking"`
	Source       hashedRaw    `json:"source"`
	Name         hashedRaw    `json:"name"`
	Input        hashedRaw    `json:"input"`
	ToolUseID    hashedRaw    `json:"tool_use_id"`
	Content      hashedRaw    `json:"content"`
	CacheControl cacheControl `json:"cache_control"`
}

type blockType uint8

const (
	blockOther blockType = iota
	blockText
	blockImage
	blockDocument
	blockToolUse
	blockToolResult
	blockThinking
	blockMissing
)

func (t *blockType) UnmarshalJSON(raw []byte) error {
	switch string(raw) {
	case `"text"`:
		*t = blockText
	case `"image"`:
		*t = blockImage
	case `"document"`:
		*t = blockDocument
	case `"tool_use"`:
		*t = blockToolUse
	case `"tool_result"`:
		*t = blockToolResult
	case `"thinking"`, `"redacted_thinking"`:
		*t = blockThinking
	case "null":
		*t = blockMissing
	default:
		if raw[0] != '"' {
			return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
		}
		*t = blockOther
	}
	return nil
}

// hashedText is a JSON string's decoded length, a hash of its literal and
// what it mentions.
type hashedText struct {
	bytes    int
	hash     uint64
	mentions mentions
}

func (t *hashedText) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		*t = hashedText{}
	case '"':
		*t = hashedText{bytes: unquotedLen(raw), hash: hashBytes(raw), mentions: mentionsIn(raw)}
	default:
		return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
	}
	return nil
}

// hashedRaw is any JSON value's length and a hash of it, kept without
// copying it.
type hashedRaw struct {
	n    int
	hash uint64
}

func (h *hashedRaw) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		*h = hashedRaw{}
		return nil
	}
	*h = hashedRaw{n: len(raw), hash: hashBytes(raw)}
	return nil
}

// cacheControl is a block's cache_control: {"type":"ephemeral","ttl"}.
type cacheControl struct {
	set     bool
	longTTL bool
}

func (c *cacheControl) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		*c = cacheControl{}
		return nil
	}
	var v struct {
		TTL string `json:"ttl"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	*c = cacheControl{set: true, longTTL: v.TTL == "1h"}
	return nil
}

// anthropicImageTokens is what an image or a document counts: about what
// Anthropic charges for an image of the largest size it recommends (1.15
// megapixels).
const anthropicImageTokens = 1600

func (c *anthropicContent) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		*c = anthropicContent{}
		return nil
	case '"':
		t := hashedText{bytes: unquotedLen(raw), hash: hashBytes(raw), mentions: mentionsIn(raw)}
		c.present = true
		c.blocks = append(c.blocks[:0], blockSummary{tokens: (t.bytes + 3) / 4, hash: mix(uint64(blockText), t.hash), mentions: t.mentions})
		return nil
	case '[':
		var blocks []anthropicBlock
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return err
		}
		c.present = true
		c.blocks = make([]blockSummary, len(blocks))
		for i := range blocks {
			c.blocks[i] = blocks[i].summary()
		}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[[]any]()}
}

func (b *anthropicBlock) summary() blockSummary {
	s := blockSummary{breakpoint: b.CacheControl.set, longTTL: b.CacheControl.longTTL, mentions: b.Text.mentions}
	switch b.Type {
	case blockText:
		s.tokens = (b.Text.bytes + 3) / 4
	case blockImage, blockDocument:
		s.tokens = anthropicImageTokens
	case blockToolUse:
		s.tokens = (b.Name.n + b.Input.n + 3) / 4
	case blockToolResult:
		s.tokens = (b.Content.n + 3) / 4
	case blockThinking:
		s.tokens = (b.Thinking.bytes + 3) / 4
	default:
		s.tokens = (b.Text.bytes + b.Source.n + b.Input.n + b.Content.n + 3) / 4
	}
	h := mix(uint64(b.Type), b.Text.hash)
	for _, part := range [...]uint64{b.Thinking.hash, b.Source.hash, b.Name.hash, b.Input.hash, b.ToolUseID.hash, b.Content.hash} {
		h = mix(h, part)
	}
	s.hash = h
	return s
}

// anthropicTool is a tool definition; only custom tools (those with an
// input_schema) are ever called.
type anthropicTool struct {
	Type         *string      `json:"type"`
	Name         *string      `json:"name"`
	Description  hashedText   `json:"description"`
	InputSchema  rawJSON      `json:"input_schema"`
	CacheControl cacheControl `json:"cache_control"`
}

func (t *anthropicTool) summary() blockSummary {
	name := ""
	if t.Name != nil {
		name = *t.Name
	}
	return blockSummary{
		tokens:     (len(name) + t.Description.bytes + len(t.InputSchema) + 3) / 4,
		hash:       mix(mix(hashBytes([]byte(name)), t.Description.hash), hashBytes(t.InputSchema)),
		breakpoint: t.CacheControl.set,
		longTTL:    t.CacheControl.longTTL,
	}
}

// anthropicToolChoice is {"type":"auto"|"any"|"tool"|"none","name",
// "disable_parallel_tool_use"}.
type anthropicToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
}

// hashSeed makes the prompt cache's hashes; it is per process, as the cache
// is.
var hashSeed = maphash.MakeSeed()

func hashBytes(b []byte) uint64 { return maphash.Bytes(hashSeed, b) }

// mix combines a running hash with the next element's, order-sensitively.
func mix(h, next uint64) uint64 {
	h ^= next + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2)
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>31
}

// decodeAnthropic decodes body into v, answering as Anthropic does.
func decodeAnthropic(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field == "" {
				return badRequest("", "", "Input should be a valid dictionary or object to extract fields from")
			}
			return badRequest(typeErr.Field, "", typeErr.Field+": Input should be "+expectedKind(typeErr.Type))
		}
		return badRequest("", "", "There was an error parsing the body of your request: it is not valid JSON.")
	}
	return nil
}

// parseAnthropicRequest decodes and validates a Messages request; for
// count_tokens, max_tokens is not required.
func parseAnthropicRequest(body []byte, req *anthropicRequest, countOnly bool) *apiError {
	if aerr := decodeAnthropic(body, req); aerr != nil {
		return aerr
	}
	if req.Model == "" {
		return badRequest("model", "", "model: Field required")
	}
	if !countOnly {
		if req.MaxTokens == nil {
			return badRequest("max_tokens", "", "max_tokens: Field required")
		}
		if *req.MaxTokens < 1 {
			return badRequest("max_tokens", "", "max_tokens: Input should be greater than or equal to 1")
		}
	}
	if req.Messages == nil {
		return badRequest("messages", "", "messages: Field required")
	}
	if len(req.Messages) == 0 {
		return badRequest("messages", "", "messages: at least one message is required")
	}
	for i, m := range req.Messages {
		at := "messages." + strconv.Itoa(i)
		switch {
		case m.Role == anthropicRoleMissing:
			return badRequest(at+".role", "", at+".role: Field required")
		case m.Role == anthropicRoleInvalid:
			return badRequest(at+".role", "", at+".role: Input should be 'user' or 'assistant'")
		case !m.Content.present:
			return badRequest(at+".content", "", at+".content: Field required")
		}
	}
	for i, t := range req.Tools {
		at := "tools." + strconv.Itoa(i)
		if t.Name == nil {
			return badRequest(at+".name", "", at+".name: Field required")
		}
		custom := t.Type == nil || *t.Type == "custom"
		if custom && t.InputSchema == nil {
			return badRequest(at+".input_schema", "", at+".input_schema: Field required")
		}
		if t.InputSchema != nil && t.InputSchema[0] != '{' {
			return badRequest(at+".input_schema", "", at+".input_schema: Input should be a valid dictionary")
		}
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto", "none":
		case "any", "tool":
			if len(req.Tools) == 0 {
				return badRequest("tool_choice", "", "tool_choice: tool_choice may only be specified while providing tools.")
			}
			if tc.Type == "tool" && req.toolIndex(tc.Name) < 0 {
				return badRequest("tool_choice.name", "", "tool_choice.name: Tool '"+tc.Name+"' not found in 'tools'.")
			}
		default:
			return badRequest("tool_choice.type", "", "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
		}
	}
	return nil
}

func (req *anthropicRequest) toolIndex(name string) int {
	for i, t := range req.Tools {
		if t.Name != nil && *t.Name == name {
			return i
		}
	}
	return -1
}

// anthropicUsage is a Messages response's token accounting.
type anthropicUsage struct {
	input, output  int
	cacheWrite     int // cache_creation_input_tokens
	cacheWriteLong int // of which with a one-hour time to live
	cacheRead      int
	total          int // the whole prompt, cache or not
}

// Cache times to live: five minutes unless cache_control says "1h".
const (
	cacheTTL     = 5 * time.Minute
	cacheLongTTL = time.Hour
)

// anthropicCacheLookback is how many blocks before a breakpoint Anthropic
// looks for an earlier cached prefix.
const anthropicCacheLookback = 20

// segments lists the prompt's blocks in the order Anthropic caches them:
// tools, then system, then messages (each message's framing counted with
// its first block).
func (req *anthropicRequest) segments() []blockSummary {
	n := len(req.Tools) + len(req.System.blocks)
	for _, m := range req.Messages {
		n += max(1, len(m.Content.blocks))
	}
	segs := make([]blockSummary, 0, n)
	for i := range req.Tools {
		segs = append(segs, req.Tools[i].summary())
	}
	segs = append(segs, req.System.blocks...)
	for _, m := range req.Messages {
		framing := blockSummary{tokens: anthropicMessageFraming, hash: mix(0, uint64(m.Role))}
		if len(m.Content.blocks) == 0 {
			segs = append(segs, framing)
			continue
		}
		for i, b := range m.Content.blocks {
			if i == 0 {
				b.tokens += framing.tokens
				b.hash = mix(framing.hash, b.hash)
			}
			segs = append(segs, b)
		}
	}
	return segs
}

// anthropicMessageFraming is what a message costs besides its content.
const anthropicMessageFraming = 4

// countPrompt counts the prompt and, when the provider's cache is given,
// simulates Anthropic's prompt caching:
//
// A block with cache_control ends a cacheable prefix (tools, system and
// messages up to and including it), if that prefix is at least the model's
// minimum (1,024 tokens; 2,048 for Haiku models). At each such breakpoint
// the cache is searched for that prefix and, block by block, for shorter
// ones up to 20 blocks back; the longest found is read
// (cache_read_input_tokens). Every prefix from there to the last
// breakpoint is then written (cache_creation_input_tokens, split by the
// time to live of the breakpoint that ends each part). input_tokens is the
// rest. Entries live five minutes ("ttl":"1h": an hour), refreshed by each
// read, in a per-provider cache of 4,096 entries; the model is part of the
// key.
func (req *anthropicRequest) countPrompt(cache *promptCache) anthropicUsage {
	segs := req.segments()
	var u anthropicUsage
	total := 0
	for _, s := range segs {
		total += s.tokens
	}
	u.total = total
	if cache == nil {
		u.input = total
		return u
	}
	minimum := 1024
	if containsFold(req.Model, "haiku") {
		minimum = 2048
	}
	// prefix[i] and hashes[i] are the tokens and hash of blocks 0..i.
	model := hashBytes([]byte(req.Model))
	tokens, hashes := make([]int, len(segs)), make([]uint64, len(segs))
	running, h := 0, model
	lastBreakpoint := -1
	for i, s := range segs {
		running += s.tokens
		h = mix(h, s.hash)
		tokens[i], hashes[i] = running, h
		if s.breakpoint && running >= minimum {
			lastBreakpoint = i
		}
	}
	if lastBreakpoint < 0 {
		u.input = total
		return u
	}
	readEnd := -1
	for i, s := range segs {
		if !s.breakpoint || tokens[i] < minimum {
			continue
		}
		for j := i; j >= 0 && j > i-anthropicCacheLookback && j > readEnd && tokens[j] >= minimum; j-- {
			if cache.lookup(hashes[j], ttlOf(segs[i])) {
				readEnd = j
				break
			}
		}
	}
	if readEnd >= 0 {
		u.cacheRead = tokens[readEnd]
	}
	written := u.cacheRead
	for i := readEnd + 1; i <= lastBreakpoint; i++ {
		s := segs[i]
		if !s.breakpoint || tokens[i] < minimum {
			continue
		}
		cache.store(hashes[i], ttlOf(s))
		u.cacheWrite += tokens[i] - written
		if s.longTTL {
			u.cacheWriteLong += tokens[i] - written
		}
		written = tokens[i]
	}
	u.input = total - u.cacheRead - u.cacheWrite
	return u
}

func ttlOf(s blockSummary) time.Duration {
	if s.longTTL {
		return cacheLongTTL
	}
	return cacheTTL
}

func containsFold(s, lowerSub string) bool {
	return asksFor([]byte(s), lowerSub)
}

// anthropicReply is what a Messages response needs.
type anthropicReply struct {
	model string
	usage anthropicUsage
	ans   answer
	// text says the reply has a text block (always, except when a tool
	// call is required: then Claude answers with tool_use blocks alone).
	text bool
	ids  callIDs
	// stream pacing and faults, as for chat completions.
	tokensPerSecond float64
	cutAfter        int
	malformed       bool
}

func anthropicMessages(w http.ResponseWriter, r *http.Request, p *provider) {
	x, ok := begin(w, r, p, dialectAnthropic)
	if !ok {
		return
	}
	defer x.release()
	var req anthropicRequest
	if aerr := parseAnthropicRequest(x.body, &req, false); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.behave(w, r) {
		return
	}
	rep := anthropicReply{model: req.Model, text: true, tokensPerSecond: x.b.tokensPerSecond, cutAfter: x.b.cutAfter, malformed: x.b.malformed}
	if aerr := req.reply(&rep, x.b.completionTokens); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.admit(w, r) {
		return
	}
	// The cache is consulted once the request is accepted: a request turned
	// away writes nothing.
	rep.usage = req.countPrompt(p.cache)
	rep.usage.output = rep.ans.outputTokens()
	if req.Stream {
		p.stats.streams.Add(1)
		if !writeAnthropicStream(w, r, &rep) {
			p.stats.canceled.Add(1)
		}
		return
	}
	b := appendAnthropicMessage((*x.buf)[:0], &rep)
	*x.buf = b
	writeBody(w, headerJSON, b, &x.b)
}

// reply settles the answer: tool_use blocks (see pickTools; with
// tool_choice any or tool they come alone, otherwise after the text), or
// words cut by stop_sequences and max_tokens.
func (req *anthropicRequest) reply(rep *anthropicReply, words int) *apiError {
	a := &rep.ans
	var specs []toolSpec
	for _, t := range req.Tools {
		if t.InputSchema != nil && t.Name != nil {
			specs = append(specs, toolSpec{name: *t.Name, schema: t.InputSchema})
		}
	}
	choice := toolChoice{}
	if tc := req.ToolChoice; tc != nil {
		choice.single = tc.DisableParallelToolUse
		switch tc.Type {
		case "none":
			choice.mode = toolNone
		case "any":
			choice.mode = toolRequired
		case "tool":
			choice.mode, choice.name = toolNamed, tc.Name
		}
	}
	asks := false
	if last := req.Messages[len(req.Messages)-1]; last.Role == anthropicRoleUser {
		for _, b := range last.Content.blocks {
			asks = asks || b.mentions&mentionsCall != 0
		}
	}
	picks := pickTools(specs, &choice, asks)
	rep.text = len(picks) == 0 || choice.mode == toolAuto
	if rep.text {
		_ = a.setWords(words, req.StopSequences, nil)
	}
	if len(picks) > 0 {
		calls, i, err := makeCalls(specs, picks)
		if err != nil {
			return badRequest("tools", "", "tools."+strconv.Itoa(req.toolIndex(specs[i].name))+".input_schema: "+err.Error())
		}
		a.setCalls(calls)
		rep.ids = newCallIDs()
	}
	a.limit(*req.MaxTokens)
	return nil
}

func anthropicCountTokens(w http.ResponseWriter, r *http.Request, p *provider) {
	x, ok := begin(w, r, p, dialectAnthropic)
	if !ok {
		return
	}
	defer x.release()
	var req anthropicRequest
	if aerr := parseAnthropicRequest(x.body, &req, true); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.behave(w, r) || !x.admit(w, r) {
		return
	}
	u := req.countPrompt(nil)
	b := append((*x.buf)[:0], `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.total), 10)
	b = append(b, "}\n"...)
	*x.buf = b
	writeBody(w, headerJSON, b, &x.b)
}

// appendAnthropicMessage appends a whole Message object, in the field
// order Anthropic uses.
func appendAnthropicMessage(b []byte, rep *anthropicReply) []byte {
	b = appendAnthropicMessageHead(b, rep)
	b = append(b, `"content":[`...)
	a := &rep.ans
	if rep.text {
		b = append(b, `{"type":"text","text":"`...)
		b = a.appendText(b)
		b = append(b, `"}`...)
	}
	for k, call := range a.calls {
		if k > 0 || rep.text {
			b = append(b, ',')
		}
		b = appendToolUseStart(b, rep, k)
		b = append(b, call.args...)
		b = append(b, '}')
	}
	b = append(b, `],"stop_reason":"`...)
	b = append(b, a.finish.anthropic()...)
	b = append(b, `","stop_sequence":`...)
	b = appendStringOrNull(b, a.stopSequence)
	b = append(b, `,"usage":`...)
	b = appendAnthropicUsage(b, rep.usage, rep.usage.output)
	return append(b, "}\n"...)
}

// appendAnthropicMessageHead appends `{"id":…,"type":"message","role":…,
// "model":…,`.
func appendAnthropicMessageHead(b []byte, rep *anthropicReply) []byte {
	b = append(b, `{"id":"`...)
	b = appendRandomID(b, "msg_01", 22)
	b = append(b, `","type":"message","role":"assistant","model":`...)
	b = appendString(b, rep.model)
	return append(b, ',')
}

// appendToolUseStart appends a tool_use block up to its "input":.
func appendToolUseStart(b []byte, rep *anthropicReply, k int) []byte {
	b = append(b, `{"type":"tool_use","id":"`...)
	b = rep.ids.appendID(b, "toolu_01", k)
	b = append(b, `","name":`...)
	b = appendString(b, rep.ans.calls[k].name)
	return append(b, `,"input":`...)
}

func appendAnthropicUsage(b []byte, u anthropicUsage, output int) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.input), 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cacheWrite), 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cacheRead), 10)
	b = append(b, `,"cache_creation":{"ephemeral_5m_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cacheWrite-u.cacheWriteLong), 10)
	b = append(b, `,"ephemeral_1h_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cacheWriteLong), 10)
	b = append(b, `},"output_tokens":`...)
	b = strconv.AppendInt(b, int64(output), 10)
	return append(b, `,"service_tier":"standard"}`...)
}
