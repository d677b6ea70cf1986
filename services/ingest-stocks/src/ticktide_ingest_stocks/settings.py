"""The settings ingest-stocks reads: every ingester's (`IngesterSettings`: database,
bus, the catalogue, history bounds, upstream HTTP) and the Nasdaq providers' fields."""

from __future__ import annotations

from functools import lru_cache

from ticktide_common.ingest_service import IngesterSettings

__all__ = ["IngestStocksSettings", "get_settings"]


class IngestStocksSettings(IngesterSettings):
    """ingest-stocks: where it listens, NASDAQ and Nasdaq Nordic, the scheduler."""

    ingest_stocks_port: int = 8104
    nasdaq_base_url: str = "https://api.nasdaq.com"
    nasdaq_nordic_base_url: str = "https://api.nasdaq.com"

    stocks_history_days: int = 365  # what the first scheduled run loads
    stocks_scheduler_enabled: bool = True
    stocks_schedule_seconds: float = 900.0  # how often the scheduler looks for a closed session


@lru_cache(maxsize=1)
def get_settings() -> IngestStocksSettings:
    """The process-wide settings, read once."""
    return IngestStocksSettings()
