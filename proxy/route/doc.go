// Package route decides which deployments serve a request and in what
// order, keeps every endpoint's health, and explains each decision.
//
// It owns models, deployments, prices, health and statistics. It knows
// nothing of HTTP handlers, gin, wire formats or records: the proxy turns a
// client request into a [Request], asks [Router.Plan] for one [Plan] per
// requested model, tries the candidates in order, and reports every upstream
// attempt through [Router.Begin] and [Attempt.End]. The package's only
// network code is [Poller], which reads the query API's cluster-wide
// statistics.
//
// An endpoint is one provider serving one upstream model (provider+model).
// Its health and statistics are shared by every public model that lists it.
//
// # Strategies
//
// A plan's order comes from the request's sort (provider.sort, or the model
// suffix :floor = price, :nitro = throughput) or else the model's
// configured strategy. Each candidate carries a Score and a Why.
//
//   - ordered: the configured order. Score is the 1-based position.
//   - weighted: a random order drawn by Deployment.Weight without
//     replacement, so weights 3:1 put the first deployment first in 75% of
//     plans. Score is the deployment's share of the weight.
//   - price, as a model's configured strategy: OpenRouter's default load
//     balancing. Endpoints with a significant recent outage (see below) go
//     last; among the others the first is drawn with probability ∝ 1/price²
//     and the rest follow by price, cheapest first. price is the
//     deployment's input plus output price (USD per million tokens, so one
//     prompt token plus one completion token); ties keep config order. A
//     free endpoint (price 0) counts as 0.000001 USD, so free endpoints
//     win the draw and share it evenly. Score is that price.
//   - price, asked by the request (provider.sort "price" or ":floor"):
//     cheapest first, no load balancing, as OpenRouter does when sort is
//     given. Endpoints in outage still go last.
//   - latency: lowest recent p50 latency first, or p50 time to first token
//     when the request streams. Score is milliseconds.
//   - throughput: highest recent tokens per second of generation first.
//     Score is tokens/s.
//   - least_busy: fewest attempts in flight from this process first. Score
//     is the number in flight.
//
// Under latency and throughput an endpoint without figures (none measured
// here in the last five minutes, and no fresh cluster figure) is tried
// first, in config order: one request measures it, and an endpoint that
// fell out of favour is re-measured once its figures expire instead of
// being starved forever.
//
// provider.order puts the listed providers first, in the listed order, and
// the rest after them in the strategy's order. allow_fallbacks=false keeps
// only the listed providers when order is given, and otherwise only the
// first candidate. provider.sort accepts Switchyard's other strategy names
// too (ordered, weighted, least_busy).
//
// # Filters
//
// A deployment that cannot serve the request is left out of the plan with a
// [Skip] naming the reason; a plan without candidates carries them all, so
// that the proxy can say why it answers 503. In order:
//
//   - provider.ignore and provider.only (provider names, case-insensitive);
//   - the endpoint (chat, completions, embeddings, rerank) when the
//     deployment lists Capabilities.Endpoints; an empty list serves every
//     endpoint;
//   - capabilities the request needs (tools, JSON output, images): a
//     deployment whose capability is explicitly false is always skipped;
//     with require_parameters an unset capability is skipped too (the
//     config assumes unset means yes, require_parameters wants it declared),
//     as is max_tokens above Capabilities.MaxOutputTokens;
//   - the prompt estimate above Capabilities.ContextLength;
//   - provider.max_price: input price above prompt, output price above
//     completion, request price above request (exact, in nano-USD); image
//     is accepted and ignored, as no deployment prices images;
//   - data_collection "deny" keeps providers whose data_collection is
//     "deny"; zdr keeps ZDR providers;
//   - health: an open circuit, a half-open circuit whose one probe is in
//     flight, and a 429 cooldown.
//
// # Health
//
// Every endpoint has a circuit breaker. Only failures that count against
// health (Outcome.Retriable without RateLimited: connection errors,
// timeouts, 5xx) move it; client errors and cancellations are neutral and
// a 429 has its own cooldown. The breaker opens after BreakerConfig's
// consecutive failures (5), or when at least MinRequests (10) outcomes in
// the last Window (30 s, in six slots) are ErrorRate (50%) or more
// failures. It stays open for Cooldown (15 s), doubling with each trip to
// MaxCooldown (2 min); the doubling restarts once the circuit has stayed
// closed for MaxCooldown. When the cooldown ends the circuit is half-open:
// plans include the endpoint again, the first Begin takes the single probe
// slot and other plans skip it until the probe ends. The probe's success
// closes the circuit, its failure opens it again, and a neutral outcome
// frees the slot for another probe. Outcomes of attempts begun before a
// trip never move the new state.
//
// A 429 cools the endpoint for Outcome.RetryAfter (1 s when absent, at most
// MaxRetryAfter, 60 s); nothing else changes.
//
// An endpoint has a significant recent outage while its breaker tripped in
// the last Window, or at least 3 failures were ErrorRate/2 (25%) or more
// of its outcomes in the Window, or the fresh cluster figures show half or
// more of at least 20 requests failing (errors less 429s). The price
// strategy sends such endpoints last, and /v1/models/{id}/endpoints calls
// them degraded.
//
// # Statistics and blending
//
// In-process figures are time-decayed: each observation's weight halves
// every LocalHalfLife (10 s), so a change shows within seconds while a
// steady endpoint keeps about 14 × requests/s observations' worth of
// memory. Latency and TTFT are decayed geometric means of successful
// attempts (the mean of log milliseconds), a robust stand-in for the p50
// that needs no histogram; throughput is decayed completion tokens over
// decayed generation time (latency − TTFT) of successful streams, as the
// query API computes it. Local figures older than five minutes are
// dropped. The breaker's window (and the outage rule) counts outcomes in
// six slots of Window/6; uptime_last_5m counts them in 5-second buckets
// over five minutes.
//
// [Router.UpdateRemote] takes the cluster's figures (the query API's
// GET /v1/stats/providers?window=5m, usually through [Poller]). A remote
// figure counts as a prior worth min(requests, 20) observations, fading
// linearly to nothing as the snapshot ages to StatsTTL (30 s); it is
// ignored after that. The blend is (wLocal·local + wRemote·remote) /
// (wLocal + wRemote), in log space for latencies. So an endpoint seen only
// by other replicas is routed on the cluster's figures, and one that slows
// down here outweighs the cluster's five-minute view after a handful of
// local observations. Uptime blends the local five-minute success share
// with the cluster's by request counts.
//
// Plan does no locking and allocates once for a plan of up to four
// candidates: the per-model data is precomputed by [New], and health and
// figures are read from atomics that [Attempt.End] and
// [Router.UpdateRemote] publish.
package route
