-- requires-extension: pg_trgm
-- The admin user list's search (a part of the username or email, any case:
-- `lower(username) LIKE '%…%'`) through trigram indexes. Skipped where pg_trgm
-- is not available: the search then scans users, which stays correct.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX users_username_trgm ON users USING gin (lower(username) gin_trgm_ops);
CREATE INDEX users_email_trgm ON users USING gin (lower(email) gin_trgm_ops);
