-- An annotator's live leases, oldest first (the look before each claim:
-- `assignments::sweep_and_held`), read from their own index entries in that
-- order. On (annotator_id, project_id, state) alone the plan without values
-- was a bitmap scan of every entry the annotator's leases ever had under
-- 'leased' (a submitted lease's old version keeps its entry until VACUUM),
-- each checked in the table, then sorted: 19 pages per look (the expiry
-- sweep's included) in the load benchmark, against 8 in this order (the
-- index scan stops at the second live lease and marks the dead entries it
-- passes, which later scans skip). Counts by annotator and state use the
-- same index as before. The index is rebuilt inside the migration: on a
-- million assignments that takes seconds, in which claims wait.
DROP INDEX assignments_annotator;
CREATE INDEX assignments_annotator ON assignments(annotator_id, project_id, state, leased_at, id);
