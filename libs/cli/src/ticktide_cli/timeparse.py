"""Parsing of the CLI's date arguments (pure)."""

from __future__ import annotations

from datetime import datetime

from ticktide_common.dates import to_utc

__all__ = ["parse_utc"]


def parse_utc(text: str) -> datetime:
    """`2024-01-01`, `2024-01-01T06:00`, `...Z` or with an offset → aware UTC datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO-8601 date or time (e.g. 2024-01-31)") from exc
    return to_utc(parsed)  # ValueError outside the years 1-9999 in UTC
