package route

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/config"
)

// Plan is the ordered list of candidates for one model of a request, and
// why. It belongs to the caller.
type Plan struct {
	// Model is the public model planned (without a :floor or :nitro suffix).
	Model string
	// Strategy is the strategy that ordered Candidates.
	Strategy string
	// Reason explains the order in a sentence, for the record.
	Reason string
	// Candidates are tried in order.
	Candidates []Candidate
	// Skipped are the deployments left out, with why.
	Skipped []Skip
	// RetryAfter is, when health skipped deployments, the shortest wait
	// until one of them may serve again; 0 otherwise.
	RetryAfter time.Duration
}

// Candidate is one deployment to try.
type Candidate struct {
	// Provider names the upstream (config providers[].name); Model is the
	// upstream's model name.
	Provider, Model string
	Pricing         config.Pricing
	// Score is the strategy's figure for the candidate (see Why): a
	// position, a weight share, a price in USD per million tokens,
	// milliseconds, tokens/s or attempts in flight.
	Score float64
	// Why says what Score is and why the candidate is where it is.
	Why string
}

// Skip is a deployment left out of a plan.
type Skip struct {
	Provider, Model, Reason string
}

// Why values. They are fixed strings so that planning does not allocate.
const (
	whyConfigOrder      = "config order"
	whyProviderOrder    = "provider.order"
	whyWeighted         = "weighted draw; score is the weight share"
	whyPriceDrawn       = "drawn ∝ 1/price²; score is USD per 1M input+output tokens"
	whyPriceFallback    = "fallback by price; score is USD per 1M input+output tokens"
	whyPriceCheapest    = "cheapest first; score is USD per 1M input+output tokens"
	whyPriceOutage      = "recent outage, last resort; score is USD per 1M input+output tokens"
	whyLatency          = "p50 latency, ms"
	whyTTFT             = "p50 time to first token, ms"
	whyThroughput       = "tokens/s"
	whyNoData           = "no figures yet: tried first to measure it"
	whyLeastBusy        = "attempts in flight"
	whyProbe            = "circuit half-open: this attempt is the probe"
	whyDefault          = "default: cheapest healthy endpoint"
	whyDefaultUnhealthy = "default: cheapest endpoint (none is healthy)"
)

// Skip reasons that do not depend on the deployment.
const (
	skipIgnored          = "ignored by request"
	skipNotOnly          = "not in provider.only"
	skipNoTools          = "no tools support"
	skipNoJSON           = "no JSON output support"
	skipNoVision         = "no vision support"
	skipUndeclaredTools  = "tools support not declared (require_parameters)"
	skipUndeclaredJSON   = "JSON output support not declared (require_parameters)"
	skipUndeclaredVision = "vision support not declared (require_parameters)"
	skipCollectsData     = "collects data"
	skipNotZDR           = "not zero-retention"
	skipProbeInFlight    = "circuit half-open, probe in flight"
	skipNotOrdered       = "not in provider.order and allow_fallbacks is false"
	skipNoFallbacks      = "allow_fallbacks is false: only the first endpoint"
)

// Plan returns one plan per requested model that exists, in request order:
// Model, then Models. A name with a :floor or :nitro suffix plans its base
// model sorted by price or throughput unless Sort says otherwise. When no
// requested model exists, Plan returns ErrUnknownModel. A plan without
// candidates carries the reasons in Skipped.
func (r *Router) Plan(req *Request) ([]*Plan, error) {
	now := r.now()
	if len(req.Models) == 0 || len(req.Models) == 1 && req.Models[0] == req.Model {
		name := req.Model
		if name == "" && len(req.Models) == 1 {
			name = req.Models[0]
		}
		m, strategy, src := r.resolve(name, req.Sort)
		if m == nil {
			return nil, unknownModel(name)
		}
		plans := newPlan(len(m.deps))
		r.planModel(m, req, strategy, src, now, plans[0])
		return plans, nil
	}

	var names []string
	if req.Model != "" {
		names = append(names, req.Model)
	}
	for _, n := range req.Models {
		if n != "" && !contains(names, n) {
			names = append(names, n)
		}
	}
	plans := make([]*Plan, 0, len(names))
	block := make([]Plan, len(names))
	for _, n := range names {
		m, strategy, src := r.resolve(n, req.Sort)
		if m == nil || planned(plans, m.name) {
			continue
		}
		p := &block[len(plans)]
		r.planModel(m, req, strategy, src, now, p)
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		return nil, unknownModel(strings.Join(names, ", "))
	}
	return plans, nil
}

