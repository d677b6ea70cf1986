"""`/api/crypto/prices` read through pieces, against the real gateway, PostgreSQL,
Redis and RabbitMQ: a stored event makes only the pieces it touches stale, the
two shapes hold the same values, every coding decodes to the same bytes, and
windows with holes, paging and bad parameters answer as documented."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from redis.asyncio import Redis

from ticktide_common.bus import Bus
from ticktide_common.messages import CandlesStoredV1
from ticktide_common.settings import RedisSettings
from ticktide_common.testing.processes import wait_until
from ticktide_gateway.content_coding import decode

HOUR = timedelta(hours=1)
YEAR_START = datetime(2023, 1, 1, tzinfo=UTC)


def year_of_candles(start: datetime, hours: int, seed: int = 3) -> list[tuple]:  # type: ignore[type-arg]
    rng = random.Random(seed)
    rows = []
    for i in range(hours):
        price = f"{rng.uniform(100, 90000):.2f}000000"
        rows.append((start + i * HOUR, price, price, price, price, f"{rng.uniform(0, 99):.5f}000"))
    return rows


def year_params(symbol: str = "PIECEUSDT", **extra: str) -> dict[str, str]:
    return {
        "symbol": symbol,
        "interval": "1h",
        "start": "2023-01-01T00:00:00Z",
        "end": "2024-01-01T00:00:00Z",
        **extra,
    }


async def _piece_keys(redis: Redis, prefix: str) -> set[bytes]:
    return {k async for k in redis.scan_iter(match=f"{prefix}gateway:piece:PIECEUSDT:1h:*")}


async def test_a_stored_event_makes_only_its_pieces_stale(
    api: httpx.AsyncClient,
    db_pool,  # type: ignore[no-untyped-def]
    candle_store,
    redis_client: Redis,
    bus: Bus,
    settings: RedisSettings,
) -> None:
    prefix = settings.ticktide_redis_prefix
    await candle_store(db_pool, "PIECEUSDT", "1h", year_of_candles(YEAR_START, 365 * 24))
    first = await api.get("/api/crypto/prices", params=year_params())
    assert first.status_code == 200 and first.headers["x-cache"] == "miss"
    assert len(first.json()["candles"]) == 8760

    async def twelve_pieces() -> bool:
        return len(await _piece_keys(redis_client, prefix)) == 12

    await wait_until(twelve_pieces, timeout=10, what="the year's 12 pieces stored")
    before = await _piece_keys(redis_client, prefix)
    assert (await api.get("/api/crypto/prices", params=year_params())).headers["x-cache"] == "hit"

    # A candle of 2023-12-31 23:00 changes behind the cache; its stored event follows.
    changed = (datetime(2023, 12, 31, 23, tzinfo=UTC), *("7.00000000",) * 5)
    await candle_store(db_pool, "PIECEUSDT", "1h", [changed])
    await bus.publish(
        CandlesStoredV1(
            batch_id=uuid.uuid4(),
            symbol="PIECEUSDT",
            interval="1h",
            source="binance",
            first_t=changed[0],
            last_t=changed[0],
            candles=1,
            rows_changed=1,
        )
    )

    async def december_dropped() -> bool:
        return len(await _piece_keys(redis_client, prefix)) == 11

    await wait_until(december_dropped, timeout=10, what="only December's piece dropped")
    kept = await _piece_keys(redis_client, prefix)
    assert kept < before and all(b":2023-12:" not in key for key in kept)
    assert len(kept) == 11  # January to November keep their entries

    second = await api.get("/api/crypto/prices", params=year_params())
    assert second.headers["x-cache"] == "miss"
    assert second.json()["candles"][-1]["o"] == 7.0
    assert second.json()["candles"][:-1] == first.json()["candles"][:-1]
    await wait_until(twelve_pieces, timeout=10, what="December read again, alone")
    assert (await _piece_keys(redis_client, prefix)) - kept == {
        next(iter(before - kept)).replace(b":v0:", b":v1:")
    }

    # A one-day range inside a cached month is cut out of its piece.
    day = await api.get(
        "/api/crypto/prices",
        params=year_params(start="2023-06-10T00:00:00Z", end="2023-06-11T00:00:00Z"),
    )
    assert [c["t"] for c in day.json()["candles"]] == [
        f"2023-06-10T{h:02d}:00:00Z" for h in range(24)
    ]
    assert len(await _piece_keys(redis_client, prefix)) == 12  # no piece read again


async def test_columns_hold_the_default_shapes_values_in_every_coding(
    api: httpx.AsyncClient,
    db_pool,  # type: ignore[no-untyped-def]
    candle_store,
) -> None:
    await candle_store(db_pool, "COLSUSDT", "1h", year_of_candles(YEAR_START, 60 * 24, seed=9))
    await candle_store(
        db_pool,
        "COLSUSDT",
        "1h",
        year_of_candles(YEAR_START + 61 * 24 * HOUR, 24, seed=10),
        source="simulated",
    )
    params = year_params("COLSUSDT", start="2023-01-15T07:00:00Z", end="2023-03-05T00:00:00Z")
    rows = (await api.get("/api/crypto/prices", params=params)).json()
    columns = (await api.get("/api/crypto/prices", params={**params, "format": "columns"})).json()
    assert rows["source"] == columns["source"] == "binance+simulated"
    zipped = [
        {
            "t": datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **dict(zip("ohlcv", values, strict=True)),
        }
        for t, *values in zip(*(columns[k] for k in "tohlcv"), strict=True)
    ]
    assert zipped == rows["candles"] and len(zipped) == 45 * 24 + 17 + 24

    for shape in ("rows", "columns"):
        query = {**params, "format": shape}
        plain = await api.get("/api/crypto/prices", params=query)

        async def compressed_hit(query: dict[str, str] = query) -> bool:
            answer = await api.get(
                "/api/crypto/prices", params=query, headers={"accept-encoding": "gzip, br"}
            )
            return answer.headers.get("content-encoding") == "br"

        await wait_until(compressed_hit, timeout=10, what=f"{shape} stored compressed")
        for accepted, coding in (("gzip, br", "br"), ("gzip", "gzip"), (None, "identity")):
            request = api.build_request("GET", "/api/crypto/prices", params=query)
            del request.headers["accept-encoding"]  # httpx sends one by default
            if accepted:
                request.headers["accept-encoding"] = accepted
            answer = await api.send(request, stream=True)
            raw = b"".join([chunk async for chunk in answer.aiter_raw()])
            await answer.aclose()
            assert answer.headers.get("content-encoding", "identity") == coding
            assert answer.headers.get("vary") == "Accept-Encoding", (coding, dict(answer.headers))
            assert decode(raw, coding) == plain.content
            if coding != "identity":
                assert len(raw) < len(plain.content) // 2


async def test_latest_windows_with_holes_and_paging(
    api: httpx.AsyncClient,
    db_pool,  # type: ignore[no-untyped-def]
    candle_store,
) -> None:
    # Two runs of candles a year apart: the latest 30 before the end reach back
    # across the hole, further than 30 hours.
    old = year_of_candles(datetime(2022, 3, 1, tzinfo=UTC), 20, seed=1)
    new = year_of_candles(datetime(2023, 3, 1, tzinfo=UTC), 20, seed=2)
    await candle_store(db_pool, "HOLEUSDT", "1h", old + new)
    base = {"symbol": "HOLEUSDT", "interval": "1h", "limit": "30"}
    latest = (await api.get("/api/crypto/prices", params={**base, "end": "2024-01-01"})).json()
    times = [c["t"] for c in latest["candles"]]
    assert len(times) == 30 and times == sorted(times)
    assert times[0] == "2022-03-01T10:00:00Z" and times[-1] == "2023-03-01T19:00:00Z"

    page = (await api.get("/api/crypto/prices", params={**base, "before": times[0]})).json()
    assert [c["t"] for c in page["candles"]] == [f"2022-03-01T{h:02d}:00:00Z" for h in range(10)]
    everything = (await api.get("/api/crypto/prices", params={**base, "limit": "1000"})).json()
    assert len(everything["candles"]) == 40


async def test_bad_prices_parameters_are_refused(api: httpx.AsyncClient) -> None:
    answer = await api.get("/api/crypto/prices", params={"symbol": "BTCUSDT", "format": "csv"})
    assert answer.status_code == 422, answer.text
    assert "format" in answer.text


async def test_a_limit_over_millennia_answers_at_once(
    api: httpx.AsyncClient,
    db_pool,  # type: ignore[no-untyped-def]
    candle_store,
) -> None:
    # Two candles 20 years apart (240 months, more than a cached window holds),
    # asked for over millennia: the span is read without listing its pieces.
    far = [(datetime(2000, 1, 1, tzinfo=UTC), *("1.00000000",) * 5)]
    near = [(datetime(2020, 6, 1, tzinfo=UTC), *("2.00000000",) * 5)]
    await candle_store(db_pool, "FARUSDT", "1h", far + near)
    for params in (
        {"start": "0001-01-01T00:00:00Z", "end": "9999-01-01T00:00:00Z", "limit": "5"},
        {"end": "9999-12-31T23:59:59Z", "before": "9500-01-01T00:00:00Z", "limit": "5"},
        {"start": "2000-01-01T00:00:00Z", "end": "9999-12-31T23:59:59.999Z", "limit": "5"},
    ):
        answer = await api.get(
            "/api/crypto/prices", params={"symbol": "FARUSDT", "interval": "1h", **params}
        )
        assert answer.status_code == 200, answer.text
        assert [c["o"] for c in answer.json()["candles"]] == [1.0, 2.0]
