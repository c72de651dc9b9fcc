package route

import (
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/pricing"
)

// ErrUnknownModel is returned by Plan when none of the requested models is
// configured; the proxy answers 404.
var ErrUnknownModel = errors.New("unknown model")

// Options tune a Router. The zero value is the production setting.
type Options struct {
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Rand returns a number in [0,1) for the weighted and price draws and
	// Backoff; math/rand/v2's by default. It must be safe for concurrent
	// use when Plan is called concurrently.
	Rand func() float64
	// Breaker configures every endpoint's circuit breaker and 429 cooldown.
	Breaker BreakerConfig
	// StatsTTL is how long a remote (cluster-wide) snapshot counts; its
	// weight fades linearly to nothing over it. 30 s by default.
	StatsTTL time.Duration
	// LocalHalfLife is the half-life of in-process observations. 10 s by
	// default.
	LocalHalfLife time.Duration
}

// BreakerConfig configures the circuit breakers. Zero fields take the
// defaults given.
type BreakerConfig struct {
	// ConsecutiveFailures opens the circuit (5).
	ConsecutiveFailures int
	// ErrorRate of at least MinRequests outcomes within Window opens the
	// circuit (0.5, 10, 30 s).
	ErrorRate   float64
	MinRequests int
	Window      time.Duration
	// Cooldown is how long the circuit stays open after its first trip
	// (15 s); each further trip doubles it up to MaxCooldown (2 min).
	Cooldown    time.Duration
	MaxCooldown time.Duration
	// DefaultRetryAfter is a 429's cooldown when it gives no Retry-After
	// (1 s); MaxRetryAfter caps any (60 s).
	DefaultRetryAfter time.Duration
	MaxRetryAfter     time.Duration
}

func (c *BreakerConfig) applyDefaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.ConsecutiveFailures <= 0 {
		c.ConsecutiveFailures = 5
	}
	if c.ErrorRate <= 0 || c.ErrorRate > 1 {
		c.ErrorRate = 0.5
	}
	if c.MinRequests <= 0 {
		c.MinRequests = 10
	}
	def(&c.Window, 30*time.Second)
	def(&c.Cooldown, 15*time.Second)
	def(&c.MaxCooldown, 2*time.Minute)
	if c.MaxCooldown < c.Cooldown {
		c.MaxCooldown = c.Cooldown
	}
	def(&c.DefaultRetryAfter, time.Second)
	def(&c.MaxRetryAfter, time.Minute)
}

// Router plans requests and tracks endpoint health. It is safe for
// concurrent use; its model table is fixed by New.
type Router struct {
	now      func() time.Time
	rand     func() float64
	breaker  BreakerConfig
	statsTTL int64 // ns
	halfLife int64 // ns
	// ringSlot is the length of one of the breaker window's slots, ns.
	ringSlot int64

	models    map[string]*model
	names     []string
	endpoints map[endpointKey]*endpoint
	all       []*endpoint

	remoteMu sync.Mutex // serialises UpdateRemote
}

type endpointKey struct{ provider, model string }

// model is a public model with what Plan needs precomputed.
type model struct {
	cfg      config.Model
	name     string
	strategy string
	deps     []deployment
}

// deployment is one deployment of a model, flattened for the hot path.
type deployment struct {
	index    int // position in config, 0-based
	provider string
	model    string
	pricing  config.Pricing
	caps     config.Capabilities
	weight   float64
	// price is input + output in USD per million tokens, for the price
	// strategy's draw and Score.
	price float64
	// endpoints is a bit set of endpointBit; 0 serves every endpoint.
	endpoints          uint8
	tools, json, image tri
	denyData, zdr      bool
	ep                 *endpoint
}

// tri is a capability as configured: unset, yes or no.
type tri uint8

const (
	triUnset tri = iota
	triYes
	triNo
)

func triOf(b *bool) tri {
	switch {
	case b == nil:
		return triUnset
	case *b:
		return triYes
	default:
		return triNo
	}
}

// Endpoint names of Request.Endpoint and Capabilities.Endpoints.
const (
	EndpointChat        = "chat"
	EndpointCompletions = "completions"
	EndpointEmbeddings  = "embeddings"
	EndpointRerank      = "rerank"
)

var endpointNames = [...]string{EndpointChat, EndpointCompletions, EndpointEmbeddings, EndpointRerank}

// notServed are the skip reasons per endpoint bit, built once.
var notServed = func() (s [len(endpointNames) + 1]string) {
	for i, n := range endpointNames {
		s[i] = "does not serve " + n
	}
	s[len(endpointNames)] = "does not serve this endpoint"
	return s
}()

// endpointIndex is the bit position of an endpoint name, or len(endpointNames)
// for an unknown one.
func endpointIndex(name string) int {
	for i, n := range endpointNames {
		if n == name {
			return i
		}
	}
	return len(endpointNames)
}

