// Package pricing ships a catalog of the major hosted models' list prices
// (catalog.yaml, embedded) and resolves a deployment's effective prices: its
// own where config.yaml gives them, field by field, else the catalog's for
// its model. Prices are exact decimals (config.Price, nano-USD); no float
// ever touches them.
//
// The package does no I/O beyond reading the embedded file and keeps no
// mutable state; a Catalog is safe for concurrent use.
package pricing

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchyard/switchyard/config"
)

//go:embed catalog.yaml
var catalogYAML []byte

// Catalog is a parsed price catalog.
type Catalog struct {
	// Providers are as in the file, in its order; each one's models are
	// sorted by name.
	Providers []Provider
	// byName holds every model under its lower-case name and aliases.
	byName map[string]*Model
}

// Provider is one provider's block of the catalog.
type Provider struct {
	Name string
	// AsOf is the date the prices were taken from Source.
	AsOf   time.Time
	Source string
	Note   string
	Models []*Model
}

// Model is one model's list prices.
type Model struct {
	Name     string
	Provider string
	Aliases  []string
	// Pricing's Reasoning is set only where reasoning tokens are priced
	// apart from output (no shipped model is).
	Pricing config.Pricing
	Note    string
}

type fileCatalog struct {
	Providers []fileProvider `yaml:"providers"`
}

type fileProvider struct {
	Name   string               `yaml:"name"`
	AsOf   string               `yaml:"as_of"`
	Source string               `yaml:"source"`
	Note   string               `yaml:"note"`
	Models map[string]fileModel `yaml:"models"`
}

type fileModel struct {
	Input       config.Price `yaml:"input"`
	Output      config.Price `yaml:"output"`
	CachedInput config.Price `yaml:"cached_input"`
	CacheWrite  config.Price `yaml:"cache_write"`
	Reasoning   config.Price `yaml:"reasoning"`
	Request     config.Price `yaml:"request"`
	Aliases     []string     `yaml:"aliases"`
	Note        string       `yaml:"note"`
}

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := Parse(catalogYAML)
	if err != nil {
		// The file is embedded at build time and parsed by the tests, so
		// this is a broken build, not bad input.
		panic("pricing: embedded catalog.yaml: " + err.Error())
	}
	return c
})

// Default returns the shipped catalog, parsed once.
func Default() *Catalog { return defaultCatalog() }

// Lookup returns the shipped catalog's prices for model.
func Lookup(model string) (config.Pricing, bool) { return Default().Lookup(model) }

// Resolve returns a deployment's effective prices from the shipped catalog.
func Resolve(d config.Deployment) config.Pricing { return Default().Resolve(d) }

