-- Gold pairs (issue 10): `pairs.gold_choice` (canonical, from the first
-- migration) marks a pair with a known answer. A project mixes them into
-- each annotator's queue at `gold_percent` of tasks and flags annotators
-- whose agreement with the known answers is under `gold_accuracy_min` (%).
ALTER TABLE projects ADD COLUMN gold_percent INTEGER NOT NULL DEFAULT 10 CHECK (gold_percent BETWEEN 0 AND 50);
ALTER TABLE projects ADD COLUMN gold_accuracy_min INTEGER NOT NULL DEFAULT 70 CHECK (gold_accuracy_min BETWEEN 0 AND 100);
CREATE INDEX pairs_gold ON pairs(project_id, load) WHERE gold_choice IS NOT NULL;
