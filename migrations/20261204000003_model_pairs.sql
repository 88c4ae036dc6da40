-- Active model-pair selection (issue 10): each pair names its two models
-- (sorted, joined by U+001F), so the picker can ask for a pair of the model
-- pair the leaderboard is least sure of, by index.
ALTER TABLE pairs ADD COLUMN model_pair TEXT;
UPDATE pairs SET model_pair = (
    SELECT min(ca.model, cb.model) || char(31) || max(ca.model, cb.model)
    FROM completions ca, completions cb WHERE ca.id = pairs.completion_a AND cb.id = pairs.completion_b);
CREATE INDEX pairs_model_pick ON pairs(project_id, model_pair, load, spread);
-- Which model pairs a pairwise project serves first: `uniform` (round robin,
-- as before) or `active` (the least certain under the current leaderboard).
ALTER TABLE projects ADD COLUMN selection TEXT NOT NULL DEFAULT 'uniform' CHECK (selection IN ('uniform', 'active'));
