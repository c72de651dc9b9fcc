// Package anthropic is the adapter for Anthropic's Messages API. It owns
// the translation between Anthropic's wire format and OpenAI's chat
// completions format, both ways, and the reading of usage from native
// Messages traffic. It uses net/http only: it knows nothing of the proxy's
// web framework, routing, records or pricing, and it starts no goroutines
// (streams are translated inside Read, one upstream event at a time).
//
// # Serving OpenAI clients from Anthropic (Client.Send)
//
// Send takes an OpenAI chat completion request, posts the equivalent
// Messages request to {base_url}/v1/messages with x-api-key (the
// configured key, or the request's BYOK key) and anthropic-version, and
// returns an OpenAI-shaped response: a chat.completion, or an SSE stream of
// chat.completion.chunk events ending with "data: [DONE]". Anthropic's
// errors keep their status (529 included) and headers (Retry-After) and
// take OpenAI's error shape, {"error":{"message","type","param":null,
// "code"}}, with Anthropic's error type as the code. An error event
// mid-stream becomes one `data: {"error":{...}}` event that ends the stream.
// A request that Anthropic would reject as malformed is answered with a 400
// in that shape without calling Anthropic; one that needs what Anthropic
// lacks fails with provider.ErrUnsupported, so the proxy can try another
// deployment.
//
// Request mapping:
//   - system and developer messages, wherever they are → system (a string
//     when there is one text, else text blocks, cache_control kept);
//   - user and assistant content, a string or parts: text; refusal parts
//     as text; image_url (data: URLs → base64 source with their media type,
//     http(s) → url source); file parts with file_data → document blocks
//     (base64, filename as title); cache_control on parts is passed through
//     (OpenRouter's convention); empty text parts are dropped, as Anthropic
//     rejects them, and so is an assistant message left with no content;
//   - assistant tool_calls → tool_use blocks (arguments parsed; they must be
//     a JSON object, "" reads as {});
//   - tool messages → tool_result blocks, consecutive ones in one user turn,
//     which a following user message joins;
//   - tools (function: name, description, parameters → input_schema, with
//     "type":"object" added when missing and an empty object schema when
//     absent), tool_choice (auto, none, required → any, a named function →
//     tool), parallel_tool_calls false → disable_parallel_tool_use; a
//     tool_choice without tools is dropped;
//   - max_completion_tokens, else max_tokens, else 4096 (Anthropic requires
//     it) → max_tokens; temperature (clamped to Anthropic's 0..1), top_p,
//     top_k; stop (string or array) → stop_sequences; user →
//     metadata.user_id; stream_options.include_usage → a final usage chunk.
//   - response_format json_object or json_schema: Anthropic has no JSON
//     mode, so the format becomes one more tool whose input_schema is the
//     schema (any object for json_object), named after the schema (with "_"
//     appended if a client tool has that name), and tool_choice forces it
//     (or "any" when the client has tools of its own that may be called
//     first). The tool's input comes back as the message content, as JSON
//     text, and its tool_use stop as finish_reason "stop" — a structured
//     answer that validates against the schema, which an instruction in the
//     system prompt could not guarantee.
//
// Response mapping: text blocks joined → content (null when there are
// only tool calls); tool_use → tool_calls (arguments as compact JSON);
// thinking, redacted_thinking, citations and server tool blocks are
// dropped (a chat completion has no place for them); stop_reason end_turn,
// stop_sequence and pause_turn → stop, max_tokens and
// model_context_window_exceeded → length, tool_use → tool_calls, refusal →
// content_filter; usage → prompt_tokens = input + cache read + cache write,
// completion_tokens = output, prompt_tokens_details.cached_tokens = cache
// read, prompt_tokens_details.cache_write_tokens = cache write. id and model
// are Anthropic's; created is the time of the response; refusal and
// logprobs are null; system_fingerprint is absent (OpenAI's schema has it
// a string, and Anthropic has none to give).
//
// Streams: the first chunk, sent with the first content block (so that an
// overload error before any content can still be fallen back from), carries
// role "assistant"; text_delta → delta.content; a tool_use block → a
// tool_calls delta with index, id, type, name and arguments "", its
// input_json_delta → arguments fragments; message_delta → the
// finish_reason chunk; message_stop → the usage chunk (choices [], when
// include_usage was asked) and [DONE]. Input and cache counts come from
// message_start and, when present, message_delta (whose counts are
// cumulative). ping, thinking and signature deltas are ignored. A stream
// that ends before message_delta fails Read with io.ErrUnexpectedEOF.
//
// Not supported (provider.ErrUnsupported): n > 1, logprobs, audio input and
// output, OpenAI file ids, tools other than functions, allowed_tools
// choices. Ignored: seed, frequency_penalty, presence_penalty, logit_bias,
// reasoning_effort, service_tier, store, metadata, prediction, image detail
// and message names.
//
// # Native pass-through (Client.Forward, ParseMessageUsage, StreamObserver)
//
// Forward relays a Messages request unchanged but for authentication:
// the client's Authorization and x-api-key are replaced by the adapter's,
// anthropic-version is the client's if it sent one, else the configured
// one, and anthropic-beta and the like pass through. ParseMessageUsage and
// StreamObserver read the usage, stop reason and first content of that
// traffic for the record.
//
// # Serving Anthropic clients from OpenAI-compatible upstreams
//
// MessagesRequestToOpenAI, OpenAIResponseToMessages, OpenAIStreamToMessages
// and OpenAIErrorToMessages translate the other way. Supported: system
// (string or text blocks), text, images (base64 and url), PDF documents
// (base64, as file parts) and plain-text documents, tool_use / tool_result
// (results become tool messages placed before the rest of their turn;
// images in results move to the user message that follows), custom tools,
// tool_choice, disable_parallel_tool_use, stop_sequences, max_tokens,
// temperature, top_p, metadata.user_id, stream (with include_usage);
// responses with text, refusals, tool calls, reasoning (as thinking blocks
// with an empty signature) and cache usage. Dropped: thinking blocks and
// settings, top_k, cache_control, is_error. Not supported: server tools,
// Files API sources, URL documents, search results and other block types.
package anthropic
