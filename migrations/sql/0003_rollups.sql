-- Rollups of `requests` for the query API: spend per minute, hour and day
-- (and per day and user), and provider performance per minute. A 30-day
-- spend breakdown reads a few thousand daily rows instead of millions of
-- requests; the proxy's live provider stats merge a few per-minute states.
-- Works on ClickHouse 18.16 and current releases.
--
-- Each request must reach the views once. Views see inserts, not merges,
-- so ReplacingMergeTree's folding of replayed copies does not reach them:
-- the ingester filters request ids already stored and fences Kafka offsets
-- so that a replay inserts nothing. The rollups merge lazily
-- (Summing/AggregatingMergeTree): readers always re-aggregate with sum() or
-- -Merge and GROUP BY.
--
-- Grains. At 10 million requests a month (about 230 a minute) nearly every
-- minute's key x model x provider x outcome combination is new, so
-- spend_minute is almost as large as requests; a day holds each combination
-- once. So the query API reads whole days from spend_day, the whole hours
-- left at the ends of a range from spend_hour, then whole minutes from
-- spend_minute, then at most two minutes of requests: an exact answer for
-- any range for the cost of a few thousand rows. user is in
-- spend_user_day only: per minute or hour, or beside the other dimensions
-- in every daily row, its cardinality would make those tables as large as
-- requests (CLICKHOUSE-18.md). perf_minute has team, so that a team's key
-- sees its own provider stats, but no key or user.
--
-- Retention (applied by the application, as 18.16 has no TTL) drops whole
-- partitions:
--   spend_minute    PARTITION BY toYYYYMMDD(minute)  one partition per UTC day
--   spend_hour      PARTITION BY toYYYYMM(hour)      one partition per UTC month
--   spend_day       PARTITION BY toYYYYMM(day)       one partition per UTC month
--   spend_user_day  PARTITION BY toYYYYMM(day)       one partition per UTC month
--   perf_minute     PARTITION BY toYYYYMMDD(minute)  one partition per UTC day
-- e.g. ALTER TABLE spend_minute DROP PARTITION 20250131.

-- Spend per minute, team, key, model, provider and outcome: minute series,
-- and the minutes at the ends of a range.
CREATE TABLE IF NOT EXISTS spend_minute (
    minute DateTime('UTC'),
    team String,
    key_id String,
    model String,
    provider String,
    outcome String,
    requests UInt64,
    errors UInt64,
    cost_nusd Int64,
    prompt_tokens UInt64,
    completion_tokens UInt64,
    cached_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64
) ENGINE = SummingMergeTree((requests, errors, cost_nusd, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens))
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, team, key_id, model, provider, outcome);

-- The same per hour: hourly series, and the hours at the ends of a range.
CREATE TABLE IF NOT EXISTS spend_hour (
    hour DateTime('UTC'),
    team String,
    key_id String,
    model String,
    provider String,
    outcome String,
    requests UInt64,
    errors UInt64,
    cost_nusd Int64,
    prompt_tokens UInt64,
    completion_tokens UInt64,
    cached_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64
) ENGINE = SummingMergeTree((requests, errors, cost_nusd, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens))
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, team, key_id, model, provider, outcome);

-- The same per UTC day: whole days, so a 30-day breakdown reads 30 days'
-- worth of key x model x provider x outcome combinations.
CREATE TABLE IF NOT EXISTS spend_day (
    day Date,
    team String,
    key_id String,
    model String,
    provider String,
    outcome String,
    requests UInt64,
    errors UInt64,
    cost_nusd Int64,
    prompt_tokens UInt64,
    completion_tokens UInt64,
    cached_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64
) ENGINE = SummingMergeTree((requests, errors, cost_nusd, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens))
PARTITION BY toYYYYMM(day)
ORDER BY (day, team, key_id, model, provider, outcome);

