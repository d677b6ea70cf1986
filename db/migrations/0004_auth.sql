-- Users, API tokens, the security-event log and the activity log (issue 3).
-- Sessions live in Redis; only hashes of session and API tokens are stored.

CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    username       text NOT NULL,
    email          text NOT NULL,
    password_hash  text NOT NULL,
    user_level     text NOT NULL DEFAULT 'user' CHECK (user_level IN ('user', 'admin')),
    is_active      boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login     timestamptz,
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
-- The seed's lookups; case-insensitive uniqueness.
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE api_tokens (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL,
    token_hash    text NOT NULL UNIQUE,            -- SHA-256 hex of the token
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE security_events (
    id          bigserial PRIMARY KEY,
    event_type  text NOT NULL,
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    ip_address  inet,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    timestamp   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_timestamp ON security_events (timestamp DESC);
CREATE INDEX security_events_type ON security_events (event_type, timestamp DESC);

-- Written by the writer from activity events; `event_id` makes redelivery harmless.
CREATE TABLE user_activity_log (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    action      text NOT NULL,
    ip_address  inet,
    user_agent  text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    timestamp   timestamptz NOT NULL
);
CREATE INDEX user_activity_log_user ON user_activity_log (user_id, timestamp DESC);
CREATE INDEX user_activity_log_timestamp ON user_activity_log (timestamp DESC);
