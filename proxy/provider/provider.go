// Package provider defines what a provider adapter is: the contract
// between the proxy and the packages under proxy/provider/..., one per wire
// format. Adapters use net/http only; they know nothing of the proxy's web
// framework, routing or records.
//
// An adapter presents OpenAI's wire format to the proxy whatever the
// provider speaks: Send takes an OpenAI-shaped request body and returns an
// OpenAI-shaped response — the same status semantics, a JSON body, or for a
// stream an SSE stream of chat.completion.chunk events ending with
// "data: [DONE]". Usage follows OpenAI's shape (prompt_tokens includes
// cached tokens; completion_tokens includes reasoning tokens); cache writes,
// which OpenAI does not report, go in
// usage.prompt_tokens_details.cache_write_tokens. Errors keep the
// provider's status code with OpenAI's error shape, and Retry-After is kept.
package provider

import (
	"context"
	"errors"
	"net/http"
)

// Paths an adapter may be asked to serve, relative to OpenAI's /v1.
const (
	PathChat        = "/chat/completions"
	PathCompletions = "/completions"
	PathEmbeddings  = "/embeddings"
	PathRerank      = "/rerank"
)

// ErrUnsupported is returned by an adapter asked for a path its provider
// does not serve. The proxy moves on to the next deployment.
var ErrUnsupported = errors.New("not supported by this provider")

// Request is one upstream call in OpenAI's wire format.
type Request struct {
	// Path is one of the Path constants.
	Path string
	// Body is the OpenAI request, with the deployment's upstream model
	// already in "model".
	Body []byte
	// Stream is true when the body asks for a stream.
	Stream bool
	// APIKey, when set, replaces the provider's configured key: a key the
	// client brought (BYOK). It must never be logged.
	APIKey string
}

// Adapter sends OpenAI-shaped requests to one provider.
type Adapter interface {
	Send(ctx context.Context, r *Request) (*http.Response, error)
}

// ForwardRequest is a request in the provider's own wire format, relayed
// as the client sent it.
type ForwardRequest struct {
	Method   string
	Path     string // the provider's path, e.g. "/v1/messages"
	RawQuery string
	// Header holds the client's headers worth relaying (content type,
	// version headers); the adapter sets authentication itself.
	Header http.Header
	Body   []byte
	APIKey string // as in Request
}

// Forwarder is an optional Adapter capability: relaying a request in the
// provider's native format unchanged but for authentication, for the
// drop-in native endpoints (/anthropic/v1/..., /openai/v1/...).
type Forwarder interface {
	Forward(ctx context.Context, r *ForwardRequest) (*http.Response, error)
}
