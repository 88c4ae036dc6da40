-- Arbiter's schema. Conventions (portable to PostgreSQL):
-- * internal keys are integers (small, fast joins); anything that appears in a
--   URL or an API body is a UUID in a `uuid` column or a slug;
-- * times are INTEGER milliseconds since the Unix epoch (UTC);
-- * big text (prompts, completions, rationales) never sits in the rows the
--   assignment hot path scans (`pairs`, `assignments`).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT    NOT NULL UNIQUE,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT,                          -- NULL until an invite is accepted
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'annotator')),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER
);

-- Session cookies and API tokens are stored only as SHA-256 hashes.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    uuid         TEXT    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE projects (
    id                   INTEGER PRIMARY KEY,
    uuid                 TEXT    NOT NULL UNIQUE,
    slug                 TEXT    NOT NULL UNIQUE,
    title                TEXT    NOT NULL,
    guidelines           TEXT    NOT NULL DEFAULT '',   -- markdown
    annotations_per_pair INTEGER NOT NULL DEFAULT 3 CHECK (annotations_per_pair BETWEEN 1 AND 100),
    lease_seconds        INTEGER NOT NULL DEFAULT 600 CHECK (lease_seconds BETWEEN 10 AND 86400),
    flags                TEXT    NOT NULL DEFAULT '["unsafe","factually wrong","off-topic"]', -- JSON array
    created_at           INTEGER NOT NULL
);

CREATE TABLE project_members (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members(user_id);

CREATE TABLE prompts (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    -- the `id` given in the import, or a hash of the content when none was:
    -- re-importing a line finds its prompt instead of adding a second one.
    dedupe_key  TEXT    NOT NULL,
    external_id TEXT,
    is_chat     INTEGER NOT NULL,   -- 1: `messages` came as a conversation
    messages    TEXT    NOT NULL,   -- JSON [{role, content}]; a plain prompt is one user turn
    meta        TEXT,               -- JSON object, kept for export
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, dedupe_key)
);

CREATE TABLE completions (
    id           INTEGER PRIMARY KEY,
    uuid         TEXT    NOT NULL UNIQUE,
    prompt_id    INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    model        TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    position     INTEGER NOT NULL,  -- import order within the prompt
    content_hash TEXT    NOT NULL,  -- of model and text: a re-import adds only what is new
    UNIQUE (prompt_id, content_hash)
);

-- Two completions of one prompt in canonical order (A imported before B).
-- `load` = live leases + submitted annotations: what the picker compares with N.
-- `spread` interleaves model pairs so equal-load pairs come round-robin by model pair.
CREATE TABLE pairs (
    id           INTEGER PRIMARY KEY,
    uuid         TEXT    NOT NULL UNIQUE,
    project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    prompt_id    INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    completion_a INTEGER NOT NULL REFERENCES completions(id) ON DELETE CASCADE,
    completion_b INTEGER NOT NULL REFERENCES completions(id) ON DELETE CASCADE,
    load         INTEGER NOT NULL DEFAULT 0,
    submitted    INTEGER NOT NULL DEFAULT 0,
    spread       INTEGER NOT NULL,
    gold_choice  INTEGER CHECK (gold_choice BETWEEN -3 AND 3), -- canonical, for later QA
    created_at   INTEGER NOT NULL,
    UNIQUE (completion_a, completion_b),
    CHECK (completion_a <> completion_b)
);
CREATE INDEX pairs_pick ON pairs(project_id, load, spread);
CREATE INDEX pairs_prompt ON pairs(prompt_id);

-- A task: one annotator's lease on one pair. `swapped` = 1 when B was shown on the left.
CREATE TABLE assignments (
    id               INTEGER PRIMARY KEY,
    uuid             TEXT    NOT NULL UNIQUE,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    pair_id          INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    annotator_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    swapped          INTEGER NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('leased', 'submitted', 'skipped', 'expired')),
    leased_at        INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    finished_at      INTEGER,
    skip_reason      TEXT,
    UNIQUE (pair_id, annotator_id)
);
CREATE INDEX assignments_live ON assignments(lease_expires_at) WHERE state = 'leased';
CREATE INDEX assignments_annotator ON assignments(annotator_id, project_id, state);

-- One judgement. `choice_shown`: negative favours the left side; `choice`:
-- canonical, positive favours completion A. `request_hash` lets a retry with
-- the same client key be told apart from a different body reusing the key.
CREATE TABLE annotations (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT    NOT NULL UNIQUE,
    assignment_id INTEGER NOT NULL UNIQUE REFERENCES assignments(id) ON DELETE CASCADE,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    pair_id       INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
    annotator_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_key    TEXT    NOT NULL UNIQUE,
    request_hash  TEXT    NOT NULL,
    choice_shown  INTEGER NOT NULL CHECK (choice_shown BETWEEN -3 AND 3),
    choice        INTEGER NOT NULL CHECK (choice BETWEEN -3 AND 3),
    both_bad      INTEGER NOT NULL,
    flags         TEXT    NOT NULL DEFAULT '[]',
    rationale     TEXT    NOT NULL DEFAULT '',
    time_ms       INTEGER,
    late          INTEGER NOT NULL DEFAULT 0,  -- arrived after its lease expired
    created_at    INTEGER NOT NULL
);
CREATE INDEX annotations_project_pair ON annotations(project_id, pair_id);

-- Each upload or CLI import, with its report, so the admin page can show it.
CREATE TABLE imports (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT    NOT NULL UNIQUE,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    filename   TEXT    NOT NULL,
    ok         INTEGER NOT NULL,
    report     TEXT    NOT NULL,   -- JSON: counts, or the bad lines with reasons
    created_at INTEGER NOT NULL
);
