-- Markdown is rendered when a task is served, no longer stored at import:
-- the stored HTML doubled every completion row (spilling it into overflow
-- pages), and so the bytes every import writes and every export reads
-- (docs/decisions.md).
ALTER TABLE completions DROP COLUMN body_html;
ALTER TABLE prompts DROP COLUMN messages_html;
