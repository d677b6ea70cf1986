-- Backtests: a batch (one request of one user), the jobs it was split into as
-- they finish, and one row per backtest (one parameter set of one series).
-- Workers write results and job completions in one transaction; both are
-- idempotent (a redelivered job inserts nothing twice).

CREATE TABLE backtests (
    id                 uuid PRIMARY KEY,
    user_id            bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    request            jsonb NOT NULL,
    strategy           text NOT NULL,
    rank_by            text NOT NULL DEFAULT 'sharpe',
    status             text NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'done', 'cancelled')),
    total_jobs         integer NOT NULL CHECK (total_jobs > 0),
    total_backtests    integer NOT NULL CHECK (total_backtests > 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    cancelled_at       timestamptz
);

CREATE INDEX backtests_user_created ON backtests (user_id, created_at DESC);

-- A job that is over: 'done' (its results are stored), 'failed' (dead-lettered
-- after the delivery limit), 'skipped' (the batch was cancelled before it ran).
CREATE TABLE backtest_jobs (
    batch_id      uuid NOT NULL REFERENCES backtests (id) ON DELETE CASCADE,
    job_id        integer NOT NULL,
    status        text NOT NULL CHECK (status IN ('done', 'failed', 'skipped')),
    error         text,
    finished_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, job_id)
);

CREATE TABLE backtest_results (
    id          bigserial PRIMARY KEY,
    batch_id    uuid NOT NULL REFERENCES backtests (id) ON DELETE CASCADE,
    job_id      integer NOT NULL,
    params      jsonb NOT NULL,
    symbol      text NOT NULL,
    interval    text NOT NULL,
    metrics     jsonb,
    trades      jsonb,
    equity      jsonb,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per parameter set of a job: a redelivered job inserts nothing.
CREATE UNIQUE INDEX backtest_results_job_params ON backtest_results (batch_id, job_id, params);
