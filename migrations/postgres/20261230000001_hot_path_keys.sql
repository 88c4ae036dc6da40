-- The hot path's inserts check fewer foreign keys. Each check runs a query
-- and takes a KEY SHARE lock on the referenced row; every annotator's claim
-- and submission locked the one `projects` row, which PostgreSQL records as
-- a new multixact each time another transaction holds it too.
--
-- These columns are copies: an annotation's project, prompt, pair and
-- annotator are its assignment's (written from it, never changed), and an
-- assignment's project is its prompt's. Deletions still cascade the same
-- way: a project's prompts take their assignments with them, an
-- assignment takes its annotation.
ALTER TABLE assignments DROP CONSTRAINT assignments_project_id_fkey;
ALTER TABLE annotations DROP CONSTRAINT annotations_project_id_fkey;
ALTER TABLE annotations DROP CONSTRAINT annotations_prompt_id_fkey;
ALTER TABLE annotations DROP CONSTRAINT annotations_pair_id_fkey;
ALTER TABLE annotations DROP CONSTRAINT annotations_annotator_id_fkey;
