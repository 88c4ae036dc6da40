-- Adaptive pair selection (issue 9): a project option, and prompts whose
-- order is settled (no pair of theirs is offered again).
ALTER TABLE projects ADD COLUMN pair_selection TEXT NOT NULL DEFAULT 'all'
    CHECK (pair_selection IN ('all', 'adaptive'));
ALTER TABLE prompts ADD COLUMN settled INTEGER NOT NULL DEFAULT 0;
