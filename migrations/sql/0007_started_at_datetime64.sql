-- requires-clickhouse: 20.5
--
-- started_at, the request's start as a DateTime64 with milliseconds, for
-- people and dashboards that query requests by hand. An ALIAS: computed
-- from started_at_ms when read, so it costs no storage and needs no
-- backfill. Switchyard's own queries keep using ts and started_at_ms, which
-- every server has.
--
-- Version: DateTime64 arrived in 20.1, fromUnixTimestamp64Milli in 20.5
-- (it takes an Int64, hence the toInt64). The result is cast to the
-- column's type, DateTime64(3, 'UTC'), whatever the server's time zone.

ALTER TABLE requests ADD COLUMN IF NOT EXISTS started_at DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(toInt64(started_at_ms));
