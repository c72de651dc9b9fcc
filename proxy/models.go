package proxy

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/proxy/route"
)

// listModels answers GET /v1/models in OpenRouter's shape, which is also a
// valid OpenAI model list: each model's pricing is its default deployment's
// (the cheapest healthy one), as strings in USD per token.
func (s *Server) listModels(c *gin.Context) {
	b := []byte(`{"object":"list","data":[`)
	for i, name := range s.router.Models() {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendModel(b, name)
	}
	c.Data(http.StatusOK, "application/json", append(b, `]}`...))
}

// modelOrEndpoints serves GET /v1/models/{id} and
// /v1/models/{id}/endpoints, where the id may contain slashes
// ("meta-llama/llama-3.3-70b").
func (s *Server) modelOrEndpoints(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("model"), "/")
	if base, ok := strings.CutSuffix(name, "/endpoints"); ok {
		if _, known := s.router.Model(name); !known {
			s.listEndpoints(c, base)
			return
		}
	}
	s.getModel(c, name)
}

func (s *Server) getModel(c *gin.Context, name string) {
	if _, ok := s.router.Model(name); !ok {
		s.writeError(c, nil, &apiError{class: errModelNotFound, param: "model", message: "model " + strconv.Quote(name) + " does not exist"})
		return
	}
	c.Data(http.StatusOK, "application/json", s.appendModel(nil, name))
}

func (s *Server) appendModel(b []byte, name string) []byte {
	m, _ := s.router.Model(name)
	def, _ := s.router.Default(name)
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, name)
	b = append(b, `,"object":"model","created":0,"owned_by":"switchyard","name":`...)
	b = jsonx.AppendString(b, name)
	ctx, maxOut := modelLimits(m)
	b = append(b, `,"context_length":`...)
	b = appendOptionalInt(b, ctx)
	b = append(b, `,"pricing":`...)
	b = appendPricing(b, def.Pricing)
	b = append(b, `,"top_provider":{"context_length":`...)
	b = appendOptionalInt(b, ctx)
	b = append(b, `,"max_completion_tokens":`...)
	b = appendOptionalInt(b, maxOut)
	b = append(b, `,"is_moderated":false},"supported_parameters":`...)
	b = appendParameters(b, modelCapabilities(m))
	return append(b, '}')
}

// listEndpoints answers GET /v1/models/{id}/endpoints in OpenRouter's
// shape, with each deployment's live figures: its status, p50 latency and
// time to first token, tokens/s and uptime over the last five minutes, as
// the router sees them (this process's observations blended with the
// cluster's).
func (s *Server) listEndpoints(c *gin.Context, name string) {
	eps, ok := s.router.Endpoints(name)
	if !ok {
		s.writeError(c, nil, &apiError{class: errModelNotFound, param: "model", message: "model " + strconv.Quote(name) + " does not exist"})
		return
	}
	b := []byte(`{"data":{"id":`)
	b = jsonx.AppendString(b, name)
	b = append(b, `,"name":`...)
	b = jsonx.AppendString(b, name)
	b = append(b, `,"created":0,"description":"","architecture":{"modality":"text->text","input_modalities":["text"],"output_modalities":["text"],"tokenizer":"Other","instruct_type":null},"endpoints":[`...)
	for i, e := range eps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = jsonx.AppendString(b, e.Provider+" | "+e.Model)
		b = append(b, `,"model_id":`...)
		b = jsonx.AppendString(b, name)
		b = append(b, `,"model_name":`...)
		b = jsonx.AppendString(b, name)
		b = append(b, `,"provider_name":`...)
		b = jsonx.AppendString(b, e.Provider)
		b = append(b, `,"tag":`...)
		b = jsonx.AppendString(b, e.Provider)
		b = append(b, `,"model":`...)
		b = jsonx.AppendString(b, e.Model)
		b = append(b, `,"context_length":`...)
		b = appendOptionalInt(b, e.Capabilities.ContextLength)
		b = append(b, `,"max_completion_tokens":`...)
		b = appendOptionalInt(b, e.Capabilities.MaxOutputTokens)
		b = append(b, `,"max_prompt_tokens":`...)
		b = appendOptionalInt(b, e.Capabilities.ContextLength)
		b = append(b, `,"quantization":null,"pricing":`...)
		b = appendPricing(b, e.Pricing)
		b = append(b, `,"supported_parameters":`...)
		b = appendParameters(b, e.Capabilities)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(statusCode(e.Status)), 10)
		b = append(b, `,"health":`...)
		b = jsonx.AppendString(b, e.Status)
		b = append(b, `,"latency_p50_ms":`...)
		b = appendOptionalFloat(b, e.LatencyP50Ms)
		b = append(b, `,"ttft_p50_ms":`...)
		b = appendOptionalFloat(b, e.TTFTP50Ms)
		b = append(b, `,"throughput_tps":`...)
		b = appendOptionalFloat(b, e.ThroughputTPS)
		b = append(b, `,"uptime_last_5m":`...)
		b = appendOptionalFloat(b, e.UptimeLast5m)
		b = append(b, `,"in_flight":`...)
		b = strconv.AppendInt(b, int64(e.InFlight), 10)
		b = append(b, '}')
	}
	c.Data(http.StatusOK, "application/json", append(b, `]}}`...))
}

