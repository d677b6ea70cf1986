"""Cached prices answered before the framework (`cached_answers`), against the real
gateway, PostgreSQL and Redis: the hit is the route's answer byte for byte, in
every coding; it is measured under the route's template; and a cached answer
is never a way around the credential check or the query's validation: a
revoked token, a disabled user, no credential, a bad query all get the route's
error while the same answer sits in the cache."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from ticktide_common.testing.processes import ServiceProcess, wait_until
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_gateway.content_coding import decode

T0 = datetime(2021, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _symbol() -> str:
    return f"LANE{uuid.uuid4().hex[:6].upper()}USDT"


async def _stored_series(db_pool: asyncpg.Pool, candle_store, symbol: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    price = "10.50000000"
    await candle_store(
        db_pool,
        symbol,
        "1h",
        [(T0 + i * HOUR, price, price, price, price, "2.00000000") for i in range(24 * 40)],
    )
    return {
        "symbol": symbol,
        "interval": "1h",
        "start": T0.isoformat(),
        "end": (T0 + 40 * 24 * HOUR).isoformat(),
    }


async def _get(
    client: httpx.AsyncClient, params: dict[str, str], accept: str | None
) -> tuple[httpx.Response, bytes]:
    request = client.build_request("GET", "/api/crypto/prices", params=params)
    if accept is None:
        del request.headers["accept-encoding"]
    else:
        request.headers["accept-encoding"] = accept
    response = await client.send(request, stream=True)
    try:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return response, raw


async def _until_hit_in(client: httpx.AsyncClient, params: dict[str, str], coding: str) -> None:
    async def coded_hit() -> bool:
        response, _ = await _get(client, params, "gzip, br")
        return (
            response.headers["x-cache"] == "hit"
            and response.headers.get("content-encoding", "identity") == coding
        )

    await wait_until(coded_hit, timeout=10, interval=0.05, what=f"a {coding} hit")


async def test_a_hit_is_the_routes_answer_and_is_measured_under_its_route(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, candle_store
) -> None:  # type: ignore[no-untyped-def]
    params = await _stored_series(db_pool, candle_store, _symbol())
    miss, identity = await _get(api, params, "gzip, br")
    assert miss.status_code == 200 and miss.headers["x-cache"] == "miss"
    await _until_hit_in(api, params, "br")
    since = datetime.now(UTC)
    hits = 0
    for accept, coding in (("gzip, br", "br"), ("gzip", "gzip"), (None, "identity")):
        for shape in ("rows", "columns"):
            response, raw = await _get(api, {**params, "format": shape}, accept)
            assert response.status_code == 200
            if shape == "rows":
                assert response.headers["x-cache"] == "hit"
                assert response.headers.get("content-encoding", "identity") == coding
                assert response.headers["vary"] == "Accept-Encoding"
                assert int(response.headers["content-length"]) == len(raw)
                assert decode(raw, coding) == identity
                hits += 1
    # Every request, hit or miss, is in the metrics under the route's template.
    query = """SELECT count(*) FROM performance_metrics
               WHERE endpoint = '/api/crypto/prices' AND status_code = 200 AND timestamp >= $1"""

    async def recorded() -> bool:
        return int(await db_pool.fetchval(query, since)) >= 6

    await wait_until(recorded, timeout=10, what="the hits in performance_metrics")
    assert hits == 3


async def test_a_cached_answer_never_passes_a_refused_credential_or_a_bad_query(
    gateway: ServiceProcess, db_pool: asyncpg.Pool, candle_store
) -> None:  # type: ignore[no-untyped-def]
    params = await _stored_series(db_pool, candle_store, _symbol())
    user_id, _ = await create_test_user(db_pool, role="user")
    token = await create_test_token(db_pool, user_id)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10.0) as client:
        client.headers.update(bearer(token))
        assert (await _get(client, params, "gzip, br"))[0].status_code == 200
        await _until_hit_in(client, params, "br")

        for bad in ({"limit": "0"}, {"interval": "2h"}, {"end": "not-a-time"}):
            response, raw = await _get(client, {**params, **bad}, "gzip, br")
            assert response.status_code == 422, (bad, raw[:200])
            assert "x-cache" not in response.headers

        anonymous = httpx.AsyncClient(base_url=gateway.url, timeout=10.0)
        async with anonymous:
            response, _ = await _get(anonymous, params, "gzip, br")
            assert response.status_code == 401
        client.headers.update(bearer("ttk_" + "x" * 43))
        assert (await _get(client, params, "gzip, br"))[0].status_code == 401

        client.headers.update(bearer(token))
        await db_pool.execute("UPDATE users SET is_active = false WHERE id = $1", user_id)
        response, _ = await _get(client, params, "gzip, br")
        assert response.status_code == 401 and "x-cache" not in response.headers
        await db_pool.execute("UPDATE users SET is_active = true WHERE id = $1", user_id)
        assert (await _get(client, params, "gzip, br"))[0].headers["x-cache"] == "hit"
        await db_pool.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1", user_id
        )
        assert (await _get(client, params, "gzip, br"))[0].status_code == 401
