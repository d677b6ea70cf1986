"""JSON bodies of the crypto endpoints, built as bytes with orjson.

Pure: no I/O. (A prices answer is assembled from pieces: `price_pieces`.) The
buckets of an aggregates body arrive as JSON text built by PostgreSQL from the
stored numeric digits, so `repr` of each JSON number (as
float64) gives back the provider's decimal string; nothing here rounds. Times
are ISO-8601 UTC with a `Z`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ticktide_common.dates import iso_z
from ticktide_gateway.serialization import json_bytes, source_label

__all__ = ["symbols_body", "buckets_body"]


def symbols_body(rows: Sequence[Any]) -> bytes:
    """Rows are one per (symbol, stored interval), interval None when nothing is stored."""
    by_symbol: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_symbol.setdefault(
            row["binance_symbol"],
            {
                "symbol": row["binance_symbol"],
                "base": row["base"],
                "name": row["name"],
                "source": None,
                "intervals": {},
            },
        )
        if row["interval_type"] is None:
            continue
        sources = list(row["sources"] or [])
        entry["intervals"][row["interval_type"]] = {
            "candles": int(row["candles"]),
            "first": row["first"],
            "last": row["last"],
            "source": source_label(sources),
        }
    for entry in by_symbol.values():
        labels = (i["source"] for i in entry["intervals"].values() if i["source"])
        entry["source"] = source_label(part for label in labels for part in label.split("+"))
    return json_bytes({"symbols": list(by_symbol.values())})


def buckets_body(
    symbol: str,
    bucket: str,
    first: datetime,
    stop: datetime,
    candles_json: str,
    sources: Iterable[str],
) -> bytes:
    """The aggregates response around `candles_json` (bucket objects joined by
    commas, as PostgreSQL wrote them)."""
    head = json_bytes(
        {
            "symbol": symbol,
            "bucket": bucket,
            "start": iso_z(first),
            "end": iso_z(stop),
            "source": source_label(sources),
        }
    )
    return b"".join((head[:-1], b',"candles":[', candles_json.encode(), b"]}"))
