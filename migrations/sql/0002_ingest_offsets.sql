-- Where each record came from in Kafka, and the offset fence built on it.
--
-- The ingester commits Kafka offsets only after a batch is stored, so a
-- crash between the insert and the commit replays the batch. The raw table
-- folds replays (ReplacingMergeTree), but materialized views such as the
-- rollups count every insert. On partition assignment the ingester reads
-- the highest offset ClickHouse already holds for the partition from
-- ingest_offsets and skips anything at or below it: a replay is never
-- inserted, so nothing is counted twice.
--
-- Records inserted other than from Kafka have kafka_offset -1 and no fence.

ALTER TABLE requests ADD COLUMN IF NOT EXISTS kafka_topic String DEFAULT '';

ALTER TABLE requests ADD COLUMN IF NOT EXISTS kafka_partition Int32 DEFAULT -1;

ALTER TABLE requests ADD COLUMN IF NOT EXISTS kafka_offset Int64 DEFAULT -1;

-- One row per topic and partition once merged; read with maxMerge.
CREATE TABLE IF NOT EXISTS ingest_offsets (
    topic String,
    partition Int32,
    max_offset AggregateFunction(max, Int64)
) ENGINE = AggregatingMergeTree
ORDER BY (topic, partition);

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_offsets_mv TO ingest_offsets AS
SELECT kafka_topic AS topic, kafka_partition AS partition, maxState(kafka_offset) AS max_offset
FROM requests
WHERE kafka_offset >= 0
GROUP BY kafka_topic, kafka_partition;
