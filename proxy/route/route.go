// Package route chooses which deployments serve a request and in what order.
// It knows models, deployments and prices; it knows nothing of HTTP, wire
// formats or the web framework.
package route

import (
	"sort"
	"strconv"

	"github.com/switchyard/switchyard/config"
)

// Strategy names.
const (
	StrategyOrdered = "ordered"
)

// Candidate is one deployment the proxy may try.
type Candidate struct {
	// Provider names the upstream (config providers[].name).
	Provider string
	// Model is the upstream's model name.
	Model   string
	Pricing config.Pricing
	// Rank is the candidate's 1-based position in the plan.
	Rank int
}

// Plan is the ordered list of candidates for one request, and why.
type Plan struct {
	Strategy   string
	Reason     string
	Candidates []Candidate
}

// Router holds the routing table. It is immutable after New and safe for
// concurrent use.
type Router struct {
	plans map[string]*Plan
	names []string
}

// New builds the routing table from validated config.
func New(models []config.Model) *Router {
	r := &Router{plans: make(map[string]*Plan, len(models))}
	for _, m := range models {
		p := &Plan{Strategy: StrategyOrdered}
		for i, d := range m.Deployments {
			p.Candidates = append(p.Candidates, Candidate{Provider: d.Provider, Model: d.Model, Pricing: d.Pricing, Rank: i + 1})
		}
		p.Reason = "configured order; " + strconv.Itoa(len(p.Candidates)) + " deployment(s)"
		r.plans[m.Name] = p
		r.names = append(r.names, m.Name)
	}
	sort.Strings(r.names)
	return r
}

// Route returns the plan for a public model name. The plan is shared: the
// caller must not modify it.
func (r *Router) Route(model string) (*Plan, bool) {
	p, ok := r.plans[model]
	return p, ok
}

// Models returns the public model names, sorted.
func (r *Router) Models() []string { return r.names }
