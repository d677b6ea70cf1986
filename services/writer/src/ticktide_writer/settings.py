"""The writer's settings: PostgreSQL, the bus, the fault-injection setting, and
its own: port, prefetch and the group commit's bounds."""

from __future__ import annotations

from functools import lru_cache

from ticktide_common.faults import CommitFaultSettings
from ticktide_common.settings import BusSettings, DatabaseSettings

__all__ = ["WriterSettings", "get_settings"]


class WriterSettings(DatabaseSettings, BusSettings, CommitFaultSettings):
    """What the writer reads."""

    writer_port: int = 8102
    # A group of batches shares one transaction; it closes at this many candles or
    # after this wait, whichever comes first.
    writer_prefetch: int = 64
    writer_group_max_candles: int = 20000
    writer_group_max_wait_ms: float = 5.0


@lru_cache(maxsize=1)
def get_settings() -> WriterSettings:
    """The process-wide settings, read once."""
    return WriterSettings()
