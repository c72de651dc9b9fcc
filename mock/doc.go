// Package mock simulates LLM providers that speak the OpenAI, Anthropic and
// Gemini wire formats. It serves `switchyard mock` (on :8089 by default) and
// the simulated providers of `switchyard dev`, and it is the upstream of
// the proxy's tests and of the benchmark. It owns the simulation only: it
// routes nothing, records nothing, and must stay fast enough never to be a
// benchmark's bottleneck (a few microseconds of CPU per request, no
// allocation-heavy encoding). Its answers are faithful enough that the
// official SDKs (openai-go, anthropic-sdk-go, google.golang.org/genai)
// accept them, and OpenAI-shaped ones validate against OpenAI's published
// schemas.
//
// # Paths
//
// One Server serves every configured provider under its own prefix, and
// every provider speaks all three formats, so that one provider is at once
// an OpenAI base URL (http://host:8089/{name}/v1), an Anthropic one
// (http://host:8089/{name}) and a Gemini one (http://host:8089/{name}):
//
//	POST /{name}/v1/chat/completions        OpenAI chat completion, plain or "stream": true (SSE)
//	POST /{name}/v1/completions             OpenAI legacy text completion, plain or streamed
//	POST /{name}/v1/embeddings              OpenAI embeddings
//	POST /{name}/v1/rerank                  rerank, in the Jina/Cohere/OpenRouter shape
//	GET  /{name}/v1/models                  {"object":"list","data":[{"id","object":"model","created","owned_by"}]}
//	GET  /{name}/v1/models/{id}             one model of that list
//	POST /{name}/v1/messages                Anthropic Messages, plain or "stream": true
//	POST /{name}/v1/messages/count_tokens   Anthropic token counting: {"input_tokens"}
//	POST /{name}/v1beta/models/{model}:generateContent        Gemini
//	POST /{name}/v1beta/models/{model}:streamGenerateContent  Gemini stream (?alt=sse: SSE; else a JSON array)
//	POST /{name}/v1beta/models/{model}:countTokens            {"totalTokens","promptTokensDetails"}
//	POST /{name}/v1beta/models/{model}:embedContent           {"embedding":{"values"}}
//	POST /{name}/v1beta/models/{model}:batchEmbedContents     {"embeddings":[{"values"}]}
//	GET  /healthz                           {"status":"ok"}
//
// The Gemini paths are served under /v1/ too (POST only). An unknown
// provider gets 404 with code "unknown_provider"; an unknown path 404 and a
// wrong method 405, in the error shape of the path's format. Any model name
// is accepted and echoed; the models list is informational.
//
// # Behaviour of a provider
//
// Each provider behaves as its config.MockProvider says; (*Server).SetProvider
// changes that at run time, without a lock on the request path. Every
// endpoint but the model listings goes through the same steps: key, body,
// X-Mock-* headers, injected failure, latency, answer.
//
//   - Keys. A provider with an APIKey requires it where each format's
//     clients send it, and never echoes it:
//     OpenAI "Authorization: Bearer <key>", else 401
//     {"error":{…,"type":"invalid_request_error","code":"invalid_api_key"}};
//     Anthropic "x-api-key: <key>" (or "Authorization: Bearer <key>"), else
//     401 authentication_error ("x-api-key header is required", "invalid
//     x-api-key"); Gemini "x-goog-api-key: <key>", "?key=<key>" (or
//     "Authorization: Bearer <key>"), else 403 PERMISSION_DENIED when
//     missing and 400 INVALID_ARGUMENT with an ErrorInfo detail of reason
//     API_KEY_INVALID when wrong, as Google answers.
//   - Anthropic also requires an anthropic-version header (any value), else
//     400 invalid_request_error. Every answer of /v1/messages carries a
//     request-id header ("req_01…").
//   - Validation, in each provider's words and error shape: a body that is
//     not JSON, a member of the wrong type, a missing required member or a
//     value out of range gets 400 (Anthropic: invalid_request_error with
//     messages such as "max_tokens: Field required"; Gemini:
//     INVALID_ARGUMENT with messages such as "* GenerateContentRequest.
//     contents: contents is not specified"). Unknown members are ignored.
//     Bodies over 32 MiB get 413 (Gemini: 400 INVALID_ARGUMENT).
//   - Injected failures, after validation: with probability ErrorRate, a
//     server error; with probability RateLimitRate, 429. One random draw
//     per request decides, so the two rates are exclusive. Each format
//     answers in its own shape:
//     OpenAI 500 {"error":{"message":"The server had an error…",
//     "type":"server_error","param":null,"code":null}} and 429 with
//     "Retry-After: 1", type and code "rate_limit_exceeded";
//     Anthropic 529 {"type":"error","error":{"type":"overloaded_error",
//     "message":"Overloaded"}} (Anthropic's API fails for want of capacity
//     with 529 rather than 500) and 429 rate_limit_error with
//     "retry-after: 1";
//     Gemini 500 {"error":{"code":500,"message":…,"status":"INTERNAL"}} and
//     429 RESOURCE_EXHAUSTED with a RetryInfo detail ("retryDelay":"1s")
//     and no Retry-After header, as Google sends it.
//   - Latency. Latency plus a uniform random 0..Jitter passes before the
//     response headers; for a stream it is the time to the first token,
//     since the headers and the first content event all go out once it has
//     passed. A 5xx also waits (the provider failed while working); 4xx
//     answers, 429 included, come at once (the request is turned away at
//     the door). A client that goes away ends the wait, and the request
//     counts as canceled.
//   - Pacing. A stream's content events are spaced 1/TokensPerSecond apart
//     (0: back to back), counted from the first, so slow writes do not
//     make it drift. Hidden reasoning takes no simulated time.
//
// # The simulated model
//
// Whatever the format, the model answers in one of three ways, decided
// from the request alone, so that the same request always gets the same
// answer and the same usage (Anthropic's cache aside, see below):
//
//   - Words. The reply is CompletionTokens words, one token each ("The",
//     " quick", " brown", …, 32 words repeating), so that streamed deltas
//     concatenate to exactly the plain content. A stop sequence (OpenAI
//     stop, Anthropic stop_sequences, Gemini stopSequences) that occurs in
//     them ends the reply right before it, possibly inside a word; the
//     reason is then "stop" (OpenAI), "stop_sequence" with the sequence in
//     stop_sequence (Anthropic), STOP (Gemini).
//   - JSON. OpenAI response_format json_schema and Gemini responseMimeType
//     "application/json" with responseSchema or responseJsonSchema: a
//     document valid against the schema, generated deterministically.
//     Understood: type (a name or a list, in any case: Gemini's "OBJECT"
//     works), properties (in the order written, or propertyOrdering),
//     required, items, prefixItems, enum (its first non-null value), const,
//     nullable, anyOf/oneOf (the first alternative that is not null), allOf
//     (merged), $ref to "#", "#/$defs/…" or "#/definitions/…" (recursion is
//     ended by null where the schema allows it, else by empty arrays),
//     minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
//     maxLength, minItems, maxItems (int64 bounds given as strings, as
//     Gemini's are, included) and format (date-time, date, time, email,
//     uri, uuid, ipv4, …). Ignored: pattern, multipleOf, uniqueItems, not,
//     if/then/else. Arrays get two items unless bounded; strings are two
//     words; integers 1–9, numbers 1.5–9.5, within bounds; booleans true.
//     Documents stop growing at 64 KiB. OpenAI json_object (and Gemini's
//     JSON without a schema) answers {"answer":"<the words>"}; as OpenAI
//     does, json_object requires the word "json" (any case) in the
//     messages, else 400. JSON counts at four bytes a token and streams in
//     pieces of four bytes; max_tokens cuts it like text (leaving invalid
//     JSON, as real models do).
//   - Tool calls. When tools are declared (OpenAI tools of type function,
//     Anthropic tools with an input_schema, Gemini functionDeclarations)
//     the model calls them when the request requires it (OpenAI
//     tool_choice "required" or a named function, Anthropic tool_choice
//     "any" or "tool", Gemini mode ANY) or, when the choice is left to the
//     model (auto, the default), when the last message is the user's and
//     its text contains "call" in any case ("Call the weather tool"). A
//     tool result as the last message therefore gets a text answer, and an
//     agent loop ends. "none" (Gemini NONE) never calls. It calls the named
//     tool, or else every declared tool (Gemini: every one of
//     allowedFunctionNames), in order, as parallel calls, unless parallel
//     calls are off (OpenAI parallel_tool_calls false, Anthropic
//     disable_parallel_tool_use), when it calls only the first. Arguments
//     are generated from each tool's parameters schema as JSON outputs are
//     ({} without one). OpenAI answers with tool_calls alone (content
//     null, finish_reason "tool_calls", ids "call_…"); Anthropic with
//     tool_use blocks ("toolu_01…" ids; stop_reason "tool_use"), after a
//     text block when the call was the model's choice; Gemini with
//     functionCall parts (finishReason STOP). A call counts 4 tokens plus
//     its name and arguments at 4 bytes a token; max_tokens never cuts it.
//
// Then, for reasoning models, hidden reasoning: OpenAI models whose name
// (after any "provider/" prefix) starts with o1, o3, o4 or gpt-5 or
// contains "reasoning", and Gemini models whose name contains "2.5",
// "thinking" or "gemini-3", spend two reasoning tokens per visible token
// before answering (Gemini's thinkingConfig.thinkingBudget caps them; 0
// turns them off). They are reported as
// completion_tokens_details.reasoning_tokens, included in
// completion_tokens (OpenAI), and as thoughtsTokenCount, outside
// candidatesTokenCount but inside totalTokenCount (Gemini).
//
// Last, the token limit (OpenAI max_tokens / max_completion_tokens, the
// smaller of the two; legacy completions' max_tokens, 16 when left out, as
// OpenAI documents; Anthropic max_tokens, which is required; Gemini
// maxOutputTokens): reasoning is spent first, then the text is cut to what
// is left, and the reply ends with "length" / "max_tokens" / MAX_TOKENS. A
// reasoning model with a small limit thus answers nothing at all, as real
// ones do (Gemini then sends a candidate with no parts).
//
// # OpenAI-compatible endpoints
//
// Chat completions. A plain response is a chat.completion exactly as
// OpenAI sends it: id ("chatcmpl-" and 29 random letters and digits),
// object, created, model, choices [{index, message{role "assistant",
// content (null with tool_calls), tool_calls?, refusal null, annotations
// []}, logprobs, finish_reason}], usage{prompt_tokens, completion_tokens,
// total_tokens, prompt_tokens_details{cached_tokens, audio_tokens},
// completion_tokens_details{reasoning_tokens, audio_tokens,
// accepted_prediction_tokens, rejected_prediction_tokens}}, service_tier
// "default", and a system_fingerprint fixed per provider. n (1–128) gives
// n choices, all with the same reply; completion tokens count every
// choice. logprobs: true gives each choice logprobs {content:[{token,
// logprob, bytes, top_logprobs:[top_logprobs entries, the first the token
// itself]}], refusal: null}, with made-up, deterministic figures (-0.2 to
// 0, alternatives 1.5 lower each); null for tool calls. seed is accepted
// (the mock is deterministic anyway).
//
// A stream ("stream": true) is text/event-stream: "data: {json}\n\n"
// events of chat.completion.chunk objects sharing one id and created time.
// First a chunk per choice with delta {"role":"assistant","content":"",
// "refusal":null} (for tool calls: content null and the first call's
// {index, id, type, function{name, arguments ""}}); then, per step, a chunk
// per choice: delta {"content":" word"} (with logprobs {content:[one
// entry], refusal: null} when asked for), or for tool calls a piece of
// arguments {"tool_calls":[{"index":k,"function":{"arguments":"…"}}]}, each
// later call opening with its id, type and name, as OpenAI streams them;
// then a chunk per choice with delta {} and the finish_reason; then, only
// when the request had "stream_options":{"include_usage":true}, a chunk
// with "choices":[] and the usage, every chunk before it carrying
// "usage":null; and last "data: [DONE]\n\n". The closing events go out in
// one write, as they usually arrive from OpenAI.
//
// prompt_tokens counts the messages the way OpenAI's cookbook estimates
// it: 3 for the reply's priming plus, per message, 4 of framing, its text
// at 4 bytes a token rounded up (content given as a string or as text
// parts) and 85 per image part; function tools add their name and
// parameters schema at 4 bytes a token. Prompt caching, as OpenAI reports
// it: prompts under 1,024 tokens have cached_tokens 0. For longer ones the
// tools and every message but the last are taken as an already-cached
// prefix when it is itself 1,024 tokens or more, and cached_tokens is that
// prefix rounded down to 1,024 + 128·k tokens. The last message is the new
// part, so a single long message is never cached.
//
// Legacy completions: a text_completion {id "cmpl-…", object, created,
// model, choices [{text, index, logprobs null, finish_reason}], usage
// {prompt_tokens, completion_tokens, total_tokens}}. prompt may be a
// string, an array of strings, an array of token ids or an array of such
// arrays; each prompt gets n choices (index prompt·n + choice). Strings
// count at 4 bytes a token, token arrays their length. Streams send one
// text_completion chunk per step carrying every choice's token
// (finish_reason null), then one with empty texts and the finish reasons,
// the usage chunk (choices []) when stream_options.include_usage asks, and
// [DONE]. (OpenAI's spec types finish_reason as a string; its streams, and
// the mock's, send null until the end.)
//
// Embeddings: {"object":"list","data":[{"object":"embedding","index",
// "embedding"}],"model","usage":{"prompt_tokens","total_tokens"}}. input
// may be a string, an array of strings (up to 2,048), an array of token ids
// or an array of such arrays; empty ones get 400 as OpenAI answers them, as
// do inputs over 8,192 tokens. Each vector is a deterministic unit vector
// derived from the model and the input's text (escapes decoded) or tokens:
// dimensions long (default 3,072 for text-embedding-3-large, 1,536
// otherwise; text-embedding-ada-002 refuses dimensions), a shorter one
// being the longer one cut and normalised again, as OpenAI's are.
// encoding_format "base64" sends the little-endian float32s in base64.
// Text counts at 4 bytes a token.
//
// Rerank: {"model","query","documents","top_n","return_documents"} →
// {"id":"rerank-…","model","results":[{"index","relevance_score",
// "document"}],"usage":{"total_tokens"}}, the shape that OpenRouter, Jina
// and Cohere-compatible servers (vLLM, TEI) share. Documents are strings or
// objects ({"text"}, with "image" for multimodal rerankers); results are
// sorted by score, at most top_n, and echo the document ({"text":…} for a
// string, the object as given) unless return_documents is false. A
// document's score is the share of the query's words of three letters or
// more that it contains, scaled into 0.05–0.95, plus up to 0.05 that
// depends on the document alone. total_tokens counts the query once per
// document plus every document, at 4 bytes a token.
//
// # Anthropic Messages
//
// A message is {"id":"msg_01…","type":"message","role":"assistant",
// "model","content":[{"type":"text","text"} and/or {"type":"tool_use",
// "id","name","input"}],"stop_reason":"end_turn"|"max_tokens"|
// "stop_sequence"|"tool_use","stop_sequence","usage":{"input_tokens",
// "cache_creation_input_tokens","cache_read_input_tokens",
// "cache_creation":{"ephemeral_5m_input_tokens","ephemeral_1h_input_tokens"},
// "output_tokens","service_tier":"standard"}}. system may be a string or
// text blocks; message content a string or blocks (text, image, document,
// tool_use, tool_result, thinking, others). The prompt counts, in
// Anthropic's cache order, each tool (name, description and input_schema
// at 4 bytes a token), each system block, and each message: 4 of framing
// plus its blocks (text at 4 bytes a token; images and documents 1,600,
// about the price of an image of the size Anthropic recommends; tool_use
// and tool_result by their JSON).
//
// Prompt caching is simulated as Anthropic reports it. A block (or tool)
// with cache_control ends a cacheable prefix: tools, system and messages up
// to and including it, if at least the model's minimum (1,024 tokens; 2,048
// for models whose name contains "haiku"). At each such breakpoint the
// provider's cache is searched for that prefix and, block by block, for
// shorter ones up to 20 blocks back, so that a breakpoint moved to the end
// of the next turn still finds the previous turn's prefix; the longest
// found is read (cache_read_input_tokens). Every breakpoint's prefix from
// there to the last is then written (cache_creation_input_tokens, split
// into cache_creation by the time to live of the breakpoint that ends each
// part). input_tokens is what is left. So the first request with a long
// cached system prompt reports it as cache_creation_input_tokens and the
// next identical one as cache_read_input_tokens. Entries live five minutes
// (cache_control "ttl":"1h": an hour), refreshed by each read, in a
// bounded in-memory LRU of 4,096 prefix hashes per provider, which
// survives SetProvider; the model is part of the key, and only requests
// that are answered touch the cache.
//
// A stream is Anthropic's sequence of events, each "event: NAME\ndata:
// {json}\n\n": message_start (the message with empty content, null
// stop_reason and the usage so far: the input and cache counts and one
// output token), then for each content block a content_block_start
// ({"type":"text","text":""} or {"type":"tool_use","id","name",
// "input":{}}), its content_block_delta events (text_delta, one per token;
// input_json_delta, an empty one and then the input in pieces of four
// bytes) and a content_block_stop; a ping right after the first
// content_block_start; then message_delta ({"stop_reason",
// "stop_sequence"}, usage {"output_tokens"}) and message_stop.
//
// count_tokens answers {"input_tokens"}: the whole prompt, no cache.
//
// # Gemini
//
// generateContent answers {"candidates":[{"content":{"parts":[{"text"} or
// {"functionCall":{"name","args"}}],"role":"model"},"finishReason":"STOP"|
// "MAX_TOKENS","index"}],"usageMetadata":{"promptTokenCount",
// "candidatesTokenCount","totalTokenCount","cachedContentTokenCount",
// "promptTokensDetails":[{"modality","tokenCount"}],"cacheTokensDetails",
// "thoughtsTokenCount"},"modelVersion","responseId"}; as proto3 JSON does,
// counts that are zero are left out. Requests may spell fields in
// lowerCamelCase or snake_case (systemInstruction or system_instruction,
// …), as Google's parser accepts both. contents (role user, model or
// function; parts of text, inlineData, fileData, functionCall,
// functionResponse), systemInstruction, tools.functionDeclarations
// (parameters or parametersJsonSchema), toolConfig.functionCallingConfig
// (mode AUTO, ANY, NONE, VALIDATED; allowedFunctionNames) and
// generationConfig (maxOutputTokens, stopSequences, candidateCount 1–8,
// responseMimeType, responseSchema, responseJsonSchema,
// thinkingConfig.thinkingBudget) are understood. promptTokenCount counts
// text parts at 4 bytes a token, inline and file data 258 each (an image,
// reported with modality IMAGE), function calls and responses by their
// JSON, and declarations by their name, description and schema.
// cachedContentTokenCount follows OpenAI's rule above: with a prompt of
// 1,024 tokens or more, everything before the last content is an implicitly
// cached prefix when it is itself 1,024 tokens or more, in 1,024 + 128·k
// steps. candidateCount gives that many candidates, all the same.
//
// streamGenerateContent sends one GenerateContentResponse per token (all
// the candidates' tokens, the same responseId, usageMetadata with the
// counts so far), the last with finishReason and the final usage; function
// calls come whole, in one chunk. With ?alt=sse the chunks are events
// "data: {json}\r\n\r\n", as Google sends them; without, the body is a JSON
// array written chunk by chunk: "[{…}\r\n,\r\n{…}]".
//
// embedContent ({"content":{"parts"},"outputDimensionality"}) and
// batchEmbedContents ({"requests":[…]}) answer the same kind of unit
// vectors as OpenAI's endpoint, 3,072 dimensions for gemini-embedding
// models and 768 for the others unless outputDimensionality says less.
// countTokens takes {"contents"} or {"generateContentRequest"} and answers
// {"totalTokens","promptTokensDetails"}.
//
// # Per-request headers
//
// Tests and direct users steer one request with these headers, on every
// endpoint of every format; each replaces the provider's setting for that
// request. A malformed value gets 400, in the format's error shape (OpenAI:
// code "invalid_header" with the header's name as param).
//
//	X-Mock-Status: 429             answer with this status (4xx or 5xx) and the format's error
//	                               body for it (429 with Retry-After: 1, except Gemini; 529
//	                               is Anthropic's overloaded_error); a 2xx status turns the
//	                               provider's random failures off for this request
//	X-Mock-Latency-Ms: 250         latency in place of Latency+Jitter
//	X-Mock-Completion-Tokens: 100  reply length in words, 0 to 1,048,576 (the token limit
//	                               still caps it); also the words of json_object replies
//	X-Mock-Tokens-Per-Second: 50   stream pacing; 0 sends events back to back
//	X-Mock-Cut-After: 3            streams: drop the connection after the opening events and
//	                               3 content events (chat: the role chunks and 3 steps; legacy
//	                               completions and Gemini: 3 chunks; Anthropic: message_start
//	                               … ping and 3 deltas), and, when there are no more, before the closing
//	                               events, so that a cut stream never ends properly (no
//	                               finish chunk, usage or [DONE]; no message_delta; no chunk
//	                               with finishReason); plain responses: promise the whole
//	                               body, send its first 3 bytes, drop the connection
//	X-Mock-Malformed: 1            plain responses: 200 whose body is the first half of the
//	                               JSON (not parsable); streams: after the first content
//	                               event, an event whose data is cut-off JSON, then the rest
//	                               of the stream as usual
//
// Dropping a connection panics with http.ErrAbortHandler, which net/http
// recovers without logging: the client of an http.Server sees an unexpected
// EOF (HTTP/1) or a reset stream (HTTP/2). Call the handler through an
// http.Server (httptest.NewServer) when using X-Mock-Cut-After.
//
// # Counters
//
// (*Server).Stats reports, per provider, the API requests (every endpoint
// but the model listings), the 5xx and 429 answers injected, the streams
// begun and the requests canceled by their client. They survive
// SetProvider.
//
// # Not simulated
//
// Audio, images out, the Responses API, Anthropic extended thinking and
// server tools (declared server tools are counted, never called),
// legacy-completion logprobs, echo and suffix, Gemini's thought parts and
// safety ratings, and the "obfuscation" field of OpenAI stream chunks.
package mock
