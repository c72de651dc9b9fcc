package route

import "github.com/switchyard/switchyard/config"

// Endpoint statuses, for GET /v1/models/{id}/endpoints.
const (
	// StatusOK is a healthy endpoint.
	StatusOK = "ok"
	// StatusDegraded is an endpoint whose circuit is half-open or that had
	// a significant recent outage.
	StatusDegraded = "degraded"
	// StatusDown is an endpoint whose circuit is open.
	StatusDown = "down"
	// StatusCooling is an endpoint cooling down after a 429.
	StatusCooling = "cooling"
)

// EndpointStatus is one deployment of a model with its live figures. Nil
// figures have no data.
type EndpointStatus struct {
	Provider, Model string
	Pricing         config.Pricing
	Capabilities    config.Capabilities
	// Status is ok, degraded, down or cooling.
	Status string
	// LatencyP50Ms, TTFTP50Ms and ThroughputTPS are the blended figures
	// the strategies use.
	LatencyP50Ms, TTFTP50Ms, ThroughputTPS *float64
	// UptimeLast5m is the percentage (0–100) of outcomes in the last five
	// minutes that did not fail, 429s and client errors aside.
	UptimeLast5m *float64
	// InFlight is the attempts in flight from this process.
	InFlight int
}

// Endpoints lists a model's deployments in config order with their status
// and figures; false when the model does not exist.
func (r *Router) Endpoints(name string) ([]EndpointStatus, bool) {
	m, ok := r.models[name]
	if !ok {
		return nil, false
	}
	now := r.now().UnixNano()
	out := make([]EndpointStatus, len(m.deps))
	for i := range m.deps {
		d := &m.deps[i]
		ep := d.ep
		s := &out[i]
		s.Provider, s.Model, s.Pricing, s.Capabilities = d.provider, d.model, d.pricing, d.caps
		s.InFlight = int(ep.inFlight.Load())
		switch {
		case ep.open.Load() && now < ep.openUntil.Load():
			s.Status = StatusDown
		case now < ep.coolUntil.Load():
			s.Status = StatusCooling
		case ep.open.Load() || ep.outage(now, r):
			s.Status = StatusDegraded
		default:
			s.Status = StatusOK
		}
		s.LatencyP50Ms = optional(r.blended(ep, figLatency, now))
		s.TTFTP50Ms = optional(r.blended(ep, figTTFT, now))
		s.ThroughputTPS = optional(r.blended(ep, figThroughput, now))
		s.UptimeLast5m = optional(r.uptime(ep, now))
	}
	return out, true
}

func optional(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}
