-- Sanitized HTML rendered once at import, so leasing a task does no
-- markdown work. NULL (rows from before) falls back to rendering on read.
ALTER TABLE completions ADD COLUMN body_html TEXT;
ALTER TABLE prompts ADD COLUMN messages_html TEXT;  -- JSON array, one HTML string per message
