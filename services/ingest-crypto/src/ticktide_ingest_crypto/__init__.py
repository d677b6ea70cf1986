"""ticktide_ingest_crypto."""
