"""Admin-only operations on the data: backfills of each source, ingest jobs and the
quality reports of crypto series and stocks (routes, schemas)."""
