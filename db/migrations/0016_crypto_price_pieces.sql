-- Crypto price pieces kept rendered in PostgreSQL: every stored candle of one
-- calendar month (1h) or one calendar year (4h, 1d) of one series, in the
-- gateway's piece encoding (ticktide_gateway.crypto.price_pieces.Piece), one
-- body per answer shape. The gateway reads a rendered piece with one indexed
-- lookup instead of aggregating its ~720 rows, renders the others and writes
-- them back; the writer, in the transaction that stores candles, increments
-- the version of every piece they fall in and clears its bodies (NULL: "not
-- rendered since its candles last changed"). A write-back lands only on the
-- version it was rendered at (see the gateway's crypto/price_reader.py).
-- A plain table on both legs (not a hypertable): one row per piece.

-- The start of the piece holding t: the boundary contract between the writer
-- and the gateway (price_pieces.piece_of; a gateway test compares the two).
-- Calendar arithmetic on UTC wall time, whatever the session's TimeZone.
CREATE FUNCTION crypto_piece_start(interval_type text, t timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT date_trunc(CASE interval_type WHEN '1h' THEN 'month' ELSE 'year' END,
                      t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;

-- The starts of the pieces holding any time of [first_t, last_t], oldest first
-- (price_pieces.pieces_covering of the same span, last_t inclusive).
CREATE FUNCTION crypto_pieces_between(interval_type text, first_t timestamptz,
                                      last_t timestamptz)
RETURNS SETOF timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT local_start AT TIME ZONE 'UTC'
    FROM generate_series(crypto_piece_start(interval_type, first_t) AT TIME ZONE 'UTC',
                         last_t AT TIME ZONE 'UTC',
                         CASE interval_type WHEN '1h' THEN INTERVAL '1 month'
                                            ELSE INTERVAL '1 year' END) AS local_start
$$;

CREATE TABLE crypto_price_pieces (
    crypto_id      integer NOT NULL REFERENCES cryptocurrencies (id),
    interval_type  text NOT NULL,
    piece_start    timestamptz NOT NULL,           -- crypto_piece_start of its candles
    version        bigint NOT NULL DEFAULT 1,      -- +1 per write that touches it
    rows_piece     bytea,                          -- NULL: not rendered at this version
    columns_piece  bytea,
    PRIMARY KEY (crypto_id, interval_type, piece_start)
);

-- Out of line but uncompressed: a piece is ~90 KB of JSON text that pglz would
-- shrink a little and cost more to inflate on every read than it saves.
ALTER TABLE crypto_price_pieces
    ALTER COLUMN rows_piece SET STORAGE EXTERNAL,
    ALTER COLUMN columns_piece SET STORAGE EXTERNAL;