// newPlan allocates a one-model plan with room for n candidates, in one
// allocation when n is small. The block is sized to n because allocation
// dominates Plan's cost.
func newPlan(n int) []*Plan {
	var p *Plan
	var ptrs []*Plan
	switch {
	case n <= 1:
		b := &struct {
			ptrs [1]*Plan
			plan Plan
			c    [1]Candidate
		}{}
		b.plan.Candidates = b.c[:0]
		p, ptrs = &b.plan, b.ptrs[:]
	case n == 2:
		b := &struct {
			ptrs [1]*Plan
			plan Plan
			c    [2]Candidate
		}{}
		b.plan.Candidates = b.c[:0]
		p, ptrs = &b.plan, b.ptrs[:]
	case n == 3:
		b := &struct {
			ptrs [1]*Plan
			plan Plan
			c    [3]Candidate
		}{}
		b.plan.Candidates = b.c[:0]
		p, ptrs = &b.plan, b.ptrs[:]
	case n == 4:
		b := &struct {
			ptrs [1]*Plan
			plan Plan
			c    [4]Candidate
		}{}
		b.plan.Candidates = b.c[:0]
		p, ptrs = &b.plan, b.ptrs[:]
	default:
		b := &struct {
			ptrs [1]*Plan
			plan Plan
		}{}
		p, ptrs = &b.plan, b.ptrs[:]
	}
	ptrs[0] = p
	return ptrs
}

