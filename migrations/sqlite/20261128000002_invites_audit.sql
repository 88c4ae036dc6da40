-- Invites (also used for password resets) and the audit log.

CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,        -- SHA-256 of the link's secret
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'annotator')),
    projects    TEXT    NOT NULL DEFAULT '[]',  -- JSON array of project slugs to join
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE, -- set: a password reset for this user
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,      -- username, or 'cli' / 'system'
    action   TEXT    NOT NULL,      -- e.g. user.create, token.revoke, project.import
    target   TEXT    NOT NULL DEFAULT '',
    detail   TEXT    NOT NULL DEFAULT '{}'   -- JSON
);
CREATE INDEX audit_log_at ON audit_log(at);
