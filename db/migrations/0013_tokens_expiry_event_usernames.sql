-- Issue 10 (accounts): API tokens expire, and the security-event log names its
-- user in text as well as by id, so a deleted user's events still say whose
-- they were (user_id becomes NULL on delete).

-- Existing tokens get the default lifetime from now on; new ones get theirs
-- from the auth service (POST /api/auth/tokens, `expires_in_days`).
ALTER TABLE api_tokens
    ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '90 days';
-- The per-user cap counts live tokens (not revoked, not expired).
CREATE INDEX api_tokens_user_live ON api_tokens (user_id, expires_at) WHERE revoked_at IS NULL;

ALTER TABLE security_events ADD COLUMN username text;
UPDATE security_events e SET username = u.username FROM users u WHERE u.id = e.user_id;
-- A deletion logged before this column existed names its user in its details.
UPDATE security_events SET username = details->>'target_username'
WHERE username IS NULL AND event_type = 'user_deleted';
-- The admin log's "whose events" filter reads the stored name (it outlives the user row).
CREATE INDEX security_events_username_time_id
    ON security_events (lower(username), timestamp DESC, id DESC);

-- Every writer names the user: an insert that gives only user_id gets the
-- user's current name (the auth service passes it itself, and passes the
-- deleted user's name for `user_deleted`, whose user_id is already gone).
CREATE FUNCTION security_events_username() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.username IS NULL AND NEW.user_id IS NOT NULL THEN
        SELECT u.username INTO NEW.username FROM users u WHERE u.id = NEW.user_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER security_events_username BEFORE INSERT ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_username();
