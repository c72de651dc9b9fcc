package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, env(map[string]string{"SWITCHYARD_ADMIN_KEY": "sk-admin-000000", "OPENAI_API_KEY": "sk-o", "GROQ_API_KEY": "gsk", "AZURE_OPENAI_KEY": "az", "ANTHROPIC_API_KEY": "sk-ant", "GEMINI_API_KEY": "g"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Providers[0].APIKey != "sk-o" || cfg.Keys[0].Key != "sk-admin-000000" || cfg.ClickHouse.Password != "" {
		t.Errorf("interpolation: %q %q %q", cfg.Providers[0].APIKey, cfg.Keys[0].Key, cfg.ClickHouse.Password)
	}
	if got := cfg.Models[0].Deployments[1].Pricing.CachedInput; got.NanoUSD != 75_000_000 || !got.Set {
		t.Errorf("cached_input = %+v, want exactly 0.075 USD", got)
	}
	if cfg.Models[0].Deployments[0].Pricing.Input.Set {
		t.Error("a deployment without pricing has a price set")
	}
	if !cfg.Models[1].Deployments[0].Pricing.CacheWrite.Set || cfg.Models[3].Deployments[0].Pricing.CacheWrite.Set {
		t.Error("an absent price is marked as set")
	}
	if cfg.Ingest.FlushInterval != time.Second || cfg.Kafka.ReplicationFactor != 3 || cfg.Mock.Providers[0].Latency != 20*time.Millisecond {
		t.Errorf("durations or numbers misread: %+v %+v", cfg.Ingest, cfg.Kafka)
	}
	if _, err := Parse(data, env(nil)); err == nil || !strings.Contains(err.Error(), "SWITCHYARD_ADMIN_KEY is not set") {
		t.Errorf("a missing variable: err = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`providers: [{name: p, type: openai, base_url: "http://x"}]
models: [{name: m, deployments: [{provider: p}]}]`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Proxy.Listen != ":8080" || cfg.Query.Listen != ":8081" || cfg.Kafka.Topic != "switchyard.requests" || cfg.ClickHouse.Database != "switchyard" || !*cfg.Proxy.RecordBodies {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.Models[0].Deployments[0].Model != "m" {
		t.Errorf("deployment model defaults to %q, want the public name", cfg.Models[0].Deployments[0].Model)
	}
	empty, err := Parse(nil, env(nil))
	if err != nil || empty.Proxy.Listen != ":8080" {
		t.Errorf("an empty file: %v", err)
	}
}

func TestStrictDecoding(t *testing.T) {
	for _, doc := range []string{
		"proxy: {listn: ':8080'}",
		"unknown_section: 1",
		"models: [{name: m, deployments: [{provider: p, pricing: {inptu: 1}}]}]",
		"proxy: {max_request_bytes: lots}",
		"models: [{name: m, deployments: [{provider: p, pricing: {input: -1}}]}]",
		"models: [{name: m, deployments: [{provider: p, pricing: {input: 1e-3}}]}]",
	} {
		if _, err := Parse([]byte(doc), env(nil)); err == nil {
			t.Errorf("accepted %q", doc)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`
proxy: {listen: "nope", publish_queue: -1}
kafka: {topic: same, dlq_topic: same}
clickhouse: {database: "bad-name"}
keys:
  - {id: a, key: short}
  - {id: a, key: long-enough-key}
providers:
  - {name: p, type: soap, base_url: "ftp://x"}
models:
  - name: m
    deployments: [{provider: ghost}]
  - name: m
mock:
  providers: [{name: s, error_rate: 2}]
`), env(nil))
	if err == nil {
		t.Fatal("accepted an invalid config")
	}
	for _, want := range []string{
		"proxy.listen:", "proxy.publish_queue:", "kafka.dlq_topic:", "clickhouse.database:",
		"keys[0].key: is shorter", "keys[1].id: duplicate", "providers[0].type: unknown type \"soap\"",
		"providers[0].base_url:", "models[0].deployments[0].provider: unknown provider \"ghost\"",
		"models[1].name: duplicate", "models[1].deployments: at least one", "mock.providers[0].error_rate:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q:\n%v", want, err)
		}
	}
}

func TestInterpolate(t *testing.T) {
	lookup := env(map[string]string{"A": "x", "EMPTY": ""})
	tests := map[string]string{
		"${A}":             "x",
		"pre-${A}-post":    "pre-x-post",
		"${MISSING:-dflt}": "dflt",
		"${EMPTY:-dflt}":   "dflt",
		"${EMPTY}":         "",
		"$$A":              "$A",
		"cost $5":          "cost $5",
	}
	for in, want := range tests {
		got, err := Interpolate(in, lookup)
		if err != nil || got != want {
			t.Errorf("Interpolate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"${MISSING}", "${A", "${1X}", "${}"} {
		if _, err := Interpolate(bad, lookup); err == nil {
			t.Errorf("Interpolate(%q) succeeded", bad)
		}
	}
	// A substituted plain scalar takes the field's type.
	cfg, err := Parse([]byte("kafka:\n  partitions: ${P}\nproxy:\n  listen: \"${HOST}:9\""), env(map[string]string{"P": "12", "HOST": "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.Partitions != 12 || cfg.Proxy.Listen != "127.0.0.1:9" {
		t.Fatalf("partitions %d listen %q", cfg.Kafka.Partitions, cfg.Proxy.Listen)
	}
	// A value cannot inject YAML structure.
	cfg, err = Parse([]byte("clickhouse:\n  password: ${PW}"), env(map[string]string{"PW": "a, b: {c}"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Password != "a, b: {c}" {
		t.Fatalf("password %q", cfg.ClickHouse.Password)
	}
}