// statusCode is OpenRouter's integer endpoint status.
func statusCode(status string) int {
	switch status {
	case route.StatusOK:
		return 0
	case route.StatusDegraded:
		return -1
	case route.StatusCooling:
		return -2
	default:
		return -3
	}
}

func appendPricing(b []byte, p config.Pricing) []byte {
	b = append(b, `{"prompt":`...)
	b = jsonx.AppendString(b, config.FormatPerToken(p.Input))
	b = append(b, `,"completion":`...)
	b = jsonx.AppendString(b, config.FormatPerToken(p.Output))
	b = append(b, `,"input_cache_read":`...)
	b = jsonx.AppendString(b, config.FormatPerToken(p.CachedInputPrice()))
	b = append(b, `,"input_cache_write":`...)
	b = jsonx.AppendString(b, config.FormatPerToken(p.CacheWritePrice()))
	b = append(b, `,"request":`...)
	b = jsonx.AppendString(b, config.FormatUSD(p.Request.NanoUSD))
	b = append(b, `,"image":"0","web_search":"0","internal_reasoning":`...)
	// OpenRouter's internal_reasoning is a price apart; "0" means billed
	// as completion.
	b = jsonx.AppendString(b, config.FormatPerToken(p.Reasoning))
	return append(b, '}')
}

func appendOptionalInt(b []byte, n int) []byte {
	if n <= 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(n), 10)
}

func appendOptionalFloat(b []byte, f *float64) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, *f, 'f', -1, 64)
}

// modelLimits are a model's largest context and output across deployments
// (0: unknown).
func modelLimits(m config.Model) (contextLength, maxOutput int) {
	for _, d := range m.Deployments {
		contextLength = max(contextLength, d.Capabilities.ContextLength)
		maxOutput = max(maxOutput, d.Capabilities.MaxOutputTokens)
	}
	return contextLength, maxOutput
}

// modelCapabilities is what at least one deployment of the model offers.
func modelCapabilities(m config.Model) config.Capabilities {
	yes, no := true, false
	out := config.Capabilities{Tools: &no, JSON: &no, Vision: &no}
	for _, d := range m.Deployments {
		c := d.Capabilities
		if c.Tools == nil || *c.Tools {
			out.Tools = &yes
		}
		if c.JSON == nil || *c.JSON {
			out.JSON = &yes
		}
		if c.Vision == nil || *c.Vision {
			out.Vision = &yes
		}
	}
	return out
}

