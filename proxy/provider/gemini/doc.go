// Package gemini is the adapter for Google's Gemini API
// (generativelanguage.googleapis.com, v1beta). It presents OpenAI's wire
// format to the proxy, as every adapter does (see package provider):
// Send translates an OpenAI request to Gemini, calls it with the key in
// x-goog-api-key, and translates the answer back. It also translates the
// other way — a native generateContent request to OpenAI, and OpenAI's
// answer to Gemini's — for a native Gemini endpoint served by
// OpenAI-shaped upstreams, and reads the usage of native responses.
//
// The package owns the translation and nothing else: it uses net/http only,
// knows nothing of the proxy's web framework, routing or records, and never
// logs (a key the client brought must not leak).
//
// # Chat completions (POST /v1/chat/completions)
//
// The model named in the body is called at models/{model}:generateContent,
// or :streamGenerateContent?alt=sse for a stream.
//
// Request, OpenAI → Gemini:
//   - system and developer messages → systemInstruction (all of them, in
//     order); user → role "user"; assistant → role "model"; consecutive
//     messages of one role are merged into one turn;
//   - text parts; images: data: URLs → inlineData, other URLs → fileData
//     (with a MIME type when the extension tells it); input_audio →
//     inlineData audio/{format}; file parts with file_data → inlineData, or
//     a Gemini Files API URI as file_id → fileData;
//   - assistant tool_calls (and the deprecated function_call) → functionCall
//     parts with args objects (arguments that are not a JSON object are kept
//     as {"arguments": text});
//   - tool (and deprecated function) messages → functionResponse parts in
//     the user role, named after the call their tool_call_id answers; a
//     response that is not a JSON object is sent as {"content": text};
//   - tools and functions → functionDeclarations, their JSON Schemas
//     converted to Gemini's Schema (see schema.go for what is kept, changed
//     and dropped — additionalProperties, $schema, $defs after inlining,
//     strict, ...); a function without parameters is declared without them;
//   - tool_choice auto/none/required/{function} → functionCallingConfig
//     AUTO/NONE/ANY (+ allowedFunctionNames); allowed_tools narrows the
//     declarations;
//   - temperature, top_p, top_k, n → candidateCount, seed, presence and
//     frequency penalties, max_completion_tokens (or max_tokens) →
//     maxOutputTokens, stop → stopSequences, logprobs/top_logprobs →
//     responseLogprobs/logprobs;
//   - modalities with "image" (OpenRouter's form) → responseModalities
//     TEXT and IMAGE;
//   - response_format json_object → responseMimeType application/json;
//     json_schema → that plus responseSchema (converted, with
//     propertyOrdering so that the output keeps the schema's order);
//   - reasoning_effort (or OpenRouter's reasoning.effort / max_tokens /
//     enabled) → thinkingConfig: a thinkingLevel for Gemini 3 (Pro models
//     know only LOW and HIGH), a thinkingBudget for 2.5 (none → 0, or 128
//     for Pro, which cannot switch thinking off; minimal/low → 1024;
//     medium → 8192; high → 24576), following Google's table for its own
//     OpenAI-compatible endpoint; OpenRouter's reasoning object (unless
//     exclude) or include_reasoning also asks for thought summaries.
//
// Thought signatures: Gemini 3 rejects a conversation whose function calls
// lack the signature Gemini attached to them. A tool call's id carries its
// signature (id + "__thought__" + signature, the convention LiteLLM uses),
// so that it survives any OpenAI client, and it is put back on the
// functionCall part; Google's extra_content.google.thought_signature is read
// too. For a Gemini 3 model, a model turn whose first function call has no
// signature (history from another provider after a fallback) gets the
// placeholder Google documents for that case.
//
// Response, Gemini → OpenAI: each candidate → a choice; text parts joined
// → content (null when the turn only calls tools); thought parts → never
// content, but OpenRouter's message.reasoning; functionCall parts →
// tool_calls (Gemini's id, or "call_" + a random id); inline images →
// OpenRouter's message.images; logprobsResult → logprobs. finishReason
// STOP → stop, MAX_TOKENS → length, SAFETY, RECITATION, BLOCKLIST,
// PROHIBITED_CONTENT, SPII, LANGUAGE and the IMAGE_ ones → content_filter,
// any with tool calls → tool_calls, others → stop. A prompt blocked by
// promptFeedback.blockReason (no candidates) is a 200 completion with empty
// content and finish_reason content_filter — the same as in a stream, whose
// 200 has gone out before the verdict. usageMetadata → usage:
// prompt_tokens = promptTokenCount (+ toolUsePromptTokenCount);
// completion_tokens = candidatesTokenCount + thoughtsTokenCount;
// completion_tokens_details.reasoning_tokens = thoughtsTokenCount;
// prompt_tokens_details.cached_tokens = cachedContentTokenCount.
//
// Streams: each Gemini event holds only the new parts (it is not
// cumulative) and restates the running usage; the translation is event by
// event, never buffered (see stream.go).
//
// # Embeddings (POST /v1/embeddings)
//
// input (a string or a list of strings) → :batchEmbedContents, in calls of
// at most 100 texts; dimensions → outputDimensionality; the response →
// data[].embedding, as floats or, with encoding_format base64 (the OpenAI
// Python SDK's default), as little-endian float32s. usage.prompt_tokens is
// Gemini's count where it reports one, which the Gemini API usually does
// not: then it is 0.
//
// # Errors
//
// Google's {"error": {"code", "message", "status"}} → OpenAI's error shape
// with the same HTTP status, type from the status, and code = the status
// name (RESOURCE_EXHAUSTED, INVALID_ARGUMENT, ...). Retry-After is kept, or
// made from a google.rpc.RetryInfo retryDelay. One exception: a rejected
// API key, which Google answers with 400 and reason API_KEY_INVALID,
// becomes 401, so that the proxy treats it as the provider's fault. A
// request that cannot be translated (malformed, a tool message answering
// no call) is answered 400 without calling Gemini; a 200 that is not a
// Gemini response becomes a 502.
//
// # Not supported
//
// Other paths (/completions, /rerank) and requests Gemini cannot serve
// return an error wrapping provider.ErrUnsupported, so the proxy moves on:
// audio output (modalities), non-function tools (web search, custom
// tools), token-id embedding inputs, OpenAI file ids, non-text content in
// system, assistant or tool messages, and non-local schema references.
// Ignored: parallel_tool_calls (Gemini decides), logit_bias, user,
// metadata, store, service_tier; Gemini's safetySettings and cachedContent
// cannot be set through the OpenAI format. Non-string enums in JSON
// Schemas are dropped (Gemini's enums are strings).
package gemini
