"""ticktide_writer: persists candle batches from the bus into PostgreSQL in bulk
(grouped transactions, COPY into staging, upsert) and announces each stored batch."""