// appendParameters lists OpenRouter's supported_parameters for the
// capabilities: the sampling parameters every OpenAI-compatible endpoint
// takes, plus tools and structured output where declared.
func appendParameters(b []byte, c config.Capabilities) []byte {
	b = append(b, `["max_tokens","temperature","top_p","stop","seed","frequency_penalty","presence_penalty","logit_bias","logprobs","top_logprobs","n","stream"`...)
	if c.Tools == nil || *c.Tools {
		b = append(b, `,"tools","tool_choice","parallel_tool_calls"`...)
	}
	if c.JSON == nil || *c.JSON {
		b = append(b, `,"response_format","structured_outputs"`...)
	}
	return append(b, ']')
}

// explainRoute answers GET /v1/route/explain: the plan the router would
// make for a request, without calling any provider. Query parameters:
// model (required; repeat it for OpenRouter's models fallback list), sort
// (price, latency, throughput, ...), stream, tools, json, vision
// (booleans), endpoint (chat, completions, embeddings, rerank), and
// provider (a JSON provider-preferences object, as in a request body).
func (s *Server) explainRoute(c *gin.Context) {
	q := c.Request.URL.Query()
	models := q["model"]
	if len(models) == 0 || models[0] == "" {
		s.writeError(c, nil, &apiError{class: errInvalidRequest, param: "model", message: "model is required"})
		return
	}
	truthy := func(name string) bool { v, _ := strconv.ParseBool(q.Get(name)); return v }
	req := route.Request{Model: models[0], Models: models[1:], Sort: q.Get("sort"), Endpoint: q.Get("endpoint"),
		Stream: truthy("stream"), NeedsTools: truthy("tools"), NeedsJSON: truthy("json"), NeedsVision: truthy("vision")}
	if prefs := q.Get("provider"); prefs != "" {
		if err := route.ParsePreferences([]byte(prefs), &req); err != nil {
			s.writeError(c, nil, &apiError{class: errInvalidRequest, param: "provider", message: "provider preferences: " + err.Error()})
			return
		}
		if q.Get("sort") != "" {
			req.Sort = q.Get("sort")
		}
	}
	plans, err := s.router.Plan(&req)
	if err != nil {
		s.writeError(c, nil, &apiError{class: errModelNotFound, param: "model", message: err.Error()})
		return
	}
	b := []byte(`{"model":`)
	b = jsonx.AppendString(b, models[0])
	b = append(b, `,"plans":[`...)
	for i, p := range plans {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"model":`...)
		b = jsonx.AppendString(b, p.Model)
		b = append(b, `,"strategy":`...)
		b = jsonx.AppendString(b, p.Strategy)
		b = append(b, `,"reason":`...)
		b = jsonx.AppendString(b, p.Reason)
		b = append(b, `,"candidates":[`...)
		for j, cand := range p.Candidates {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rank":`...)
			b = strconv.AppendInt(b, int64(j+1), 10)
			b = append(b, `,"provider":`...)
			b = jsonx.AppendString(b, cand.Provider)
			b = append(b, `,"model":`...)
			b = jsonx.AppendString(b, cand.Model)
			b = append(b, `,"score":`...)
			b = strconv.AppendFloat(b, cand.Score, 'f', -1, 64)
			b = append(b, `,"why":`...)
			b = jsonx.AppendString(b, cand.Why)
			b = append(b, `,"pricing":`...)
			b = appendPricing(b, cand.Pricing)
			b = append(b, '}')
		}
		b = append(b, `],"skipped":[`...)
		for j, sk := range p.Skipped {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"provider":`...)
			b = jsonx.AppendString(b, sk.Provider)
			b = append(b, `,"model":`...)
			b = jsonx.AppendString(b, sk.Model)
			b = append(b, `,"reason":`...)
			b = jsonx.AppendString(b, sk.Reason)
			b = append(b, '}')
		}
		b = append(b, `],"retry_after_ms":`...)
		b = strconv.AppendInt(b, p.RetryAfter.Milliseconds(), 10)
		b = append(b, '}')
	}
	c.Data(http.StatusOK, "application/json", append(b, `]}`...))
}
