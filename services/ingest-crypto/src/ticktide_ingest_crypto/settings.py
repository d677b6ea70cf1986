"""The settings ingest-crypto reads: every ingester's (`IngesterSettings`: database,
bus, the catalogue, history bounds, upstream HTTP) and Binance's own fields."""

from __future__ import annotations

from functools import lru_cache

from ticktide_common.ingest_service import IngesterSettings

__all__ = ["IngestCryptoSettings", "get_settings"]


class IngestCryptoSettings(IngesterSettings):
    """ingest-crypto: where it listens, Binance, the scheduler, gaps and jobs."""

    ingest_crypto_port: int = 8101
    binance_base_url: str = "https://api.binance.com"

    # Crypto ingestion.
    crypto_history_days: int = 90
    crypto_schedule_seconds: float = 300.0
    crypto_scheduler_enabled: bool = True
    binance_weight_limit_1m: int = 6000
    binance_weight_headroom: float = 0.8
    binance_timeout_seconds: float = 10.0
    binance_max_attempts: int = 5  # per request, for 5xx and connection errors
    binance_backoff_seconds: float = 0.5  # first wait of the exponential backoff
    binance_max_rate_limit_waits: int = 10  # 429/418 answers honoured per request
    crypto_gap_retry_seconds: float = 3600.0  # an open gap is retried at most this often
    crypto_gap_max_refill_attempts: int = 5
    crypto_fetch_max_attempts: int = 3  # a backfill failing this often is marked failed
    crypto_finalize_sweep_seconds: float = 5.0
    crypto_finalize_stale_seconds: float = 300.0  # a 'finalizing' claim older than this is retaken


@lru_cache(maxsize=1)
def get_settings() -> IngestCryptoSettings:
    """The process-wide settings, read once."""
    return IngestCryptoSettings()
