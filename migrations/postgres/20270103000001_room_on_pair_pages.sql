-- A pair's row is updated twice per judgement: its claim adds to `load`, its
-- submission to `submitted`. The second changes no indexed column, so it can
-- be a heap-only update (no new entry in any of the pairs' indexes)
-- when the row's page has room for the new version: pages are now filled to
-- 80% by inserts (imports). Pairs stored before this migration keep full
-- pages until `VACUUM FULL pairs` (docs/decisions.md).
ALTER TABLE pairs SET (fillfactor = 80);
