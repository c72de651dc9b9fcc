-- requires-clickhouse: 20.3
--
-- Column codecs for the columns that hold most of the bytes. Without them
-- the server stores everything with its default, LZ4.
--
-- Version: per-column codecs, Delta and ALTER of a column's codec arrived
-- in 19.1 (ClickHouse 18.16 rejects CODEC). We ask for 20.3, the LTS after
-- the 19.x line of codec and ALTER MODIFY COLUMN fixes: this migration only
-- saves disk space, so a server between the two loses nothing by waiting.
--
-- Each MODIFY COLUMN repeats the column's type unchanged; only the codec is
-- new. Existing parts keep their compression until merges rewrite them.

-- JSON bodies: ZSTD compresses them several times better than LZ4, and
-- they are read one request at a time, so its slower decompression does not
-- show.
ALTER TABLE request_bodies MODIFY COLUMN request_body String CODEC(ZSTD(3));
ALTER TABLE request_bodies MODIFY COLUMN response_body String CODEC(ZSTD(3));

-- Millisecond timestamps in tables sorted by time: consecutive values are
-- close, so their deltas compress to a few bits each. (ts is part of the
-- sorting key and stays as it is.)
ALTER TABLE requests MODIFY COLUMN started_at_ms UInt64 CODEC(Delta, ZSTD(1));
ALTER TABLE request_bodies MODIFY COLUMN started_at_ms UInt64 CODEC(Delta, ZSTD(1));
