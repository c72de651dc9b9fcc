package proxy

import (
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/record"
)

func mustPrice(t *testing.T, usdPerUnit string) config.Price {
	t.Helper()
	n, err := config.ParseUSD(usdPerUnit)
	if err != nil {
		t.Fatal(err)
	}
	return config.USD(n)
}

func TestCostNanoUSD(t *testing.T) {
	gpt4o := config.Pricing{Input: mustPrice(t, "2.50"), Output: mustPrice(t, "10"), CachedInput: mustPrice(t, "1.25")}
	flash := config.Pricing{Input: mustPrice(t, "0.075"), Output: mustPrice(t, "0.30"), CachedInput: mustPrice(t, "0.01875")}
	claude := config.Pricing{Input: mustPrice(t, "3"), Output: mustPrice(t, "15"), CachedInput: mustPrice(t, "0.30"), CacheWrite: mustPrice(t, "3.75")}
	tests := []struct {
		name    string
		pricing config.Pricing
		usage   record.Usage
		want    int64
	}{
		// 1000 × 2500 + 500 × 10000 = 7,500,000 nano-USD = $0.0075.
		{"plain", gpt4o, record.Usage{PromptTokens: 1000, CompletionTokens: 500}, 7_500_000},
		// Cached tokens are part of prompt tokens and billed once, at the cached price:
		// 1024 uncached × 2500 + 1024 cached × 1250 + 10 × 10000.
		{"cached counted once", gpt4o, record.Usage{PromptTokens: 2048, CachedTokens: 1024, CompletionTokens: 10}, 1024*2500 + 1024*1250 + 10*10000},
		// A price below a nano-dollar per token: 3 × 18.75 = 56.25 → 56.
		{"sub-nano prices are summed before rounding", flash, record.Usage{PromptTokens: 3, CachedTokens: 3}, 56},
		// 0.5 rounds up: 2 × 0.25 nano... use 40 cached × 18.75 = 750 exactly.
		{"exact", flash, record.Usage{PromptTokens: 40, CachedTokens: 40}, 750},
		// Anthropic: 100 uncached × 3000 + 2000 read × 300 + 1000 write × 3750 + 200 out × 15000.
		{"cache reads and writes", claude, record.Usage{PromptTokens: 3100, CachedTokens: 2000, CacheWriteTokens: 1000, CompletionTokens: 200}, 100*3000 + 2000*300 + 1000*3750 + 200*15000},
		{"reasoning is inside completion", gpt4o, record.Usage{PromptTokens: 10, CompletionTokens: 100, ReasoningTokens: 80}, 10*2500 + 100*10000},
		// 20 answer tokens × 10000 + 80 reasoning tokens × 3500.
		{"reasoning priced apart", config.Pricing{Input: mustPrice(t, "2.50"), Output: mustPrice(t, "10"), Reasoning: mustPrice(t, "3.5")},
			record.Usage{PromptTokens: 10, CompletionTokens: 100, ReasoningTokens: 80}, 10*2500 + 20*10000 + 80*3500},
		{"reasoning over completion is capped", config.Pricing{Output: mustPrice(t, "10"), Reasoning: mustPrice(t, "1")},
			record.Usage{CompletionTokens: 10, ReasoningTokens: 50}, 10 * 1000},
		{"per-request price", config.Pricing{Request: mustPrice(t, "0.005")}, record.Usage{PromptTokens: 5}, 5_000_000},
		{"no usage", gpt4o, record.Usage{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := costNanoUSD(tt.pricing, tt.usage); got != tt.want {
				t.Fatalf("cost = %d nano-USD, want %d", got, tt.want)
			}
		})
	}
}

func TestAppendUSD(t *testing.T) {
	for nano, want := range map[int64]string{0: "0", 7_500_000: "0.0075", 1_500_000_000: "1.5", 56: "0.000000056"} {
		if got := string(appendUSD(nil, nano)); got != want {
			t.Errorf("appendUSD(%d) = %s, want %s", nano, got, want)
		}
	}
}

func BenchmarkCostNanoUSD(b *testing.B) {
	p := config.Pricing{Input: config.USD(2_500_000_000), Output: config.USD(10_000_000_000), CachedInput: config.USD(1_250_000_000)}
	u := record.Usage{PromptTokens: 2048, CachedTokens: 1024, CompletionTokens: 300}
	b.ReportAllocs()
	for b.Loop() {
		costNanoUSD(p, u)
	}
}
