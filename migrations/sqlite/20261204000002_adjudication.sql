-- Adjudication (issue 10): an admin's final label for a pair with split
-- votes, canonical (1: A, -1: B, 0: a tie); exports use it over the votes.
ALTER TABLE pairs ADD COLUMN adjudicated INTEGER CHECK (adjudicated BETWEEN -1 AND 1);
ALTER TABLE pairs ADD COLUMN adjudicated_by TEXT;
ALTER TABLE pairs ADD COLUMN adjudicated_at INTEGER;
