-- A submission's insert into `annotations` checks no foreign key. The check
-- ran a query per judgement, at the end of the statement that also marks
-- the assignment submitted, and took a KEY SHARE lock on that assignment,
-- which the submission's job holds FOR UPDATE already.
--
-- `assignment_id` is written from the assignment the job locked and marks
-- submitted in the same statement; Arbiter deletes no assignment. Deletions
-- by hand (the triggers of migration `assignment_keys` among them) and
-- TRUNCATE still take an assignment's annotation with it (and, through their
-- foreign keys, its ranks, ratings, flags and revisions): the triggers below
-- do what ON DELETE CASCADE did, once per statement. The column stays unique.
ALTER TABLE annotations DROP CONSTRAINT annotations_assignment_id_fkey;

CREATE FUNCTION arbiter_delete_annotations() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM annotations;
    ELSE
        DELETE FROM annotations n USING gone g WHERE n.assignment_id = g.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER assignments_take_their_annotations AFTER DELETE ON assignments
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION arbiter_delete_annotations();
CREATE TRIGGER assignments_truncate_their_annotations AFTER TRUNCATE ON assignments
    FOR EACH STATEMENT EXECUTE FUNCTION arbiter_delete_annotations();
