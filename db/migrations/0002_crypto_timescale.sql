-- requires-extension: timescaledb
-- Hypertable, compression of chunks older than 30 days, and hourly→daily
-- continuous aggregates. Skipped (and retried on a later run) where the
-- extension is not installed; the tables of 0001 work without it.

CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('crypto_prices', 'datetime',
                         chunk_time_interval => INTERVAL '30 days',
                         migrate_data => true, if_not_exists => true);

ALTER TABLE crypto_prices SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'crypto_id, interval_type',
    timescaledb.compress_orderby = 'datetime DESC'
);
SELECT add_compression_policy('crypto_prices', INTERVAL '30 days', if_not_exists => true);

CREATE MATERIALIZED VIEW crypto_prices_daily
WITH (timescaledb.continuous) AS
SELECT crypto_id,
       time_bucket(INTERVAL '1 day', datetime) AS bucket,
       first(open_price, datetime) AS open_price,
       max(high_price) AS high_price,
       min(low_price) AS low_price,
       last(close_price, datetime) AS close_price,
       sum(volume) AS volume,
       count(*) AS candles
FROM crypto_prices
WHERE interval_type = '1h'
GROUP BY crypto_id, bucket
WITH NO DATA;

SELECT add_continuous_aggregate_policy('crypto_prices_daily',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour');