// Parse reads a catalog in catalog.yaml's format. Unknown keys, inexact
// prices, models without input and output prices, and names or aliases
// given twice are errors, all reported at once.
func Parse(data []byte) (*Catalog, error) {
	var f fileCatalog
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	c := &Catalog{byName: map[string]*Model{}}
	var errs []error
	for i, fp := range f.Providers {
		path := fmt.Sprintf("providers[%d]", i)
		if fp.Name == "" {
			errs = append(errs, fmt.Errorf("%s: name is required", path))
		} else {
			path = "provider " + fp.Name
		}
		p := Provider{Name: fp.Name, Source: fp.Source, Note: fp.Note}
		asOf, err := time.Parse(time.DateOnly, fp.AsOf)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: as_of %q is not a YYYY-MM-DD date", path, fp.AsOf))
		}
		p.AsOf = asOf
		if fp.Source == "" {
			errs = append(errs, fmt.Errorf("%s: source is required", path))
		}
		names := make([]string, 0, len(fp.Models))
		for name := range fp.Models {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fm := fp.Models[name]
			m := &Model{
				Name:     name,
				Provider: fp.Name,
				Aliases:  fm.Aliases,
				Pricing: config.Pricing{
					Input:       fm.Input,
					Output:      fm.Output,
					CachedInput: fm.CachedInput,
					CacheWrite:  fm.CacheWrite,
					Reasoning:   fm.Reasoning,
					Request:     fm.Request,
				},
				Note: fm.Note,
			}
			if !fm.Input.Set || !fm.Output.Set {
				errs = append(errs, fmt.Errorf("%s: model %s: input and output prices are required", path, name))
			}
			for _, key := range append([]string{name}, fm.Aliases...) {
				lower := strings.ToLower(strings.TrimSpace(key))
				if lower == "" {
					errs = append(errs, fmt.Errorf("%s: model %s: empty alias", path, name))
					continue
				}
				if prev, dup := c.byName[lower]; dup {
					errs = append(errs, fmt.Errorf("%s: model %s: name %q already names %s/%s", path, name, key, prev.Provider, prev.Name))
					continue
				}
				c.byName[lower] = m
			}
			p.Models = append(p.Models, m)
		}
		c.Providers = append(c.Providers, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	return c, nil
}

// Model returns the catalog's entry for a model name: an exact match of the
// name or an alias (case-insensitive), else the longest known name that the
// model starts with, followed by '-', ':', '@' or '_' (a dated version:
// gpt-4o-2024-08-06, claude-sonnet-4@20250514). A provider path
// ("openai/gpt-4o", "models/gemini-2.5-pro") and a cloud's vendor prefix
// ("us.anthropic.claude-...") are ignored when the full name is unknown.
func (c *Catalog) Model(model string) (*Model, bool) {
	name := strings.ToLower(strings.TrimSpace(model))
	if name == "" {
		return nil, false
	}
	candidates := []string{name}
	if i := strings.LastIndexByte(name, '/'); i >= 0 && i+1 < len(name) {
		candidates = append(candidates, name[i+1:])
	}
	if bare := stripVendorPrefix(candidates[len(candidates)-1]); bare != candidates[len(candidates)-1] {
		candidates = append(candidates, bare)
	}
	for _, cand := range candidates {
		if m, ok := c.byName[cand]; ok {
			return m, true
		}
	}
	for _, cand := range candidates {
		for i := len(cand) - 1; i > 0; i-- {
			switch cand[i] {
			case '-', ':', '@', '_':
				if m, ok := c.byName[cand[:i]]; ok {
					return m, true
				}
			}
		}
	}
	return nil, false
}

// stripVendorPrefix removes leading all-letter segments ending in a dot, as
// Bedrock names models ("us.anthropic.claude-sonnet-4-20250514-v1:0").
// Segments with digits or dashes ("gpt-4.1", "gemini-2.5") are kept.
func stripVendorPrefix(name string) string {
	for {
		dot := strings.IndexByte(name, '.')
		if dot <= 0 || dot == len(name)-1 {
			return name
		}
		for _, c := range name[:dot] {
			if c < 'a' || c > 'z' {
				return name
			}
		}
		name = name[dot+1:]
	}
}

// Lookup returns the catalog's prices for model (see Model for matching).
func (c *Catalog) Lookup(model string) (config.Pricing, bool) {
	m, ok := c.Model(model)
	if !ok {
		return config.Pricing{}, false
	}
	return m.Pricing, true
}

// Resolve returns the deployment's effective prices: each price the
// deployment sets, else the catalog's for the deployment's model. A
// deployment may so override a single field (a negotiated input price) and
// keep the list price of the rest. An unknown model keeps exactly what the
// deployment sets.
func (c *Catalog) Resolve(d config.Deployment) config.Pricing {
	own := d.Pricing
	list, ok := c.Lookup(d.Model)
	if !ok {
		return own
	}
	pick := func(own, list config.Price) config.Price {
		if own.Set {
			return own
		}
		return list
	}
	return config.Pricing{
		Input:       pick(own.Input, list.Input),
		Output:      pick(own.Output, list.Output),
		CachedInput: pick(own.CachedInput, list.CachedInput),
		CacheWrite:  pick(own.CacheWrite, list.CacheWrite),
		Reasoning:   pick(own.Reasoning, list.Reasoning),
		Request:     pick(own.Request, list.Request),
	}
}
