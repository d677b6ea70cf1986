-- The admin pages' lists (/admin/security, /admin/users): the security-event
-- and activity logs are read newest first by (timestamp, id) with a keyset
-- cursor, optionally filtered by type/action and by user. Each index leads
-- with the filter and ends with the full sort key, so a page is one index
-- range scan; they supersede the single-column indexes of 0004.

CREATE INDEX security_events_time_id ON security_events (timestamp DESC, id DESC);
CREATE INDEX security_events_type_time_id ON security_events (event_type, timestamp DESC, id DESC);
CREATE INDEX security_events_user_time_id ON security_events (user_id, timestamp DESC, id DESC);
DROP INDEX security_events_timestamp;
DROP INDEX security_events_type;

CREATE INDEX user_activity_log_time_id ON user_activity_log (timestamp DESC, id DESC);
CREATE INDEX user_activity_log_action_time_id ON user_activity_log (action, timestamp DESC, id DESC);
CREATE INDEX user_activity_log_user_time_id ON user_activity_log (user_id, timestamp DESC, id DESC);
DROP INDEX user_activity_log_timestamp;
DROP INDEX user_activity_log_user;

-- Users filtered by role or by active (the admin list's filters), in id order.
CREATE INDEX users_level_id ON users (user_level, id);
