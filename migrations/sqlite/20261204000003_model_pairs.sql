-- Active model-pair selection (issue 10): the pairs of a project whose
-- `selection` is `active` name their two models (sorted, joined by U+001F),
-- so the picker can ask for a pair of the model pair the leaderboard is
-- least sure of, by index. Other projects leave it NULL: the partial index
-- then costs their imports and leases nothing.
ALTER TABLE pairs ADD COLUMN model_pair TEXT;
CREATE INDEX pairs_model_pick ON pairs(project_id, model_pair, load, spread) WHERE model_pair IS NOT NULL;
-- Which model pairs a pairwise project serves first: `uniform` (round robin,
-- as before) or `active` (the least certain under the current leaderboard).
ALTER TABLE projects ADD COLUMN selection TEXT NOT NULL DEFAULT 'uniform' CHECK (selection IN ('uniform', 'active'));
