"""Serve a body from the versioned response cache, or build it and store it after
the response is sent (the caller never waits for Redis)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from fastapi import Response
from starlette.background import BackgroundTask

from ticktide_gateway.cache import ResponseCache, SeriesKey, versioned_key

__all__ = ["JSON", "cached_json"]

JSON = "application/json"


async def cached_json(
    cache: ResponseCache,
    endpoint: str,
    series: Sequence[SeriesKey],
    parts: Sequence[datetime | int | str | None],
    build: Callable[[], Awaitable[bytes]],
) -> Response:
    """`X-Cache: hit` with the stored body of (endpoint, series at their current
    versions, parts); otherwise `build()`'s body, `X-Cache: miss`. A `build` that
    raises (404, 422) stores nothing. Redis away: built every time."""
    versions = await cache.versions(series)
    key = None
    if versions is not None:
        key = versioned_key(cache.prefix, endpoint, series, versions, *parts)
        cached = await cache.get_versioned(key)
        if cached is not None:
            return Response(cached, media_type=JSON, headers={"X-Cache": "hit"})
    body = await build()
    store = BackgroundTask(cache.put_versioned, series, key, body) if key is not None else None
    return Response(body, media_type=JSON, headers={"X-Cache": "miss"}, background=store)
