-- requires-clickhouse: 21.5
--
-- Insert deduplication for the tables the ingester writes. The server keeps
-- the checksums of the last 1,000 inserted blocks per table and drops a
-- block that repeats one of them: an insert retried after a timeout whose
-- first attempt did land is stored once. A block dropped this way is not
-- passed to the materialized views either, so the rollups do not count it
-- twice. ReplacingMergeTree (0001) still folds replays whose blocks differ.
--
-- Version: non_replicated_deduplication_window arrived in 21.5 (with
-- ALTER ... MODIFY SETTING support for it); ClickHouse 18.16 has no insert
-- deduplication for non-replicated tables.

ALTER TABLE requests MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE request_bodies MODIFY SETTING non_replicated_deduplication_window = 1000;
