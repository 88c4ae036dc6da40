-- Datasets in and out (imports of existing preference sets, export cards).

-- The preference a pair came with from an imported dataset (canonical:
-- 1 = A preferred, -1 = B, 0 = a tie). Never shown to annotators.
ALTER TABLE pairs ADD COLUMN prior INTEGER CHECK (prior BETWEEN -1 AND 1);

-- The original line of a pair imported from HH-RLHF, so an export can give
-- it back byte for byte. Kept out of `pairs`: the hot path scans that table.
CREATE TABLE pair_sources (
    pair_id INTEGER PRIMARY KEY REFERENCES pairs(id) ON DELETE CASCADE,
    line    TEXT    NOT NULL
);

-- The dataset card of every finished export (JSON), newest shown on the admin page.
CREATE TABLE exports (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT    NOT NULL UNIQUE,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    actor      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    card       TEXT    NOT NULL
);
CREATE INDEX exports_project ON exports(project_id, id);
