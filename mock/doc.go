// Package mock simulates OpenAI-compatible LLM providers. It serves
// `switchyard mock` (on :8089 by default) and the simulated providers of
// `switchyard dev`, and it is the upstream of the proxy's tests and of the
// benchmark. It owns the simulation only: it routes nothing, records nothing,
// and must stay fast enough never to be a benchmark's bottleneck (a few
// microseconds of CPU per request, no allocation-heavy encoding).
//
// # Paths
//
// One Server serves every configured provider under its own prefix, so that a
// provider's base URL is http://host:8089/{name}/v1:
//
//	POST /{name}/v1/chat/completions   chat completion, plain or "stream": true (SSE)
//	GET  /{name}/v1/models             {"object":"list","data":[{"id","object":"model","created","owned_by"}]}
//	GET  /{name}/v1/models/{id}        one model of that list
//	GET  /healthz                      {"status":"ok"}
//
// An unknown provider gets 404 with code "unknown_provider"; an unknown path
// 404 and a wrong method 405, both in OpenAI's error shape. Any model name is
// accepted and echoed in the response; the models list is informational.
//
// # Behaviour of a provider
//
// Each provider behaves as its config.MockProvider says; (*Server).SetProvider
// changes that at run time, without a lock on the request path.
//
//   - Auth. A provider with an APIKey requires "Authorization: Bearer <key>",
//     else 401 {"error":{"message":…,"type":"invalid_request_error",
//     "param":null,"code":"invalid_api_key"}}. The answer never echoes the key.
//   - Validation, as OpenAI does it: a body that is not JSON, or not an object,
//     400 (type "invalid_request_error"); a field of the wrong type, 400 with
//     code "invalid_type" and the field as param; a missing model, missing or
//     empty messages, a message without a valid role, or max_tokens /
//     max_completion_tokens below 1, 400. Bodies over 32 MiB get 413. Every
//     error has the shape {"error":{"message","type","param","code"}}, param
//     and code being null when they do not apply.
//   - Injected failures, after validation: with probability ErrorRate, 500
//     {"error":{"message":"The server had an error…","type":"server_error",
//     "param":null,"code":null}}; with probability RateLimitRate, 429 with
//     "Retry-After: 1", type and code "rate_limit_exceeded". One random draw
//     per request decides, so the two rates are exclusive.
//   - Latency. Latency plus a uniform random 0..Jitter passes before the
//     response headers; for a stream it is the time to the first token,
//     since the headers, the role chunk and the first content chunk all go
//     out once it has passed. A 5xx also waits (the provider failed while
//     working); 4xx answers, 429 included, come at once (the request is
//     turned away at the door). A client that goes away ends the wait, and
//     the request counts as canceled.
//   - Tokens. The completion is CompletionTokens "words", one token each
//     ("The", " quick", " brown", …), fewer when the request's max_tokens or
//     max_completion_tokens (the smaller of the two) is lower, and then
//     finish_reason is "length", else "stop". prompt_tokens counts the
//     messages the way OpenAI's cookbook estimates it: 3 for the reply's
//     priming plus, per message, 4 of framing, its text at 4 bytes a token
//     rounded up (content given as a string or as text parts) and 85 per
//     image part. Counts depend on the request alone, so the same request
//     always yields the same usage.
//   - Prompt caching, as OpenAI reports it: prompts under 1,024 tokens have
//     cached_tokens 0. For longer ones every message but the last is taken as
//     an already-cached prefix when it is itself 1,024 tokens or more, and
//     cached_tokens is that prefix rounded down to 1,024 + 128·k tokens. The
//     last message is the new part, so a single long message is never cached.
//
// # Responses
//
// A plain response is a chat.completion exactly as OpenAI sends it: id
// ("chatcmpl-" and 29 random letters and digits), object, created, model,
// choices [{index, message{role "assistant", content, refusal null,
// annotations []}, logprobs null, finish_reason}], usage{prompt_tokens,
// completion_tokens, total_tokens, prompt_tokens_details{cached_tokens,
// audio_tokens}, completion_tokens_details{reasoning_tokens, audio_tokens,
// accepted_prediction_tokens, rejected_prediction_tokens}}, service_tier
// "default", and a system_fingerprint fixed per provider.
//
// A stream ("stream": true) is text/event-stream: "data: {json}\n\n" events of
// chat.completion.chunk objects sharing one id and created time. First a chunk
// with delta {"role":"assistant","content":"","refusal":null}; then one chunk
// per token, delta {"content":" word"}, each flushed as it is made and paced
// 1/TokensPerSecond apart (0: no pacing); then a chunk with delta {} and the
// finish_reason; then, only when the request had
// "stream_options":{"include_usage":true}, a chunk with "choices":[] and the
// usage, every chunk before it carrying "usage":null; and last
// "data: [DONE]\n\n". The closing events go out in one write, as they
// usually arrive from OpenAI. Choices carry index 0 and logprobs null. The
// deltas concatenate to the content of the equivalent plain response.
//
// Not simulated: n > 1, tool calls, structured outputs (the content is the
// same words whatever response_format says), logprobs and the "obfuscation"
// field of stream chunks.
//
// # Per-request headers
//
// Tests and direct users steer one request with these headers; each replaces
// the provider's setting for that request. A malformed value gets 400 with
// the header's name as param.
//
//	X-Mock-Status: 429             answer with this status (4xx or 5xx) and an OpenAI error
//	                               body (429 with Retry-After: 1); a 2xx status turns the
//	                               provider's random failures off for this request
//	X-Mock-Latency-Ms: 250         latency in place of Latency+Jitter
//	X-Mock-Completion-Tokens: 100  completion length, 0 to 1,048,576 (max_tokens still caps it)
//	X-Mock-Tokens-Per-Second: 50   stream pacing; 0 sends chunks back to back
//	X-Mock-Cut-After: 3            streams: drop the connection after the role chunk and 3
//	                               content chunks (0: right after the role chunk; all of them,
//	                               if there are fewer), so with no finish chunk, no usage and
//	                               no [DONE]; plain responses:
//	                               promise the whole body, send its first 3 bytes, drop
//	                               the connection
//	X-Mock-Malformed: 1            plain responses: 200 whose body is the first half of the
//	                               JSON (not parsable); streams: after the first content
//	                               chunk, an event whose data is cut-off JSON, then the
//	                               rest of the stream as usual
//
// Dropping a connection panics with http.ErrAbortHandler, which net/http
// recovers without logging: the client of an http.Server sees an unexpected
// EOF (HTTP/1) or a reset stream (HTTP/2). Call the handler through an
// http.Server (httptest.NewServer) when using X-Mock-Cut-After.
//
// # Counters
//
// (*Server).Stats reports, per provider, the requests, the 5xx and 429
// answers injected, the streams begun and the requests canceled by their
// client. They survive SetProvider.
package mock
