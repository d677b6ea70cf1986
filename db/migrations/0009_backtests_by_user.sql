-- Indexes of the gateway's batch list, dashboard and performance endpoints.

-- A user's batches newest first, paged on (created_at, id): the index gives the
-- order and takes the keyset bound `(created_at, id) < (...)` as its condition.
-- It serves every query 0005's (user_id, created_at DESC) served, so that goes.
CREATE INDEX backtests_user_created_id ON backtests (user_id, created_at DESC, id DESC);
DROP INDEX backtests_user_created;

-- The dashboard's running batches of a user: few, however many finished ones exist.
CREATE INDEX backtests_user_running ON backtests (user_id, created_at DESC, id DESC)
    WHERE status = 'queued';

-- Work finished per time bucket (GET /api/performance): backtest jobs, and the
-- ingest batches the writer committed.
CREATE INDEX backtest_jobs_finished ON backtest_jobs (finished_at);
CREATE INDEX ingest_batches_stored ON ingest_batches (stored_at);
