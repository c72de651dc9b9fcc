# Switchyard — the two commands are `make run` and `make test`.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build run test bench vet fuzz clean ensure-clickhouse

build: ## Build bin/switchyard.
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/switchyard ./cmd/switchyard

run: ensure-clickhouse build ## Run everything locally (dev mode).
	./bin/switchyard dev

test: ensure-clickhouse ## Run every test, with the race detector, against a real ClickHouse.
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

bench: build ## Proxy overhead and throughput, side by side with a bare reverse proxy.
	$(GO) run ./loadtest/bench

fuzz: ## Run each fuzz target for FUZZTIME (default 30s).
	./scripts/fuzz.sh $(or $(FUZZTIME),30s)

ensure-clickhouse:
	@./scripts/ensure-clickhouse.sh

clean:
	rm -rf bin
