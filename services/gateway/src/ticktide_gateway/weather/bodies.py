"""JSON bodies of the weather endpoints, built as bytes.

Pure: no I/O. Observations arrive as JSON text written by PostgreSQL from the
stored values and are spliced in unparsed; nothing here rounds. `source` follows
crypto prices: the sources of the rows shown, "+"-joined; null when there are no
rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from ticktide_gateway.serialization import json_bytes, source_label, splice

__all__ = ["current_weather_body", "historic_weather_body"]


def current_weather_body(location: str, observation_json: str, source: str) -> bytes:
    encoded = json_bytes({"location": location, "source": source})
    return b"".join((encoded[:-1], b',"observation":', observation_json.encode(), b"}"))


def historic_weather_body(
    location: str,
    start: str,
    end: str,
    aggregate: str | None,
    rows_json: str,
    sources: Iterable[str],
) -> bytes:
    head = {
        "location": location,
        "source": source_label(sources),
        "start": start,
        "end": end,
        "aggregate": aggregate,
    }
    return splice(head, "days" if aggregate == "daily" else "observations", rows_json)
