"""The writer's Prometheus metrics (served on `/metrics` by the health router)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "BATCHES",
    "CANDLES_STORED",
    "ROWS_CHANGED",
    "COMMIT_SECONDS",
    "GROUP_BATCHES",
    "SERIES_BATCHES",
    "SERIES_ROWS_CHANGED",
]

BATCHES = Counter(
    "ticktide_writer_batches_total",
    "Candle batches handled, by outcome (stored, duplicate, failed).",
    ["outcome"],
)
CANDLES_STORED = Counter(
    "ticktide_writer_candles_stored_total",
    "Candles of newly stored batches (committed).",
)
ROWS_CHANGED = Counter(
    "ticktide_writer_rows_changed_total",
    "crypto_prices rows inserted or updated.",
)
COMMIT_SECONDS = Histogram(
    "ticktide_writer_commit_seconds",
    "Time of one write transaction, from claim to commit.",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
GROUP_BATCHES = Histogram(
    "ticktide_writer_group_batches",
    "Batches written together in one transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
SERIES_BATCHES = Counter(
    "ticktide_writer_series_batches_total",
    "Stock and weather batches handled, by domain and outcome (stored, duplicate, failed).",
    ["domain", "outcome"],
)
SERIES_ROWS_CHANGED = Counter(
    "ticktide_writer_series_rows_changed_total",
    "stock_prices / weather_current / weather_historic rows inserted or updated.",
    ["domain"],
)
