-- Languages (issue 13): the user's interface language; NULL follows the
-- browser's Accept-Language.
ALTER TABLE users ADD COLUMN language TEXT CHECK (language IN ('en', 'de'));
