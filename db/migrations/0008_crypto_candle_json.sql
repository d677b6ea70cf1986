-- Each candle's JSON as the gateway serves it, stored with the row by the
-- writer in the same statement (see ticktide_common.candle_json):
-- {"t":"YYYY-MM-DDTHH:MM:SSZ","o":…,"h":…,"l":…,"c":…,"v":…}, every number
-- exactly numeric::text of the row's column. Serving a year of 1h candles then
-- only joins ready text instead of printing 5 numerics and a time per row.
-- Nullable: rows written otherwise (older rows, hand-made ones) have none and
-- the gateway renders the same text from the columns. A plain nullable column,
-- so it can be added to a compressed TimescaleDB hypertable as well.
ALTER TABLE crypto_prices ADD COLUMN IF NOT EXISTS candle_json text;
