package proxy

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/jsonx"
)

// listModels answers GET /v1/models in OpenRouter's shape, which is also a
// valid OpenAI model list: each model's pricing is its default deployment's,
// as strings in USD per token.
func (s *Server) listModels(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", s.modelsBody())
}

func (s *Server) modelsBody() []byte {
	s.modelsOnce.Do(func() {
		b := []byte(`{"object":"list","data":[`)
		for i, name := range s.router.Models() {
			plan, _ := s.router.Route(name)
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = jsonx.AppendString(b, name)
			b = append(b, `,"object":"model","created":0,"owned_by":"switchyard","name":`...)
			b = jsonx.AppendString(b, name)
			p := plan.Candidates[0].Pricing
			b = append(b, `,"pricing":{"prompt":`...)
			b = jsonx.AppendString(b, config.FormatPerToken(p.Input))
			b = append(b, `,"completion":`...)
			b = jsonx.AppendString(b, config.FormatPerToken(p.Output))
			b = append(b, `,"input_cache_read":`...)
			b = jsonx.AppendString(b, config.FormatPerToken(p.CachedInputPrice()))
			b = append(b, `,"input_cache_write":`...)
			b = jsonx.AppendString(b, config.FormatPerToken(p.CacheWritePrice()))
			b = append(b, `,"request":`...)
			b = jsonx.AppendString(b, config.FormatUSD(p.Request.NanoUSD))
			b = append(b, `}}`...)
		}
		s.models = append(b, `]}`...)
	})
	return s.models
}
