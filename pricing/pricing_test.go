package pricing

import (
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/switchyard/switchyard/config"
)

func usd(s string) config.Price {
	n, err := config.ParseUSD(s)
	if err != nil {
		panic(err)
	}
	return config.USD(n)
}

func TestDefaultParses(t *testing.T) {
	c, err := Parse(catalogYAML)
	if err != nil {
		t.Fatalf("catalog.yaml: %v", err)
	}
	if Default() == nil || len(Default().Providers) != len(c.Providers) {
		t.Fatal("Default differs from Parse(catalog.yaml)")
	}
	for _, p := range c.Providers {
		if p.AsOf.IsZero() || p.Source == "" || len(p.Models) == 0 {
			t.Errorf("provider %s: as_of %v, source %q, %d models", p.Name, p.AsOf, p.Source, len(p.Models))
		}
	}
}

// TestCoverage lists the models the catalog must know.
func TestCoverage(t *testing.T) {
	for _, model := range []string{
		"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini", "o4-mini",
		"gpt-5", "gpt-5-mini", "gpt-5-nano", "text-embedding-3-small", "text-embedding-3-large",
		"claude-opus-4", "claude-opus-4-1", "claude-sonnet-4", "claude-sonnet-4-5", "claude-3-7-sonnet",
		"claude-3-5-haiku", "claude-haiku-4-5",
		"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash",
		"llama-3.3-70b-versatile", "llama-3.1-8b-instant",
		"meta-llama/Llama-3.3-70B-Instruct-Turbo", "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
		"mistral-large-latest", "mistral-small-latest", "deepseek-chat", "deepseek-reasoner",
	} {
		if _, ok := Lookup(model); !ok {
			t.Errorf("%s is not in the catalog", model)
		}
	}
}

var plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,9})?$`)

// TestPricesExact walks the YAML itself: every price is written as a plain
// decimal, and the parsed nano-USD say exactly what the text says.
func TestPricesExact(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(catalogYAML, &doc); err != nil {
		t.Fatal(err)
	}
	priceKeys := map[string]bool{"input": true, "output": true, "cached_input": true, "cache_write": true, "reasoning": true, "request": true}
	checked := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				if priceKeys[key.Value] && val.Kind == yaml.ScalarNode {
					checked++
					if !plainDecimal.MatchString(val.Value) {
						t.Errorf("line %d: %s %q is not a plain decimal", val.Line, key.Value, val.Value)
						continue
					}
					var p config.Price
					if err := val.Decode(&p); err != nil {
						t.Errorf("line %d: %v", val.Line, err)
						continue
					}
					want := strings.TrimRight(val.Value, "0")
					want = strings.TrimSuffix(want, ".")
					if want == "" {
						want = "0"
					}
					if got := config.FormatUSD(p.NanoUSD); got != want {
						t.Errorf("line %d: %s %q parsed as %s", val.Line, key.Value, val.Value, got)
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if checked < 100 {
		t.Errorf("only %d prices found", checked)
	}
}

// TestKnownPrices spot-checks prices and Anthropic's cache multipliers.
func TestKnownPrices(t *testing.T) {
	for model, want := range map[string]config.Pricing{
		"gpt-4o":                 {Input: usd("2.5"), Output: usd("10"), CachedInput: usd("1.25")},
		"gpt-4o-mini":            {Input: usd("0.15"), Output: usd("0.6"), CachedInput: usd("0.075")},
		"gpt-5-nano":             {Input: usd("0.05"), Output: usd("0.4"), CachedInput: usd("0.005")},
		"claude-sonnet-4":        {Input: usd("3"), Output: usd("15"), CachedInput: usd("0.3"), CacheWrite: usd("3.75")},
		"claude-3-5-haiku":       {Input: usd("0.8"), Output: usd("4"), CachedInput: usd("0.08"), CacheWrite: usd("1")},
		"gemini-2.0-flash":       {Input: usd("0.1"), Output: usd("0.4"), CachedInput: usd("0.025")},
		"text-embedding-3-small": {Input: usd("0.02"), Output: usd("0")},
	} {
		got, ok := Lookup(model)
		if !ok || got != want {
			t.Errorf("%s: %+v, want %+v", model, got, want)
		}
	}
	for _, p := range Default().Providers {
		if p.Name != "anthropic" {
			continue
		}
		for _, m := range p.Models {
			if m.Name == "claude-3-haiku" {
				continue // published at 0.30 and 0.03, rounded up from 1.25x and 0.1x of 0.25
			}
			in := m.Pricing.Input.NanoUSD
			if m.Pricing.CacheWrite.NanoUSD*4 != in*5 || m.Pricing.CachedInput.NanoUSD*10 != in {
				t.Errorf("%s: cache write %d and read %d are not 1.25x and 0.1x input %d", m.Name,
					m.Pricing.CacheWrite.NanoUSD, m.Pricing.CachedInput.NanoUSD, in)
			}
		}
	}
}

func TestLookupAliases(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o":                                     "gpt-4o",
		"GPT-4o":                                     "gpt-4o",
		"gpt-4o-2024-08-06":                          "gpt-4o",
		"gpt-4o-2024-05-13":                          "gpt-4o-2024-05-13",
		"gpt-4o-mini-2024-07-18":                     "gpt-4o-mini",
		"openai/gpt-4o-mini":                         "gpt-4o-mini",
		"gpt-4.1-nano-2025-04-14":                    "gpt-4.1-nano",
		"o3-mini-2025-01-31":                         "o3-mini",
		"o3-2025-04-16":                              "o3",
		"o3-pro-2025-06-10":                          "o3-pro",
		"gpt-5-2025-08-07":                           "gpt-5",
		"gpt-5-chat-latest":                          "gpt-5",
		"gpt-5-mini-2025-08-07":                      "gpt-5-mini",
		"gpt-4-0613":                                 "gpt-4",
		"gpt-4-0125-preview":                         "gpt-4-turbo",
		"gpt-3.5-turbo-0125":                         "gpt-3.5-turbo",
		"claude-sonnet-4-20250514":                   "claude-sonnet-4",
		"claude-sonnet-4-5-20250929":                 "claude-sonnet-4-5",
		"anthropic/claude-sonnet-4.5":                "claude-sonnet-4-5",
		"claude-sonnet-4@20250514":                   "claude-sonnet-4",
		"us.anthropic.claude-sonnet-4-20250514-v1:0": "claude-sonnet-4",
		"anthropic.claude-3-5-haiku-20241022-v1:0":   "claude-3-5-haiku",
		"claude-opus-4-1-20250805":                   "claude-opus-4-1",
		"claude-opus-4-20250514":                     "claude-opus-4",
		"claude-3-7-sonnet-latest":                   "claude-3-7-sonnet",
		"claude-haiku-4-5-20251001":                  "claude-haiku-4-5",
		"models/gemini-2.5-pro":                      "gemini-2.5-pro",
		"gemini-2.5-flash-preview-05-20":             "gemini-2.5-flash",
		"gemini-2.5-flash-lite-preview-06-17":        "gemini-2.5-flash-lite",
		"gemini-2.0-flash-001":                       "gemini-2.0-flash",
		"meta-llama/Llama-3.3-70B-Instruct-Turbo":    "meta-llama/llama-3.3-70b-instruct-turbo",
		"together/llama-3.3-70b-instruct-turbo":      "meta-llama/llama-3.3-70b-instruct-turbo",
		"mistral-large-latest":                       "mistral-large",
		"mistral-small-2503":                         "mistral-small",
		"deepseek/deepseek-reasoner":                 "deepseek-reasoner",
	} {
		m, ok := Default().Model(model)
		if !ok {
			t.Errorf("%s: not found, want %s", model, want)
			continue
		}
		if m.Name != want {
			t.Errorf("%s: resolved to %s, want %s", model, m.Name, want)
		}
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, model := range []string{
		"", "  ", "my-finetune", "gpt-4x", "gpt-4.7", "gpt-5.9", "o2", "claude", "claude-sonnet", "llama-3.3-70b",
		"gemini-2.5", "gemini-1.0-pro", "openai/", "us.", "mistral",
	} {
		if p, ok := Lookup(model); ok {
			t.Errorf("%q: found %+v, want absent", model, p)
		}
	}
}

func TestResolve(t *testing.T) {
	list, _ := Lookup("gpt-4o")

	// No pricing of its own: the list price.
	if got := Resolve(config.Deployment{Model: "gpt-4o-2024-08-06"}); got != list {
		t.Errorf("no override: %+v, want %+v", got, list)
	}

	// One field overridden, even to zero; the rest stay the list price.
	got := Resolve(config.Deployment{Model: "gpt-4o", Pricing: config.Pricing{Input: usd("2"), Request: usd("0")}})
	want := list
	want.Input, want.Request = usd("2"), usd("0")
	if got != want {
		t.Errorf("input and request overridden: %+v, want %+v", got, want)
	}

	// Every field overridden.
	own := config.Pricing{Input: usd("1"), Output: usd("2"), CachedInput: usd("0.5"), CacheWrite: usd("1.25"), Request: usd("0.001")}
	if got := Resolve(config.Deployment{Model: "claude-sonnet-4", Pricing: own}); got != own {
		t.Errorf("all overridden: %+v, want %+v", got, own)
	}

	// Unknown model: exactly the deployment's own prices, unset fields unset.
	partial := config.Pricing{Output: usd("0.9")}
	if got := Resolve(config.Deployment{Model: "my-vllm-model", Pricing: partial}); got != partial {
		t.Errorf("unknown model: %+v, want %+v", got, partial)
	}
}

func TestParseErrors(t *testing.T) {
	base := "providers:\n  - name: p\n    as_of: 2025-01-01\n    source: s\n    models:\n"
	for name, doc := range map[string]string{
		"float exponent":   base + "      m: {input: 1e-6, output: 1}\n",
		"negative":         base + "      m: {input: -1, output: 1}\n",
		"too many places":  base + "      m: {input: 0.0000000001, output: 1}\n",
		"unknown key":      base + "      m: {input: 1, output: 1, prompt: 2}\n",
		"missing output":   base + "      m: {input: 1}\n",
		"duplicate alias":  base + "      m: {input: 1, output: 1}\n      n: {input: 1, output: 1, aliases: [M]}\n",
		"duplicate model":  base + "      m: {input: 1, output: 1}\n" + "  - name: q\n    as_of: 2025-01-01\n    source: s\n    models:\n      m: {input: 1, output: 1}\n",
		"bad date":         strings.Replace(base, "2025-01-01", "Jan 2025", 1) + "      m: {input: 1, output: 1}\n",
		"no source":        strings.Replace(base, "    source: s\n", "", 1) + "      m: {input: 1, output: 1}\n",
		"not a price list": base + "      m: [1, 2]\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ok := base + "      m: {input: 1.5, output: 2, request: 0.000001, reasoning: 3, aliases: [m-latest]}\n"
	c, err := Parse([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	m, found := c.Model("M-LATEST")
	if !found || m.Pricing.Request != usd("0.000001") || m.Pricing.Reasoning != usd("3") {
		t.Errorf("parsed %+v", m)
	}
}

func BenchmarkLookup(b *testing.B) {
	c := Default()
	b.ReportAllocs()
	for b.Loop() {
		c.Lookup("claude-sonnet-4-5-20250929")
	}
}
