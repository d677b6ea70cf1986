-- requires-extension: timescaledb
-- Hypertables and compression for the daily stock prices and the hourly weather
-- history, and a daily weather aggregate. Skipped (and retried on a later run)
-- where the extension is not installed; 0006's tables work without it.

CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('stock_prices', 'datetime',
                         chunk_time_interval => INTERVAL '365 days',
                         migrate_data => true, if_not_exists => true);
ALTER TABLE stock_prices SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'stock_id',
    timescaledb.compress_orderby = 'datetime DESC'
);
SELECT add_compression_policy('stock_prices', INTERVAL '180 days', if_not_exists => true);

SELECT create_hypertable('weather_historic', 'datetime',
                         chunk_time_interval => INTERVAL '30 days',
                         migrate_data => true, if_not_exists => true);
ALTER TABLE weather_historic SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'location',
    timescaledb.compress_orderby = 'datetime DESC'
);
SELECT add_compression_policy('weather_historic', INTERVAL '60 days', if_not_exists => true);

CREATE MATERIALIZED VIEW weather_historic_daily
WITH (timescaledb.continuous) AS
SELECT location,
       time_bucket(INTERVAL '1 day', datetime) AS bucket,
       min(temperature) AS temperature_min,
       avg(temperature) AS temperature_mean,
       max(temperature) AS temperature_max,
       count(*) AS hours
FROM weather_historic
GROUP BY location, bucket
WITH NO DATA;

SELECT add_continuous_aggregate_policy('weather_historic_daily',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour');
