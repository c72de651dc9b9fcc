package proxy

import (
	"math/bits"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/record"
)

// costNanoUSD prices usage exactly. Token prices are nano-USD per million
// tokens, so the sum is kept in 128 bits and divided once, rounding half up:
// the result is the invoice's figure to the nano-dollar, whatever the mix of
// token classes.
//
// Prompt tokens include cached and cache-write tokens (record.Usage's
// convention); each class is billed once, at its own price. Reasoning tokens
// are part of completion tokens, billed at the reasoning price (the output
// price unless the deployment sets one).
func costNanoUSD(p config.Pricing, u record.Usage) int64 {
	cachedPrice := p.CachedInputPrice().NanoUSD
	cacheWritePrice := p.CacheWritePrice().NanoUSD
	uncached := u.PromptTokens - u.CachedTokens - u.CacheWriteTokens
	var hi, lo uint64
	add := func(tokens, price int64) {
		if tokens <= 0 || price <= 0 {
			return
		}
		h, l := bits.Mul64(uint64(tokens), uint64(price))
		var carry uint64
		lo, carry = bits.Add64(lo, l, 0)
		hi += h + carry
	}
	add(uncached, p.Input.NanoUSD)
	add(u.CachedTokens, cachedPrice)
	add(u.CacheWriteTokens, cacheWritePrice)
	reasoning := min(max(u.ReasoningTokens, 0), max(u.CompletionTokens, 0))
	add(u.CompletionTokens-reasoning, p.Output.NanoUSD)
	add(reasoning, p.ReasoningPrice().NanoUSD)
	// Round half up: add half a million before dividing by a million.
	var carry uint64
	lo, carry = bits.Add64(lo, 500_000, 0)
	hi += carry
	if hi >= 1_000_000 {
		// Over 2^64 nano-USD: no real request costs this much.
		return -1
	}
	q, _ := bits.Div64(hi, lo, 1_000_000)
	total := q + uint64(p.Request.NanoUSD)
	if total > 1<<63-1 {
		return -1
	}
	return int64(total)
}

// appendUSD appends nano-USD as an exact JSON number in USD.
func appendUSD(dst []byte, nanoUSD int64) []byte {
	return append(dst, config.FormatUSD(nanoUSD)...)
}
