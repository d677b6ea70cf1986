-- Stocks (NASDAQ and Nasdaq Helsinki) and weather (current and hourly history),
-- as the seed had them plus a `source` column; plain PostgreSQL. 0007 adds the
-- TimescaleDB features where the extension exists. Ingest jobs gain a domain so
-- that each ingester finalizes only its own.

ALTER TABLE ingest_jobs ADD COLUMN domain text NOT NULL DEFAULT 'crypto'
    CHECK (domain IN ('crypto', 'stocks', 'weather'));
CREATE INDEX ingest_jobs_domain_status ON ingest_jobs (domain, status);

CREATE TABLE stocks (
    id               serial PRIMARY KEY,
    symbol           text NOT NULL UNIQUE,          -- ours: AAPL, NOKIA, NDA-FI
    name             text NOT NULL,
    exchange         text NOT NULL CHECK (exchange IN ('NASDAQ', 'OMXH')),
    currency         text NOT NULL,
    provider_symbol  text NOT NULL,                 -- the provider's: AAPL, NOKIA, 'NDA FI'
    orderbook_id     text,                          -- Nasdaq Nordic instrument id, once resolved
    is_active        boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now()
);

INSERT INTO stocks (symbol, name, exchange, currency, provider_symbol) VALUES
    ('AAPL', 'Apple Inc.', 'NASDAQ', 'USD', 'AAPL'),
    ('MSFT', 'Microsoft Corporation', 'NASDAQ', 'USD', 'MSFT'),
    ('NVDA', 'NVIDIA Corporation', 'NASDAQ', 'USD', 'NVDA'),
    ('GOOGL', 'Alphabet Inc. Class A', 'NASDAQ', 'USD', 'GOOGL'),
    ('AMZN', 'Amazon.com, Inc.', 'NASDAQ', 'USD', 'AMZN'),
    ('NOKIA', 'Nokia Oyj', 'OMXH', 'EUR', 'NOKIA'),
    ('NDA-FI', 'Nordea Bank Abp', 'OMXH', 'EUR', 'NDA FI'),
    ('KNEBV', 'KONE Oyj', 'OMXH', 'EUR', 'KNEBV'),
    ('SAMPO', 'Sampo Oyj', 'OMXH', 'EUR', 'SAMPO'),
    ('UPM', 'UPM-Kymmene Oyj', 'OMXH', 'EUR', 'UPM');

-- One row per trading day; `datetime` is the session's date at 00:00 UTC.
-- open_price is NULL where the exchange publishes no open (Nasdaq Nordic).
CREATE TABLE stock_prices (
    stock_id       integer NOT NULL REFERENCES stocks (id),
    datetime       timestamptz NOT NULL,
    open_price     numeric,
    high_price     numeric NOT NULL,
    low_price      numeric NOT NULL,
    close_price    numeric NOT NULL,
    volume         numeric NOT NULL,
    average_price  numeric,
    turnover       numeric,
    source         text NOT NULL CHECK (source IN ('nasdaq', 'nasdaq-nordic', 'simulated')),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX stock_prices_series_time ON stock_prices (stock_id, datetime DESC);
CREATE INDEX stock_prices_datetime ON stock_prices (datetime);

-- Configured locations; ingest-weather upserts its configuration at start.
CREATE TABLE weather_locations (
    name        text PRIMARY KEY,
    latitude    double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO weather_locations (name, latitude, longitude) VALUES
    ('Helsinki', 60.1699, 24.9384),
    ('New York', 40.7128, -74.0060),
    ('London', 51.5074, -0.1278),
    ('Tokyo', 35.6762, 139.6503);

-- Units: °C, %, hPa, m/s. `weather_data` is the provider's payload for the row.
CREATE TABLE weather_current (
    id            bigserial PRIMARY KEY,
    location      text NOT NULL,
    datetime      timestamptz NOT NULL,             -- the provider's observation time
    temperature   double precision,
    humidity      double precision,
    pressure      double precision,
    wind_speed    double precision,
    description   text,
    source        text NOT NULL CHECK (source IN ('open-meteo', 'openweather', 'simulated')),
    weather_data  jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (location, datetime)
);
CREATE INDEX weather_current_location_time ON weather_current (location, datetime DESC);

CREATE TABLE weather_historic (
    location      text NOT NULL,
    datetime      timestamptz NOT NULL,             -- the hour's start
    temperature   double precision,
    humidity      double precision,
    pressure      double precision,
    wind_speed    double precision,
    description   text,
    source        text NOT NULL CHECK (source IN ('open-meteo', 'openweather', 'simulated')),
    weather_data  jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX weather_historic_location_time ON weather_historic (location, datetime DESC);
CREATE INDEX weather_historic_datetime ON weather_historic (datetime);

-- Missing trading sessions of a stock: days the exchange was open (per its
-- calendar: weekends and holidays are not gaps) with no stored row.
CREATE TABLE stock_gaps (
    id               bigserial PRIMARY KEY,
    stock_id         integer NOT NULL REFERENCES stocks (id),
    gap_start        date NOT NULL,                  -- first missing session
    gap_end          date NOT NULL,                  -- last missing session (inclusive)
    sessions         integer NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'refilled')),
    refill_attempts  integer NOT NULL DEFAULT 0,
    detected_at      timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    refilled_at      timestamptz,
    UNIQUE (stock_id, gap_start)
);
