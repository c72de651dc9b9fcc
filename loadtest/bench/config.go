package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// benchKey is the client key the bench config accepts.
const benchKey = "sk-switchyard-bench"

// stackPorts are the loopback ports of one run.
type stackPorts struct {
	Mock, Floor, Proxy, Ingest, Query, Kafka, ClickHouse, ClickHouseHTTP int
}

// benchConfig is the config file the proxy, the ingester and the mock all
// read. Its shape is that of `switchyard dev --print-config`, reduced to the
// mock's "bench" provider, which answers at once (no latency, no pacing, no
// injected errors), so that every microsecond measured beyond the direct
// target is the proxy's; and "bench-stream", the same with a long completion
// (256 chunks sent back to back), so that the cost of relaying a chunk shows
// in the streaming measurement. Logging is fully on: bodies recorded, every
// record published to Kafka and stored in ClickHouse.
const benchConfig = `# Written by loadtest/bench for one run.
proxy:
  listen: "127.0.0.1:%[3]d"
  record_bodies: true
  spool:
    dir: "%[8]s"

query:
  listen: "127.0.0.1:%[5]d"

ingest:
  listen: "127.0.0.1:%[4]d"

kafka:
  brokers: ["127.0.0.1:%[6]d"]
  create_topics: true
  partitions: 3

clickhouse:
  addr: ["127.0.0.1:%[7]d"]
  database: switchyard

keys:
  - id: bench
    key: %[2]q
    team: bench

providers:
  - name: bench
    type: openai
    base_url: http://127.0.0.1:%[1]d/bench/v1
  - name: bench-stream
    type: openai
    base_url: http://127.0.0.1:%[1]d/bench-stream/v1

models:
  - name: bench-model
    deployments:
      - provider: bench
        model: bench-model
        pricing: {input: 0.15, output: 0.60, cached_input: 0.075}
  - name: bench-stream-model
    deployments:
      - provider: bench-stream
        model: bench-stream-model
        pricing: {input: 0.15, output: 0.60, cached_input: 0.075}

mock:
  listen: "127.0.0.1:%[1]d"
  providers:
    - name: bench
      latency: 0s
      jitter: 0s
      tokens_per_second: 0
      completion_tokens: 16
      error_rate: 0
      rate_limit_rate: 0
    - name: bench-stream
      latency: 0s
      jitter: 0s
      tokens_per_second: 0
      completion_tokens: 256
      error_rate: 0
      rate_limit_rate: 0
`

func writeBenchConfig(path string, p stackPorts) error {
	text := fmt.Sprintf(benchConfig, p.Mock, benchKey, p.Proxy, p.Ingest, p.Query, p.Kafka, p.ClickHouse, filepath.Join(filepath.Dir(path), "spool"))
	return os.WriteFile(path, []byte(text), 0o600)
}