-- Spend per UTC day and user (with team, key, model, provider and outcome):
-- the only rollup with user.
CREATE TABLE IF NOT EXISTS spend_user_day (
    day Date,
    team String,
    key_id String,
    user String,
    model String,
    provider String,
    outcome String,
    requests UInt64,
    errors UInt64,
    cost_nusd Int64,
    prompt_tokens UInt64,
    completion_tokens UInt64,
    cached_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64
) ENGINE = SummingMergeTree((requests, errors, cost_nusd, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens))
PARTITION BY toYYYYMM(day)
ORDER BY (day, team, key_id, user, model, provider, outcome);

-- Provider performance per minute, team, provider and model, as aggregate
-- states: read them with countMerge, sumMerge and quantilesMerge(0.5, 0.9,
-- 0.99). The quantile states are quantiles()'s reservoir sampler: exact up
-- to 8192 values per merged group, a uniform sample beyond. Every state is
-- fed non-Nullable columns (CLICKHOUSE-18.md). A quantile state that got no
-- value merges to [0, 0, 0] on 18.16 and to nan on current releases, so
-- readers look at the sample counts (requests - errors, ttft_samples).
--   latency_quantiles  latency_ms of requests whose outcome is ok
--   ttft_quantiles     ttft_ms of ok streamed requests with a first token
--                      (ttft_ms > 0); ttft_samples counts them
--   generation_tokens, generation_ms
--                      completion tokens, and milliseconds from the first
--                      token to the end, of those streams: tokens per second
--   rate_limited       status 429 or outcome rate_limited
-- No state column is named like a column of requests, so that no alias in
-- the view shadows a column it reads.
CREATE TABLE IF NOT EXISTS perf_minute (
    minute DateTime('UTC'),
    team String,
    provider String,
    model String,
    requests AggregateFunction(count),
    errors AggregateFunction(sum, UInt64),
    rate_limited AggregateFunction(sum, UInt64),
    latency_quantiles AggregateFunction(quantiles(0.5, 0.9, 0.99), UInt32),
    ttft_quantiles AggregateFunction(quantiles(0.5, 0.9, 0.99), UInt32),
    ttft_samples AggregateFunction(sum, UInt64),
    generation_tokens AggregateFunction(sum, UInt64),
    generation_ms AggregateFunction(sum, UInt64),
    cost_nusd_sum AggregateFunction(sum, Int64),
    prompt_tokens_sum AggregateFunction(sum, UInt64),
    completion_tokens_sum AggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (minute, team, provider, model);

-- Backfill bookkeeping, dropped by 0004 once this migration is recorded:
-- the ids of requests already counted, and a Null table whose views fill
-- the rollups from rows of requests stored before the views below existed.
-- Its columns are those of requests that the views read, so the backfill
-- views are the live ones with another FROM. (Chaining views, requests ->
-- view -> Null table -> views, would give the rollups one point of
-- attachment, but 18.16 does not run the views of a view's target table.)
CREATE TABLE IF NOT EXISTS rollup_backfill_seen (
    request_id String
) ENGINE = MergeTree
ORDER BY request_id;

CREATE TABLE IF NOT EXISTS rollup_backfill (
    request_id String,
    ts DateTime('UTC'),
    team String,
    key_id String,
    user String,
    model String,
    provider String,
    outcome String,
    status_code UInt16,
    stream UInt8,
    latency_ms UInt32,
    ttft_ms UInt32,
    prompt_tokens UInt32,
    completion_tokens UInt32,
    cached_tokens UInt32,
    cache_write_tokens UInt32,
    reasoning_tokens UInt32,
    cost_nusd Int64
) ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_backfill_seen_mv TO rollup_backfill_seen AS
SELECT request_id
FROM requests;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_minute_mv TO spend_minute AS
SELECT
    toStartOfMinute(ts) AS minute,
    team, key_id, model, provider, outcome,
    count() AS requests,
    countIf(outcome != 'ok') AS errors,
    sum(cost_nusd) AS cost_nusd,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens
FROM requests
GROUP BY minute, team, key_id, model, provider, outcome;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_hour_mv TO spend_hour AS
SELECT
    toStartOfHour(ts) AS hour,
    team, key_id, model, provider, outcome,
    count() AS requests,
    countIf(outcome != 'ok') AS errors,
    sum(cost_nusd) AS cost_nusd,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens
FROM requests
GROUP BY hour, team, key_id, model, provider, outcome;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_day_mv TO spend_day AS
SELECT
    toDate(ts) AS day,
    team, key_id, model, provider, outcome,
    count() AS requests,
    countIf(outcome != 'ok') AS errors,
    sum(cost_nusd) AS cost_nusd,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens
FROM requests
GROUP BY day, team, key_id, model, provider, outcome;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_user_day_mv TO spend_user_day AS
SELECT
    toDate(ts) AS day,
    team, key_id, user, model, provider, outcome,
    count() AS requests,
    countIf(outcome != 'ok') AS errors,
    sum(cost_nusd) AS cost_nusd,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens
FROM requests
GROUP BY day, team, key_id, user, model, provider, outcome;

-- sumState(toUInt64(condition)) rather than countIfState or sumIfState: the
-- state type stays AggregateFunction(sum, UInt64) on every version, where
-- newer servers may rewrite sumIf into countIf. quantilesStateIf (If outside
-- State) has the plain quantiles state type.
CREATE MATERIALIZED VIEW IF NOT EXISTS perf_minute_mv TO perf_minute AS
SELECT
    toStartOfMinute(ts) AS minute,
    team, provider, model,
    countState() AS requests,
    sumState(toUInt64(outcome != 'ok')) AS errors,
    sumState(toUInt64(status_code = 429 OR outcome = 'rate_limited')) AS rate_limited,
    quantilesStateIf(0.5, 0.9, 0.99)(latency_ms, outcome = 'ok') AS latency_quantiles,
    quantilesStateIf(0.5, 0.9, 0.99)(ttft_ms, outcome = 'ok' AND stream = 1 AND ttft_ms > 0) AS ttft_quantiles,
    sumState(toUInt64(outcome = 'ok' AND stream = 1 AND ttft_ms > 0)) AS ttft_samples,
    sumState(toUInt64(if(outcome = 'ok' AND stream = 1 AND ttft_ms > 0 AND latency_ms > ttft_ms, completion_tokens, 0))) AS generation_tokens,
    sumState(toUInt64(if(outcome = 'ok' AND stream = 1 AND ttft_ms > 0 AND latency_ms > ttft_ms, latency_ms - ttft_ms, 0))) AS generation_ms,
    sumState(cost_nusd) AS cost_nusd_sum,
    sumState(toUInt64(prompt_tokens)) AS prompt_tokens_sum,
    sumState(toUInt64(completion_tokens)) AS completion_tokens_sum
FROM requests
GROUP BY minute, team, provider, model;

-- The backfill's views: the same SELECTs over rollup_backfill, plus the ids.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_backfill_seen_backfill_mv TO rollup_backfill_seen AS
SELECT request_id
FROM rollup_backfill;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_minute_backfill_mv TO spend_minute AS
SELECT
    toStartOfMinute(ts) AS minute,
    team, key_id, model, provider, outcome,
    count() AS requests,
    countIf(outcome != 'ok') AS errors,
    sum(cost_nusd) AS cost_nusd,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens
FROM rollup_backfill
GROUP BY minute, team, key_id, model, provider, outcome;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_hour_backfill_mv TO spend_hour AS
SELECT
    toStartOfHour(ts) AS hour,
    team, key_id, model, provider, outcome,
    count() AS requests,
    countIf(outcome != 'ok') AS errors,
    sum(cost_nusd) AS cost_nusd,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens
FROM rollup_backfill
GROUP BY hour, team, key_id, model, provider, outcome;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_day_backfill_mv TO spend_day AS
SELECT
    toDate(ts) AS day,
    team, key_id, model, provider, outcome,
    count() AS requests,
    countIf(outcome != 'ok') AS errors,
    sum(cost_nusd) AS cost_nusd,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens
FROM rollup_backfill
GROUP BY day, team, key_id, model, provider, outcome;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_user_day_backfill_mv TO spend_user_day AS
SELECT
    toDate(ts) AS day,
    team, key_id, user, model, provider, outcome,
    count() AS requests,
    countIf(outcome != 'ok') AS errors,
    sum(cost_nusd) AS cost_nusd,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens
FROM rollup_backfill
GROUP BY day, team, key_id, user, model, provider, outcome;

CREATE MATERIALIZED VIEW IF NOT EXISTS perf_minute_backfill_mv TO perf_minute AS
SELECT
    toStartOfMinute(ts) AS minute,
    team, provider, model,
    countState() AS requests,
    sumState(toUInt64(outcome != 'ok')) AS errors,
    sumState(toUInt64(status_code = 429 OR outcome = 'rate_limited')) AS rate_limited,
    quantilesStateIf(0.5, 0.9, 0.99)(latency_ms, outcome = 'ok') AS latency_quantiles,
    quantilesStateIf(0.5, 0.9, 0.99)(ttft_ms, outcome = 'ok' AND stream = 1 AND ttft_ms > 0) AS ttft_quantiles,
    sumState(toUInt64(outcome = 'ok' AND stream = 1 AND ttft_ms > 0)) AS ttft_samples,
    sumState(toUInt64(if(outcome = 'ok' AND stream = 1 AND ttft_ms > 0 AND latency_ms > ttft_ms, completion_tokens, 0))) AS generation_tokens,
    sumState(toUInt64(if(outcome = 'ok' AND stream = 1 AND ttft_ms > 0 AND latency_ms > ttft_ms, latency_ms - ttft_ms, 0))) AS generation_ms,
    sumState(cost_nusd) AS cost_nusd_sum,
    sumState(toUInt64(prompt_tokens)) AS prompt_tokens_sum,
    sumState(toUInt64(completion_tokens)) AS completion_tokens_sum
FROM rollup_backfill
GROUP BY minute, team, provider, model;

-- Backfill: the rows of requests stored before the views above existed go
-- through rollup_backfill, once each (FINAL folds replayed copies), and
-- their ids into rollup_backfill_seen as they go.
--  * Rows the live views already counted are in rollup_backfill_seen, and
--    skipped.
--  * So are the backfill's own rows: this statement run again (a migration
--    retried after a failure part-way) adds only what is still missing.
--  * When requests is not empty, the backfill first waits 3 s (the longest
--    sleep a server allows), so that an insert that began before the views
--    were created, and so bypassed them, has committed and is read here.
-- With nothing inserting during the migration (how `switchyard migrate`,
-- dev mode and compose run it: before the ingester starts) the rollups are
-- exact. An ingester running meanwhile leaves windows of milliseconds: the
-- live views are created one after the other (rollup_backfill_seen_mv
-- first), so a row inserted between two of them is missing from the later
-- rollups; a row that the backfill reads while its own insert is still
-- passing it through the views can count twice; and a batch insert that
-- spans the views' creation by more than 3 s is missed.
SELECT sleep(3) FROM system.one WHERE (SELECT count() FROM requests) > 0;

INSERT INTO rollup_backfill (request_id, ts, team, key_id, user, model, provider, outcome, status_code, stream,
    latency_ms, ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_nusd)
SELECT request_id, ts, team, key_id, user, model, provider, outcome, status_code, stream,
    latency_ms, ttft_ms, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_nusd
FROM requests FINAL
WHERE request_id NOT IN (SELECT request_id FROM rollup_backfill_seen);
