-- The dashboard's bounds for flagging an annotator, per project (issue 10):
-- agreement with the others under `flag_agreement_min` %, more than
-- `flag_skip_max` % of tasks skipped, a left-side bias at p below
-- `flag_bias_permille` / 1000.
ALTER TABLE projects ADD COLUMN flag_agreement_min INTEGER NOT NULL DEFAULT 50 CHECK (flag_agreement_min BETWEEN 0 AND 100);
ALTER TABLE projects ADD COLUMN flag_skip_max INTEGER NOT NULL DEFAULT 30 CHECK (flag_skip_max BETWEEN 0 AND 100);
ALTER TABLE projects ADD COLUMN flag_bias_permille INTEGER NOT NULL DEFAULT 10 CHECK (flag_bias_permille BETWEEN 0 AND 1000);
