-- requires-extension: timescaledb
-- The daily continuous aggregates become what the gateway reads: real-time
-- (materialized days plus the newest hours aggregated at query time) and holding
-- sums and counts, not means, so that the gateway derives each mean with the same
-- SQL from the aggregate as from the raw rows (plain PostgreSQL) and both print the
-- same digits. Sums are numeric (exact, whatever the order rows are summed in);
-- a float8 avg() depends on that order in its last digit. Both aggregates are
-- recreated (their columns change) and refreshed from the start of the data
-- (start_offset NULL), so history loaded after a day was materialized (backfills,
-- archive imports) is re-aggregated by the next policy run.

DROP MATERIALIZED VIEW IF EXISTS crypto_prices_daily;

CREATE MATERIALIZED VIEW crypto_prices_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT crypto_id,
       time_bucket(INTERVAL '1 day', datetime) AS bucket,
       first(open_price, datetime) AS open_price,
       max(high_price) AS high_price,
       min(low_price) AS low_price,
       last(close_price, datetime) AS close_price,
       sum(volume) AS volume,
       count(*) AS candles,
       bool_or(source = 'binance') AS from_binance,
       bool_or(source = 'binance-archive') AS from_binance_archive,
       bool_or(source = 'simulated') AS from_simulated
FROM crypto_prices
WHERE interval_type = '1h'
GROUP BY crypto_id, bucket
WITH NO DATA;

SELECT add_continuous_aggregate_policy('crypto_prices_daily',
    start_offset => NULL, end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour');

DROP MATERIALIZED VIEW IF EXISTS weather_historic_daily;

CREATE MATERIALIZED VIEW weather_historic_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT location,
       time_bucket(INTERVAL '1 day', datetime) AS bucket,
       min(temperature) AS temperature_min,
       max(temperature) AS temperature_max,
       sum(temperature::numeric) AS temperature_sum,
       count(temperature) AS temperature_n,
       sum(humidity::numeric) AS humidity_sum,
       count(humidity) AS humidity_n,
       sum(pressure::numeric) AS pressure_sum,
       count(pressure) AS pressure_n,
       sum(wind_speed::numeric) AS wind_speed_sum,
       count(wind_speed) AS wind_speed_n,
       count(*) AS hours,
       bool_or(source = 'open-meteo') AS from_open_meteo,
       bool_or(source = 'openweather') AS from_openweather,
       bool_or(source = 'simulated') AS from_simulated
FROM weather_historic
GROUP BY location, bucket
WITH NO DATA;

SELECT add_continuous_aggregate_policy('weather_historic_daily',
    start_offset => NULL, end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour');
