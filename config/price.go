package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Price is an exact decimal amount of USD held as integer nano-USD, so that
// no float ever touches money. Set distinguishes "0" from "not given".
type Price struct {
	NanoUSD int64
	Set     bool
}

// USD returns a Price of the given nano-USD.
func USD(nanoUSD int64) Price { return Price{NanoUSD: nanoUSD, Set: true} }

// UnmarshalYAML reads the scalar's exact text, never a float64.
func (p *Price) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: price must be a number", node.Line)
	}
	n, err := ParseUSD(node.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	*p = USD(n)
	return nil
}

// MarshalYAML writes the exact decimal.
func (p Price) MarshalYAML() (any, error) { return FormatUSD(p.NanoUSD), nil }

// ParseUSD parses a non-negative decimal such as "2.50" or "0.000125" into
// nano-USD. More than nine decimal places, signs, exponents and values above
// nine billion USD are rejected rather than rounded.
func ParseUSD(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("price %q: empty", s)
	}
	if len(frac) > 9 {
		return 0, fmt.Errorf("price %q: more than 9 decimal places", s)
	}
	if len(whole) > 10 {
		return 0, fmt.Errorf("price %q: too large", s)
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("price %q: not a plain non-negative decimal", s)
			}
		}
	}
	var n int64
	if whole != "" {
		w, err := strconv.ParseInt(whole, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("price %q: %w", s, err)
		}
		n = w * 1_000_000_000
	}
	if frac != "" {
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("price %q: %w", s, err)
		}
		n += f
	}
	return n, nil
}

// FormatUSD renders nano-USD as an exact decimal string with no trailing
// zeros ("0.00015", "2.5", "0").
func FormatUSD(nanoUSD int64) string { return FormatDecimal(nanoUSD, 9) }

// FormatPerToken renders a price given per million tokens as USD per token,
// exactly ("2.5" per million → "0.0000025").
func FormatPerToken(p Price) string { return FormatDecimal(p.NanoUSD, 15) }

// FormatDecimal renders n / 10^scale exactly, without trailing zeros.
func FormatDecimal(n int64, scale int) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	whole, frac := s[:len(s)-scale], strings.TrimRight(s[len(s)-scale:], "0")
	if frac != "" {
		whole += "." + frac
	}
	if neg {
		whole = "-" + whole
	}
	return whole
}

// CachedInputPrice is the price of a cached input token: cached_input, or
// input when no separate price is given.
func (p Pricing) CachedInputPrice() Price {
	if p.CachedInput.Set {
		return p.CachedInput
	}
	return p.Input
}

// ReasoningPrice is the price of a reasoning token: reasoning, or output
// when no separate price is given.
func (p Pricing) ReasoningPrice() Price {
	if p.Reasoning.Set {
		return p.Reasoning
	}
	return p.Output
}

// CacheWritePrice is the price of a token written to the prompt cache:
// cache_write, or input when no separate price is given.
func (p Pricing) CacheWritePrice() Price {
	if p.CacheWrite.Set {
		return p.CacheWrite
	}
	return p.Input
}
