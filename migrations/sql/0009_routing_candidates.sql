-- The deployments the router considered for each request, with their
-- scores and why each was tried or skipped: record field
-- routing.candidates, stored as its JSON array (read back whole, never
-- filtered on).

ALTER TABLE requests ADD COLUMN IF NOT EXISTS routing_candidates String DEFAULT '[]';