// New builds a router from validated config: the models and the providers
// they name (for data_collection and zdr). Unset strategies are ordered,
// unset upstream models are the public name and weights below 1 count as 1,
// as config.ApplyDefaults would make them.
func New(models []config.Model, providers []config.Provider, opts Options) *Router {
	r := &Router{
		now:       opts.Now,
		rand:      opts.Rand,
		breaker:   opts.Breaker,
		statsTTL:  int64(opts.StatsTTL),
		halfLife:  int64(opts.LocalHalfLife),
		models:    make(map[string]*model, len(models)),
		endpoints: map[endpointKey]*endpoint{},
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Float64
	}
	r.breaker.applyDefaults()
	if r.statsTTL <= 0 {
		r.statsTTL = int64(30 * time.Second)
	}
	if r.halfLife <= 0 {
		r.halfLife = int64(10 * time.Second)
	}
	r.ringSlot = int64(r.breaker.Window) / ringSlots
	if r.ringSlot <= 0 {
		r.ringSlot = 1
	}

	provs := make(map[string]config.Provider, len(providers))
	for _, p := range providers {
		provs[p.Name] = p
	}
	for _, cm := range models {
		if _, dup := r.models[cm.Name]; dup || cm.Name == "" {
			continue
		}
		m := &model{cfg: cm, name: cm.Name, strategy: cm.Strategy}
		if !knownStrategy(m.strategy) {
			m.strategy = config.StrategyOrdered
		}
		for i, cd := range cm.Deployments {
			if cd.Model == "" {
				cd.Model = cm.Name
			}
			// A price the deployment does not set is the catalog's list
			// price of its model (an unknown model's stays zero).
			cd.Pricing = pricing.Resolve(cd)
			d := deployment{
				index:    i,
				provider: cd.Provider,
				model:    cd.Model,
				pricing:  cd.Pricing,
				caps:     cd.Capabilities,
				weight:   float64(max(cd.Weight, 1)),
				price:    float64(cd.Pricing.Input.NanoUSD+cd.Pricing.Output.NanoUSD) / 1e9,
				tools:    triOf(cd.Capabilities.Tools),
				json:     triOf(cd.Capabilities.JSON),
				image:    triOf(cd.Capabilities.Vision),
			}
			for _, e := range cd.Capabilities.Endpoints {
				if i := endpointIndex(e); i < len(endpointNames) {
					d.endpoints |= 1 << i
				}
			}
			p := provs[cd.Provider]
			d.denyData = p.DataCollection == "deny"
			d.zdr = p.ZDR
			key := endpointKey{d.provider, d.model}
			ep := r.endpoints[key]
			if ep == nil {
				ep = &endpoint{provider: d.provider, model: d.model, index: len(r.all)}
				r.endpoints[key] = ep
				r.all = append(r.all, ep)
			}
			d.ep = ep
			m.deps = append(m.deps, d)
		}
		r.models[cm.Name] = m
		r.names = append(r.names, cm.Name)
	}
	sort.Strings(r.names)
	return r
}

func knownStrategy(s string) bool {
	switch s {
	case config.StrategyOrdered, config.StrategyWeighted, config.StrategyPrice,
		config.StrategyLatency, config.StrategyThroughput, config.StrategyLeastBusy:
		return true
	}
	return false
}

// Models returns the public model names, sorted. The slice is shared: do
// not modify it.
func (r *Router) Models() []string { return r.names }

// Model returns a public model's configuration. Its slices are shared: do
// not modify them.
func (r *Router) Model(name string) (config.Model, bool) {
	m, ok := r.models[name]
	if !ok {
		return config.Model{}, false
	}
	return m.cfg, true
}

// Default returns a model's default endpoint, whose prices /v1/models
// shows: the cheapest (input + output) that is healthy — circuit not open,
// not cooling down after a 429 — or, when none is, the cheapest. Ties keep
// config order.
func (r *Router) Default(name string) (Candidate, bool) {
	m, ok := r.models[name]
	if !ok || len(m.deps) == 0 {
		return Candidate{}, false
	}
	now := r.now().UnixNano()
	best, bestHealthy := -1, false
	for i := range m.deps {
		d := &m.deps[i]
		healthy := d.ep.available(now)
		switch {
		case best < 0,
			healthy && !bestHealthy,
			healthy == bestHealthy && d.price < m.deps[best].price:
			best, bestHealthy = i, healthy
		}
	}
	d := &m.deps[best]
	why := whyDefault
	if !bestHealthy {
		why = whyDefaultUnhealthy
	}
	return Candidate{Provider: d.provider, Model: d.model, Pricing: d.pricing, Score: d.price, Why: why}, true
}

// Backoff is the wait before retrying the same endpoint for the attempt-th
// time (0-based): "full jitter", uniformly random up to 100 ms doubling
// per attempt, at most 2 s. Falling back to another endpoint needs no wait.
func (r *Router) Backoff(attempt int) time.Duration {
	attempt = max(attempt, 0)
	ceiling := 2 * time.Second
	if attempt < 5 {
		ceiling = min(ceiling, 100*time.Millisecond<<attempt)
	}
	return time.Duration(r.rand() * float64(ceiling))
}

// ParseSuffix splits OpenRouter's model variants that choose a sort:
// "m:floor" is ("m", "price") and "m:nitro" is ("m", "throughput"). Any
// other name is returned whole with no sort.
func ParseSuffix(name string) (base, sort string) {
	i := strings.LastIndexByte(name, ':')
	if i <= 0 {
		return name, ""
	}
	switch name[i+1:] {
	case "floor":
		return name[:i], config.StrategyPrice
	case "nitro":
		return name[:i], config.StrategyThroughput
	}
	return name, ""
}