func unknownModel(name string) error {
	return fmt.Errorf("%w %q", ErrUnknownModel, name)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func planned(plans []*Plan, model string) bool {
	for _, p := range plans {
		if p.Model == model {
			return true
		}
	}
	return false
}

// Where a plan's strategy came from.
const (
	srcConfig = iota
	srcRequest
	srcSuffix
)

// resolve finds the model a requested name means and its strategy.
func (r *Router) resolve(name, sort string) (*model, string, int) {
	m := r.models[name]
	suffixSort := ""
	if m == nil {
		var base string
		if base, suffixSort = ParseSuffix(name); suffixSort == "" {
			return nil, "", 0
		}
		if m = r.models[base]; m == nil {
			return nil, "", 0
		}
	}
	switch {
	case sort != "" && knownStrategy(sort):
		return m, sort, srcRequest
	case suffixSort != "":
		return m, suffixSort, srcSuffix
	}
	return m, m.strategy, srcConfig
}

// pick is a deployment that passed the filters, while it is ordered.
type pick struct {
	d     *deployment
	score float64
	why   string
	// key orders picks within a group (lower first); group orders groups.
	key   float64
	group int
	probe bool
}

// planModel fills p for one model.
func (r *Router) planModel(m *model, req *Request, strategy string, src int, nowT time.Time, p *Plan) {
	now := nowT.UnixNano()
	p.Model, p.Strategy = m.name, strategy
	var buf [8]pick
	picks := buf[:0]
	if len(m.deps) > len(buf) {
		picks = make([]pick, 0, len(m.deps))
	}
	var retryAfter int64
	for i := range m.deps {
		d := &m.deps[i]
		reason, wait, probe := r.filter(d, req, now, nowT)
		if reason != "" {
			r.skip(p, m, d, reason)
			if wait > 0 && (retryAfter == 0 || wait < retryAfter) {
				retryAfter = wait
			}
			continue
		}
		picks = append(picks, pick{d: d, probe: probe})
	}
	p.RetryAfter = time.Duration(retryAfter)

	// provider.order: the listed providers first, in the listed order.
	listed := 0
	if len(req.Order) > 0 {
		for i := range picks {
			if k := indexFold(req.Order, picks[i].d.provider); k >= 0 {
				picks[i].group, picks[i].key = 0, float64(k)
				picks[i].score, picks[i].why = float64(k+1), whyProviderOrder
				listed++
			} else {
				picks[i].group = 1
			}
		}
		sortPicks(picks)
		if req.AllowFallbacks != nil && !*req.AllowFallbacks {
			for i := listed; i < len(picks); i++ {
				r.skip(p, m, picks[i].d, skipNotOrdered)
			}
			picks = picks[:listed]
		}
	}
	r.order(strategy, src == srcConfig, req.Stream, picks[listed:], now)
	if len(req.Order) == 0 && req.AllowFallbacks != nil && !*req.AllowFallbacks && len(picks) > 1 {
		for i := 1; i < len(picks); i++ {
			r.skip(p, m, picks[i].d, skipNoFallbacks)
		}
		picks = picks[:1]
	}

	if p.Candidates == nil {
		p.Candidates = make([]Candidate, 0, len(picks))
	}
	for i := range picks {
		pk := &picks[i]
		why := pk.why
		if pk.probe {
			why = whyProbe
		}
		p.Candidates = append(p.Candidates, Candidate{
			Provider: pk.d.provider, Model: pk.d.model, Pricing: pk.d.pricing, Score: pk.score, Why: why,
		})
	}
	p.Reason = reasonFor(strategy, src, len(req.Order) > 0, req.Stream)
}

func (r *Router) skip(p *Plan, m *model, d *deployment, reason string) {
	if p.Skipped == nil {
		p.Skipped = make([]Skip, 0, len(m.deps))
	}
	p.Skipped = append(p.Skipped, Skip{Provider: d.provider, Model: d.model, Reason: reason})
}

// filter returns why a deployment cannot serve the request ("" if it can),
// how long until health lets it serve again, and whether it would be a
// half-open circuit's probe.
func (r *Router) filter(d *deployment, req *Request, now int64, nowT time.Time) (string, int64, bool) {
	if len(req.Ignore) > 0 && indexFold(req.Ignore, d.provider) >= 0 {
		return skipIgnored, 0, false
	}
	if len(req.Only) > 0 && indexFold(req.Only, d.provider) < 0 {
		return skipNotOnly, 0, false
	}
	if req.Endpoint != "" && d.endpoints != 0 {
		if i := endpointIndex(req.Endpoint); i == len(endpointNames) || d.endpoints&(1<<i) == 0 {
			return notServed[i], 0, false
		}
	}
	if s := capability(req.NeedsTools, req.RequireParameters, d.tools, skipNoTools, skipUndeclaredTools); s != "" {
		return s, 0, false
	}
	if s := capability(req.NeedsJSON, req.RequireParameters, d.json, skipNoJSON, skipUndeclaredJSON); s != "" {
		return s, 0, false
	}
	if s := capability(req.NeedsVision, req.RequireParameters, d.image, skipNoVision, skipUndeclaredVision); s != "" {
		return s, 0, false
	}
	if c := d.caps.ContextLength; c > 0 && req.PromptTokens > c {
		return "context_length " + strconv.Itoa(c) + " < prompt " + strconv.Itoa(req.PromptTokens), 0, false
	}
	if c := d.caps.MaxOutputTokens; req.RequireParameters && c > 0 && req.MaxTokens > c {
		return "max_output_tokens " + strconv.Itoa(c) + " < max_tokens " + strconv.Itoa(req.MaxTokens), 0, false
	}
	if mp := req.MaxPrice; mp != nil {
		if s := overPrice("price ", d.pricing.Input, mp.Prompt, "prompt"); s != "" {
			return s, 0, false
		}
		if s := overPrice("price ", d.pricing.Output, mp.Completion, "completion"); s != "" {
			return s, 0, false
		}
		if s := overPrice("request price ", d.pricing.Request, mp.Request, "request"); s != "" {
			return s, 0, false
		}
	}
	if req.DataCollection == "deny" && !d.denyData {
		return skipCollectsData, 0, false
	}
	if req.ZDR && !d.zdr {
		return skipNotZDR, 0, false
	}

	ep := d.ep
	probe := false
	if ep.open.Load() {
		until := ep.openUntil.Load()
		if now < until {
			return "circuit open until " + time.Unix(0, until).In(nowT.Location()).Format(time.TimeOnly), until - now, false
		}
		if ep.probing.Load() {
			return skipProbeInFlight, 0, false
		}
		probe = true
	}
	if until := ep.coolUntil.Load(); now < until {
		wait := until - now
		secs := (wait + int64(time.Second) - 1) / int64(time.Second)
		return "cooling down after 429 for " + strconv.FormatInt(secs, 10) + "s", wait, false
	}
	return "", 0, probe
}

func capability(needed, declared bool, c tri, no, undeclared string) string {
	switch {
	case !needed:
		return ""
	case c == triNo:
		return no
	case declared && c == triUnset:
		return undeclared
	}
	return ""
}

func overPrice(what string, price, limit config.Price, name string) string {
	if !limit.Set || price.NanoUSD <= limit.NanoUSD {
		return ""
	}
	return what + config.FormatUSD(price.NanoUSD) + " > max_price." + name + " " + config.FormatUSD(limit.NanoUSD)
}

func indexFold(list []string, s string) int {
	for i, v := range list {
		if strings.EqualFold(v, s) {
			return i
		}
	}
	return -1
}

// order sets the picks' scores and reasons and orders them by strategy.
// loadBalance asks the price strategy for OpenRouter's default draw rather
// than a strict sort.
func (r *Router) order(strategy string, loadBalance, stream bool, picks []pick, now int64) {
	if len(picks) == 0 {
		return
	}
	switch strategy {
	case config.StrategyWeighted:
		r.orderWeighted(picks)
	case config.StrategyPrice:
		r.orderPrice(picks, loadBalance, now)
	case config.StrategyLatency:
		fig, why := figLatency, whyLatency
		if stream {
			fig, why = figTTFT, whyTTFT
		}
		r.orderByFigure(picks, fig, why, now, false)
	case config.StrategyThroughput:
		r.orderByFigure(picks, figThroughput, whyThroughput, now, true)
	case config.StrategyLeastBusy:
		for i := range picks {
			n := float64(picks[i].d.ep.inFlight.Load())
			picks[i].score, picks[i].key, picks[i].group, picks[i].why = n, n, 0, whyLeastBusy
		}
		sortPicks(picks)
	default:
		for i := range picks {
			picks[i].score, picks[i].why = float64(picks[i].d.index+1), whyConfigOrder
		}
	}
}

// orderWeighted draws the order by weight without replacement.
func (r *Router) orderWeighted(picks []pick) {
	var total float64
	for i := range picks {
		total += picks[i].d.weight
	}
	for i := range picks {
		picks[i].score, picks[i].why = picks[i].d.weight/total, whyWeighted
	}
	for i := 0; i < len(picks)-1; i++ {
		var remaining float64
		for j := i; j < len(picks); j++ {
			remaining += picks[j].d.weight
		}
		u := r.rand() * remaining
		j := i
		for ; j < len(picks)-1; j++ {
			u -= picks[j].d.weight
			if u < 0 {
				break
			}
		}
		picks[i], picks[j] = picks[j], picks[i]
		// The rest keeps config order so that the next draw is stable.
		sortByIndex(picks[i+1:])
	}
}

// minPrice stands in for a zero price in the 1/price² draw.
const minPrice = 1e-6

// orderPrice puts endpoints in outage last and orders the rest by price,
// the first drawn ∝ 1/price² when loadBalance.
func (r *Router) orderPrice(picks []pick, loadBalance bool, now int64) {
	healthy := 0
	for i := range picks {
		pk := &picks[i]
		pk.score, pk.key, pk.group, pk.why = pk.d.price, pk.d.price, 0, whyPriceCheapest
		if loadBalance {
			pk.why = whyPriceFallback
		}
		if pk.d.ep.outage(now, r) {
			pk.group, pk.why = 1, whyPriceOutage
		} else {
			healthy++
		}
	}
	sortPicks(picks)
	if !loadBalance || healthy == 0 {
		return
	}
	var total float64
	for i := 0; i < healthy; i++ {
		total += inverseSquare(picks[i].d.price)
	}
	u := r.rand() * total
	j := 0
	for ; j < healthy-1; j++ {
		u -= inverseSquare(picks[j].d.price)
		if u < 0 {
			break
		}
	}
	// Move the drawn one to the front; the others stay sorted by price.
	drawn := picks[j]
	copy(picks[1:j+1], picks[:j])
	picks[0] = drawn
	picks[0].why = whyPriceDrawn
}

func inverseSquare(price float64) float64 {
	p := max(price, minPrice)
	return 1 / (p * p)
}

// orderByFigure sorts by a blended figure, endpoints without one first.
func (r *Router) orderByFigure(picks []pick, fig figure, why string, now int64, highFirst bool) {
	for i := range picks {
		pk := &picks[i]
		v, ok := r.blended(pk.d.ep, fig, now)
		if !ok {
			pk.score, pk.key, pk.group, pk.why = 0, 0, 0, whyNoData
			continue
		}
		pk.score, pk.key, pk.group, pk.why = v, v, 1, why
		if highFirst {
			pk.key = -v
		}
	}
	sortPicks(picks)
}

// sortPicks orders by group, then key, then config order: a stable
// insertion sort, as plans have a handful of picks.
func sortPicks(picks []pick) {
	for i := 1; i < len(picks); i++ {
		for j := i; j > 0 && lessPick(&picks[j], &picks[j-1]); j-- {
			picks[j], picks[j-1] = picks[j-1], picks[j]
		}
	}
}

func lessPick(a, b *pick) bool {
	if a.group != b.group {
		return a.group < b.group
	}
	if a.key != b.key {
		return a.key < b.key
	}
	return a.d.index < b.d.index
}

func sortByIndex(picks []pick) {
	for i := 1; i < len(picks); i++ {
		for j := i; j > 0 && picks[j].d.index < picks[j-1].d.index; j-- {
			picks[j], picks[j-1] = picks[j-1], picks[j]
		}
	}
}

// strategies indexes reasons.
var strategies = [...]string{config.StrategyOrdered, config.StrategyWeighted, config.StrategyPrice,
	config.StrategyLatency, config.StrategyThroughput, config.StrategyLeastBusy}

// reasons holds every Plan.Reason, built once: [strategy][source][order
// given][stream].
var reasons = func() (out [len(strategies)][3][2][2]string) {
	describe := map[string][2]string{
		config.StrategyOrdered:    {"configured order", "configured order"},
		config.StrategyWeighted:   {"random order by weight", "random order by weight"},
		config.StrategyLatency:    {"lowest p50 latency first", "lowest p50 time to first token first"},
		config.StrategyThroughput: {"highest tokens/s first", "highest tokens/s first"},
		config.StrategyLeastBusy:  {"fewest attempts in flight first", "fewest attempts in flight first"},
	}
	sources := [3]string{"model's strategy", "provider.sort", "model suffix"}
	for i, s := range strategies {
		for src := range 3 {
			for ord := range 2 {
				for stream := range 2 {
					d := describe[s][stream]
					if s == config.StrategyPrice {
						d = "cheapest first, endpoints in outage last"
						if src == srcConfig {
							d = "first drawn ∝ 1/price² among endpoints without a recent outage, the rest by price"
						}
					}
					if ord == 1 {
						d = "provider.order first, then " + d
					}
					out[i][src][ord][stream] = s + " (" + sources[src] + "): " + d
				}
			}
		}
	}
	return out
}()

func reasonFor(strategy string, src int, ordered, stream bool) string {
	for i, s := range strategies {
		if s != strategy {
			continue
		}
		o, st := 0, 0
		if ordered {
			o = 1
		}
		if stream {
			st = 1
		}
		return reasons[i][src][o][st]
	}
	return strategy
}

// Explain renders the plan in one line, for logs, errors and dry runs.
func (p *Plan) Explain() string {
	var b strings.Builder
	b.WriteString(p.Reason)
	for i, c := range p.Candidates {
		if i == 0 {
			b.WriteString("; candidates: ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(c.Provider + "/" + c.Model + " (" + strconv.FormatFloat(c.Score, 'g', 4, 64) + ", " + c.Why + ")")
	}
	for i, s := range p.Skipped {
		if i == 0 {
			b.WriteString("; skipped: ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(s.Provider + "/" + s.Model + " (" + s.Reason + ")")
	}
	return b.String()
}
