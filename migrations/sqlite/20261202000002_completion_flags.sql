-- Flags on single answers of a ranking or rating task (issue 9): "answer 3
-- is unsafe" rather than "this task is". Each one of the project's flags.
CREATE TABLE completion_flags (
    annotation_id INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    completion_id INTEGER NOT NULL REFERENCES completions(id) ON DELETE CASCADE,
    flag          TEXT    NOT NULL,
    PRIMARY KEY (annotation_id, completion_id, flag)
) WITHOUT ROWID;
