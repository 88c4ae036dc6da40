-- Undo and history (issue 13). A judgement can be changed by its annotator
-- within the project's undo window (the last `undo_judgements` of theirs,
-- and no older than `undo_minutes`; either 0 turns undo off). The
-- annotation row always holds the latest version; every version it
-- replaced is kept here, with the key of the edit that replaced it.
ALTER TABLE projects ADD COLUMN undo_judgements INTEGER NOT NULL DEFAULT 10
    CHECK (undo_judgements BETWEEN 0 AND 1000);
ALTER TABLE projects ADD COLUMN undo_minutes INTEGER NOT NULL DEFAULT 30
    CHECK (undo_minutes BETWEEN 0 AND 10080);
ALTER TABLE annotations ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE annotations ADD COLUMN updated_at INTEGER;

CREATE TABLE annotation_revisions (
    id               INTEGER PRIMARY KEY,
    annotation_id    INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    -- That version as JSON: choice_shown, choice, both_bad, flags, rationale,
    -- time_ms, ranks / ratings / completion_flags by completion uuid.
    body             TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,   -- when that version was stored
    replaced_at      INTEGER NOT NULL,
    replaced_by_key  TEXT    NOT NULL UNIQUE,
    replaced_by_hash TEXT    NOT NULL,
    UNIQUE (annotation_id, version)
);
-- The annotator's judgements in a project, newest first (history, undo window).
CREATE INDEX annotations_annotator ON annotations(annotator_id, project_id, id);
