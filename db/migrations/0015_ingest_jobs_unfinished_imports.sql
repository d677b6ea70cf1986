-- Archive imports not yet done nor failed, by series: the few rows that every
-- upload's bound (a user's unfinished imports, 429 beyond) and every import's
-- close (the series' other unfinished imports: the last one detects the gaps)
-- count. Without it both counts read all of ingest_jobs, which keeps every job
-- ever run (a seq scan per upload and per close that grows with the history).
-- A job leaves it when it is done or failed.
CREATE INDEX ingest_jobs_unfinished_imports ON ingest_jobs (symbol, interval_type)
    WHERE kind = 'archive-import' AND status NOT IN ('done', 'failed');
