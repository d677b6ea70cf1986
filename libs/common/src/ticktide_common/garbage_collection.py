"""How every Ticktide process (each service, the CLI) tunes CPython's garbage
collector once its start-up is done.

The modules, schemas and routes imported at start-up live as long as the
process, so they are frozen out of the collector's scans; and the youngest
generation is collected less often. The hot paths allocate many short-lived
objects (a candle batch is a thousand models), and with CPython's defaults a
collection that walked every start-up object ran every few batches (about a
fifth of the writer's CPU in bench/ingest). Reference cycles are still
collected: only their collection is less frequent.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_GENERATION_THRESHOLD", "tune_garbage_collector"]

# Allocations between two collections of the youngest generation (CPython: 700).
YOUNG_GENERATION_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Freeze what start-up allocated; collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
