-- 0003 is recorded, so its backfill is complete: its bookkeeping goes.
-- First the view that copies every new request id into
-- rollup_backfill_seen, then the backfill's views, then their tables.
-- (18.16 has no DROP VIEW; DROP TABLE drops a view.)
DROP TABLE IF EXISTS rollup_backfill_seen_mv;

DROP TABLE IF EXISTS rollup_backfill_seen_backfill_mv;

DROP TABLE IF EXISTS spend_minute_backfill_mv;

DROP TABLE IF EXISTS spend_hour_backfill_mv;

DROP TABLE IF EXISTS spend_day_backfill_mv;

DROP TABLE IF EXISTS spend_user_day_backfill_mv;

DROP TABLE IF EXISTS perf_minute_backfill_mv;

DROP TABLE IF EXISTS rollup_backfill;

DROP TABLE IF EXISTS rollup_backfill_seen;
