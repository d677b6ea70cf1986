-- Crypto candles, the ingest bookkeeping around them, and request metrics.
-- Plain PostgreSQL; 0002 adds TimescaleDB features where the extension exists.

CREATE TABLE cryptocurrencies (
    id              serial PRIMARY KEY,
    symbol          text NOT NULL,                 -- base asset, e.g. BTC
    name            text NOT NULL,
    binance_symbol  text NOT NULL UNIQUE,          -- trading pair, e.g. BTCUSDT
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO cryptocurrencies (symbol, name, binance_symbol) VALUES
    ('BTC', 'Bitcoin', 'BTCUSDT'),
    ('ETH', 'Ethereum', 'ETHUSDT'),
    ('BNB', 'BNB', 'BNBUSDT'),
    ('SOL', 'Solana', 'SOLUSDT'),
    ('XRP', 'XRP', 'XRPUSDT'),
    ('ADA', 'Cardano', 'ADAUSDT');

-- numeric without a typmod keeps the provider's decimal string exactly.
CREATE TABLE crypto_prices (
    crypto_id      integer NOT NULL REFERENCES cryptocurrencies (id),
    datetime       timestamptz NOT NULL,           -- the bar's open time
    interval_type  text NOT NULL CHECK (interval_type IN ('1h', '4h', '1d')),
    open_price     numeric NOT NULL,
    high_price     numeric NOT NULL,
    low_price      numeric NOT NULL,
    close_price    numeric NOT NULL,
    volume         numeric NOT NULL,
    source         text NOT NULL CHECK (source IN ('binance', 'binance-archive', 'simulated')),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The seed's primary lookup, unique so that a re-delivered candle updates its row.
CREATE UNIQUE INDEX crypto_prices_series_time
    ON crypto_prices (crypto_id, interval_type, datetime DESC);
CREATE INDEX crypto_prices_datetime ON crypto_prices (datetime);

-- One row per load (backfill, archive import, scheduled refresh, gap refill).
CREATE TABLE ingest_jobs (
    id                uuid PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('backfill', 'archive-import', 'scheduled', 'gap-refill')),
    symbol            text NOT NULL,
    interval_type     text NOT NULL,
    range_start       timestamptz,
    range_end         timestamptz,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'fetched', 'finalizing', 'done', 'failed')),
    batches_expected  integer,
    candles_expected  integer,
    source            text,
    error             text,
    requested_by      text NOT NULL DEFAULT 'system',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
CREATE INDEX ingest_jobs_created ON ingest_jobs (created_at DESC);

-- Batches the writer has committed; the key that makes redelivery harmless.
CREATE TABLE ingest_batches (
    batch_id    uuid PRIMARY KEY,
    job_id      uuid,
    candles     integer NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingest_batches_job ON ingest_batches (job_id) WHERE job_id IS NOT NULL;

-- Holes found by gap detection; `refilled_*` once the source had them after all.
CREATE TABLE crypto_gaps (
    id                bigserial PRIMARY KEY,
    crypto_id         integer NOT NULL REFERENCES cryptocurrencies (id),
    interval_type     text NOT NULL,
    gap_start         timestamptz NOT NULL,        -- first missing open time
    gap_end           timestamptz NOT NULL,        -- exclusive
    candles           integer NOT NULL,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'refilled')),
    refilled_candles  integer NOT NULL DEFAULT 0,
    refill_attempts   integer NOT NULL DEFAULT 0,
    detected_at       timestamptz NOT NULL DEFAULT now(),
    last_attempt_at   timestamptz,
    refilled_at       timestamptz,
    UNIQUE (crypto_id, interval_type, gap_start)
);

CREATE TABLE performance_metrics (
    id                bigserial PRIMARY KEY,
    endpoint          text NOT NULL,
    method            text NOT NULL,
    response_time_ms  double precision NOT NULL,
    status_code       integer NOT NULL,
    timestamp         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX performance_metrics_timestamp ON performance_metrics (timestamp DESC);
CREATE INDEX performance_metrics_endpoint ON performance_metrics (endpoint, timestamp DESC);
