"""JSON bytes with orjson, as every pre-built body of the gateway writes them:
times ISO-8601 UTC with a `Z`, and the `source` label of a set of rows.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

__all__ = ["json_bytes", "iso_utc", "source_label", "splice"]

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def json_bytes(value: Any) -> bytes:
    """orjson with UTC times as `...Z`."""
    return orjson.dumps(value, option=_OPTIONS)


def iso_utc(value: datetime | None) -> str | None:
    return orjson.dumps(value, option=_OPTIONS)[1:-1].decode() if value is not None else None


def source_label(sources: Iterable[str]) -> str | None:
    """'binance', 'simulated', 'binance+simulated' when mixed, None when no rows."""
    distinct = sorted(set(sources))
    return "+".join(distinct) if distinct else None


def splice(head: dict[str, Any], field: str, array_json: str) -> bytes:
    """`head` with `field` set to the JSON array text `array_json`."""
    encoded = json_bytes(head)
    return b"".join((encoded[:-1], b',"', field.encode(), b'":', array_json.encode(), b"}"))
