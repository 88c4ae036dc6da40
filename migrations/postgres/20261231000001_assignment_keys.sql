-- A claim's insert into `assignments` checks no foreign key. Each check ran
-- a query and took a KEY SHARE lock on the parent row: the prompt's (shared
-- by the prompt's pairs, so often held by another annotator's claim too,
-- which PostgreSQL records as a new multixact), the annotator's and the
-- pair's. On the claim statement alone that was 13% of its rate
-- (docs/benchmarks.md).
--
-- The columns are written from rows the claim holds: the pair it locked
-- (FOR UPDATE), that pair's prompt (or, ranking and rating, the prompt it
-- locked), the signed-in annotator; Arbiter deletes none of those rows.
-- Deletions by hand (and TRUNCATE … CASCADE) still take the assignments
-- (and, through `annotations.assignment_id`, their annotations) with them:
-- the triggers below do what ON DELETE CASCADE did, once per statement.
ALTER TABLE assignments DROP CONSTRAINT assignments_prompt_id_fkey;
ALTER TABLE assignments DROP CONSTRAINT assignments_pair_id_fkey;
ALTER TABLE assignments DROP CONSTRAINT assignments_annotator_id_fkey;

CREATE FUNCTION arbiter_delete_assignments() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- Every row of the table is gone: every assignment that pointed at one.
        IF TG_TABLE_NAME = 'pairs' THEN
            DELETE FROM assignments WHERE pair_id IS NOT NULL;
        ELSE
            DELETE FROM assignments;
        END IF;
    ELSIF TG_TABLE_NAME = 'prompts' THEN
        DELETE FROM assignments a USING gone g WHERE a.prompt_id = g.id;
    ELSIF TG_TABLE_NAME = 'pairs' THEN
        DELETE FROM assignments a USING gone g WHERE a.pair_id = g.id;
    ELSE
        DELETE FROM assignments a USING gone g WHERE a.annotator_id = g.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER prompts_take_their_assignments AFTER DELETE ON prompts
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION arbiter_delete_assignments();
CREATE TRIGGER pairs_take_their_assignments AFTER DELETE ON pairs
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION arbiter_delete_assignments();
CREATE TRIGGER users_take_their_assignments AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION arbiter_delete_assignments();
-- TRUNCATE … CASCADE reached `assignments` through the foreign keys; it
-- fires no DELETE trigger.
CREATE TRIGGER prompts_truncate_their_assignments AFTER TRUNCATE ON prompts
    FOR EACH STATEMENT EXECUTE FUNCTION arbiter_delete_assignments();
CREATE TRIGGER pairs_truncate_their_assignments AFTER TRUNCATE ON pairs
    FOR EACH STATEMENT EXECUTE FUNCTION arbiter_delete_assignments();
CREATE TRIGGER users_truncate_their_assignments AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION arbiter_delete_assignments();
