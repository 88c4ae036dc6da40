-- CSRF defence went to Origin / Sec-Fetch-Site checks: the per-session token was never read.
ALTER TABLE sessions DROP COLUMN csrf_token;

-- Invites: what a link is for, and a way to void it before it expires.
--   invite:      a new account (made by an admin, or `arbiter user invite`)
--   reset:       a new password for `user_id`; a newer one voids the older
--   first_admin: printed by `serve` while there is no admin; one at a time,
--                and void as soon as an active admin exists
ALTER TABLE invites ADD COLUMN kind TEXT NOT NULL DEFAULT 'invite'
    CHECK (kind IN ('invite', 'reset', 'first_admin'));
ALTER TABLE invites ADD COLUMN revoked_at INTEGER;
UPDATE invites SET kind = 'reset' WHERE user_id IS NOT NULL;
CREATE INDEX invites_created_by ON invites(created_by) WHERE used_at IS NULL AND revoked_at IS NULL;
