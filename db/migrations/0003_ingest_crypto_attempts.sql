-- ingest-crypto: how often a job's fetch failed, so that a backfill whose
-- upstream keeps failing is marked 'failed' instead of retried forever.
ALTER TABLE ingest_jobs ADD COLUMN fetch_attempts integer NOT NULL DEFAULT 0;

-- Open gaps due for a refill attempt are looked up by status.
CREATE INDEX crypto_gaps_open ON crypto_gaps (status, last_attempt_at) WHERE status = 'open';
