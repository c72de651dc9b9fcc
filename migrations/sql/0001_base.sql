-- Base schema. Works on ClickHouse 18.16 and current releases: no TTL,
-- codecs, skipping indexes, DateTime64 or LowCardinality here; those come
-- as later, version-gated migrations.
--
-- Time is stored as started_at_ms UInt64 (exact, from the record) plus a
-- derived ts DateTime('UTC') for partitioning and the sort key, because
-- 18.16 has no DateTime64 and toDateTime(ms) is silently wrong there.
--
-- Replays (an ingester that restarts mid-batch, a proxy replaying its spool)
-- insert the same request again. ReplacingMergeTree keyed by request_id
-- folds the copies on merge; until then readers use `LIMIT 1 BY request_id`
-- or FINAL. There is no insert dedupe on non-replicated tables in 18.16.

-- One row per request, without bodies, so that log pages and spend scans
-- never read them.
CREATE TABLE IF NOT EXISTS requests (
    schema_version UInt16,
    request_id String,
    trace_id String,
    span_id String,
    parent_span_id String,
    session_id String,
    started_at_ms UInt64,
    ts DateTime('UTC') DEFAULT toDateTime(intDiv(started_at_ms, 1000), 'UTC'),
    latency_ms UInt32,
    ttft_ms UInt32,
    overhead_us UInt32,
    endpoint String,
    stream UInt8,
    model_requested String,
    model String,
    provider String,
    key_id String,
    user String,
    team String,
    tags Array(String),
    metadata Nested(key String, value String),
    status_code UInt16,
    outcome String,
    error_type String,
    error_message String,
    finish_reason String,
    prompt_tokens UInt32,
    completion_tokens UInt32,
    cached_tokens UInt32,
    cache_write_tokens UInt32,
    reasoning_tokens UInt32,
    usage_estimated UInt8,
    -- Money in integer nano-USD: sums stay exact.
    cost_nusd Int64,
    cache_hit UInt8,
    attempts Nested(provider String, model String, status_code UInt16, latency_ms UInt32, error_type String),
    routing_strategy String,
    routing_reason String,
    body_truncated UInt8,
    bodies_omitted UInt8,
    ingested_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (ts, request_id);

-- Bodies apart from the metadata: they are most of the bytes and are read
-- one request at a time.
CREATE TABLE IF NOT EXISTS request_bodies (
    request_id String,
    started_at_ms UInt64,
    ts DateTime('UTC') DEFAULT toDateTime(intDiv(started_at_ms, 1000), 'UTC'),
    request_body String,
    response_body String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (ts, request_id);

-- Look-up tables ordered by trace and session id: 18.16 has no skipping
-- indexes, so finding a trace in `requests` would scan every partition.
-- They give the time range and request ids to read from `requests`.
CREATE TABLE IF NOT EXISTS trace_index (
    trace_id String,
    started_at_ms UInt64,
    request_id String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(toDateTime(intDiv(started_at_ms, 1000), 'UTC'))
ORDER BY (trace_id, started_at_ms, request_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS trace_index_mv TO trace_index AS
SELECT trace_id, started_at_ms, request_id
FROM requests
WHERE trace_id != '';

CREATE TABLE IF NOT EXISTS session_index (
    session_id String,
    started_at_ms UInt64,
    request_id String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(toDateTime(intDiv(started_at_ms, 1000), 'UTC'))
ORDER BY (session_id, started_at_ms, request_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS session_index_mv TO session_index AS
SELECT session_id, started_at_ms, request_id
FROM requests
WHERE session_id != '';
