-- Comfort (issue 13): each user's colour theme (`auto` follows the
-- browser's prefers-color-scheme) and text size (percent), kept per user.
ALTER TABLE users ADD COLUMN theme TEXT NOT NULL DEFAULT 'auto' CHECK (theme IN ('auto', 'light', 'dark'));
ALTER TABLE users ADD COLUMN text_size INTEGER NOT NULL DEFAULT 100 CHECK (text_size BETWEEN 80 AND 160);
