-- Task types (issue 9): besides pairwise judgements, a project may ask for a
-- ranking of a prompt's completions or a rating of each. Such a task is a
-- lease of a whole prompt, so assignments and annotations name their prompt
-- and name a pair only for pairwise tasks. SQLite cannot relax NOT NULL in
-- place: the two tables are rebuilt. Foreign keys stay on (sqlx runs a
-- migration in a transaction, where the pragma cannot change), so the order
-- matters: a dropped parent's implicit DELETE cascades to every table whose
-- key names it. The new annotations name `assignments_new` (renaming that
-- table rewrites the reference), and the old annotations go before the old
-- assignments.

ALTER TABLE projects ADD COLUMN task_type TEXT NOT NULL DEFAULT 'pairwise'
    CHECK (task_type IN ('pairwise', 'ranking', 'rating'));
-- Rating projects: the aspects rated (JSON array of names), the scale and its labels (JSON array, one per point or empty).
ALTER TABLE projects ADD COLUMN aspects TEXT NOT NULL DEFAULT '["overall"]';
ALTER TABLE projects ADD COLUMN scale_min INTEGER NOT NULL DEFAULT 1;
ALTER TABLE projects ADD COLUMN scale_max INTEGER NOT NULL DEFAULT 7;
ALTER TABLE projects ADD COLUMN scale_labels TEXT NOT NULL DEFAULT '[]';

-- A prompt is the item of ranking and rating tasks: its own load and count.
ALTER TABLE prompts ADD COLUMN load INTEGER NOT NULL DEFAULT 0;
ALTER TABLE prompts ADD COLUMN submitted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX prompts_pick ON prompts(project_id, load, id);

-- `pair_id` NULL: a task on the whole prompt; `shown` then holds the ids of
-- its completions in the order they were shown (JSON array).
CREATE TABLE assignments_new (
    id               INTEGER PRIMARY KEY,
    uuid             TEXT    NOT NULL UNIQUE,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    prompt_id        INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    pair_id          INTEGER REFERENCES pairs(id) ON DELETE CASCADE,
    annotator_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    swapped          INTEGER NOT NULL,
    shown            TEXT,
    state            TEXT    NOT NULL CHECK (state IN ('leased', 'submitted', 'skipped', 'expired')),
    leased_at        INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    finished_at      INTEGER,
    skip_reason      TEXT,
    UNIQUE (pair_id, annotator_id),
    CHECK ((pair_id IS NULL) = (shown IS NOT NULL))
);
INSERT INTO assignments_new (id, uuid, project_id, prompt_id, pair_id, annotator_id, swapped, shown, state,
                             leased_at, lease_expires_at, finished_at, skip_reason)
    SELECT a.id, a.uuid, a.project_id, p.prompt_id, a.pair_id, a.annotator_id, a.swapped, NULL, a.state,
           a.leased_at, a.lease_expires_at, a.finished_at, a.skip_reason
    FROM assignments a JOIN pairs p ON p.id = a.pair_id;
-- A ranking or rating has no pair and no choice; its content is in `ranks` or `ratings`.
CREATE TABLE annotations_new (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT    NOT NULL UNIQUE,
    assignment_id INTEGER NOT NULL UNIQUE REFERENCES assignments_new(id) ON DELETE CASCADE,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    prompt_id     INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    pair_id       INTEGER REFERENCES pairs(id) ON DELETE CASCADE,
    annotator_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_key    TEXT    NOT NULL UNIQUE,
    request_hash  TEXT    NOT NULL,
    choice_shown  INTEGER CHECK (choice_shown BETWEEN -3 AND 3),
    choice        INTEGER CHECK (choice BETWEEN -3 AND 3),
    both_bad      INTEGER NOT NULL,
    flags         TEXT    NOT NULL DEFAULT '[]',
    rationale     TEXT    NOT NULL DEFAULT '',
    time_ms       INTEGER,
    late          INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    CHECK ((pair_id IS NULL) = (choice IS NULL) AND (choice IS NULL) = (choice_shown IS NULL))
);
INSERT INTO annotations_new (id, uuid, assignment_id, project_id, prompt_id, pair_id, annotator_id, client_key,
                             request_hash, choice_shown, choice, both_bad, flags, rationale, time_ms, late, created_at)
    SELECT n.id, n.uuid, n.assignment_id, n.project_id, p.prompt_id, n.pair_id, n.annotator_id, n.client_key,
           n.request_hash, n.choice_shown, n.choice, n.both_bad, n.flags, n.rationale, n.time_ms, n.late, n.created_at
    FROM annotations n JOIN pairs p ON p.id = n.pair_id;
DROP TABLE annotations;
DROP TABLE assignments;
ALTER TABLE assignments_new RENAME TO assignments;
ALTER TABLE annotations_new RENAME TO annotations;
CREATE INDEX assignments_live ON assignments(lease_expires_at) WHERE state = 'leased';
CREATE INDEX assignments_annotator ON assignments(annotator_id, project_id, state);
CREATE UNIQUE INDEX assignments_prompt_task ON assignments(prompt_id, annotator_id) WHERE pair_id IS NULL;

CREATE INDEX annotations_project_pair ON annotations(project_id, pair_id);
CREATE INDEX annotations_prompt ON annotations(prompt_id) WHERE pair_id IS NULL;

-- A ranking: each completion's rank (1 = best; equal ranks are ties).
CREATE TABLE ranks (
    annotation_id INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    completion_id INTEGER NOT NULL REFERENCES completions(id) ON DELETE CASCADE,
    rank          INTEGER NOT NULL CHECK (rank >= 1),
    PRIMARY KEY (annotation_id, completion_id)
) WITHOUT ROWID;

-- A rating: each completion's value on each aspect.
CREATE TABLE ratings (
    annotation_id INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    completion_id INTEGER NOT NULL REFERENCES completions(id) ON DELETE CASCADE,
    aspect        TEXT    NOT NULL,
    value         INTEGER NOT NULL,
    PRIMARY KEY (annotation_id, completion_id, aspect)
) WITHOUT ROWID;

