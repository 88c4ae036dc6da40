-- Single-column checks of the hot path's tables become domains. PostgreSQL
-- compiles a table's CHECK constraints from their stored text at every
-- statement that inserts or updates a row of it (each claim updates a pair,
-- each submission a pair and an assignment): 15 constraints parsed and
-- compiled per judgement, about 4% of the database's CPU under load. A
-- domain's check runs only where a value is written to that column, from
-- the type cache. The same values are refused as before (check_violation).
CREATE DOMAIN arbiter_choice AS BIGINT CHECK (VALUE BETWEEN -3 AND 3);
CREATE DOMAIN arbiter_sign AS BIGINT CHECK (VALUE BETWEEN -1 AND 1);
CREATE DOMAIN arbiter_task_state AS TEXT CHECK (VALUE IN ('leased', 'submitted', 'skipped', 'expired'));

ALTER TABLE pairs
    DROP CONSTRAINT pairs_gold_choice_check,
    DROP CONSTRAINT pairs_prior_check,
    DROP CONSTRAINT pairs_adjudicated_check,
    DROP CONSTRAINT pairs_check,
    ALTER COLUMN gold_choice TYPE arbiter_choice,
    ALTER COLUMN prior TYPE arbiter_sign,
    ALTER COLUMN adjudicated TYPE arbiter_sign;

-- A pair's two completions differ: checked where they are written (an
-- import), not at the hot path's updates of its counters.
CREATE FUNCTION arbiter_pair_of_two() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.completion_a = NEW.completion_b THEN
        RAISE EXCEPTION 'a pair needs two different completions' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER pairs_of_two BEFORE INSERT OR UPDATE OF completion_a, completion_b ON pairs
    FOR EACH ROW EXECUTE FUNCTION arbiter_pair_of_two();

ALTER TABLE annotations
    DROP CONSTRAINT annotations_choice_shown_check,
    DROP CONSTRAINT annotations_choice_check,
    ALTER COLUMN choice_shown TYPE arbiter_choice,
    ALTER COLUMN choice TYPE arbiter_choice;

ALTER TABLE assignments
    DROP CONSTRAINT assignments_state_check,
    ALTER COLUMN state TYPE arbiter_task_state;

-- A column's new type drops its statistics: gathered again at once, so the
-- planner does not wait for autovacuum; an empty table is left unanalyzed
-- (statistics of an empty table would plan its lookups as scans).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pairs) THEN ANALYZE pairs; END IF;
    IF EXISTS (SELECT 1 FROM annotations) THEN ANALYZE annotations; END IF;
    IF EXISTS (SELECT 1 FROM assignments) THEN ANALYZE assignments; END IF;
END $$;
