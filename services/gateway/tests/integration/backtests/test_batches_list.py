"""`GET /api/crypto/backtest/batches` against the real gateway and PostgreSQL:
keyset pages that return every batch of the caller exactly once, newest first
(ties on created_at broken by id), job progress counts, nobody else's batches,
and 422 for a bad cursor or limit."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from ticktide_common.testing.processes import ServiceProcess
from ticktide_common.testing.users import bearer, create_test_token, create_test_user

pytestmark = pytest.mark.integration

BATCHES = "/api/crypto/backtest/batches"
T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


async def _client(gateway: ServiceProcess, db_pool: asyncpg.Pool) -> tuple[int, httpx.AsyncClient]:
    user_id, _ = await create_test_user(db_pool)
    token = await create_test_token(db_pool, user_id)
    return user_id, httpx.AsyncClient(base_url=gateway.url, timeout=10.0, headers=bearer(token))


@pytest.fixture
async def owner(
    gateway: ServiceProcess, db_pool: asyncpg.Pool
) -> AsyncIterator[tuple[int, httpx.AsyncClient]]:
    user_id, client = await _client(gateway, db_pool)
    async with client:
        yield user_id, client


async def insert_batch(
    pool: asyncpg.Pool,
    user_id: int,
    created_at: datetime,
    *,
    batch_id: uuid.UUID | None = None,
    status: str = "queued",
    jobs: int = 4,
    finished: tuple[int, int, int] = (0, 0, 0),  # done, failed, skipped
    symbols: tuple[str, ...] = ("BTCUSDT",),
    intervals: tuple[str, ...] = ("1h",),
) -> uuid.UUID:
    batch_id = batch_id or uuid.uuid4()
    request = {"symbols": list(symbols), "intervals": list(intervals), "strategy": "sma_cross"}
    await pool.execute(
        """INSERT INTO backtests (id, user_id, request, strategy, status, total_jobs,
                                  total_backtests, created_at)
           VALUES ($1, $2, $3::jsonb, 'sma_cross', $4, $5, $6, $7)""",
        batch_id,
        user_id,
        json.dumps(request),
        status,
        jobs,
        jobs * 10,
        created_at,
    )
    statuses = ["done"] * finished[0] + ["failed"] * finished[1] + ["skipped"] * finished[2]
    await pool.executemany(
        "INSERT INTO backtest_jobs (batch_id, job_id, status) VALUES ($1, $2, $3)",
        [(batch_id, job_id, status) for job_id, status in enumerate(statuses)],
    )
    return batch_id


async def test_three_pages_return_every_batch_once_newest_first(
    owner: tuple[int, httpx.AsyncClient], gateway: ServiceProcess, db_pool: asyncpg.Pool
) -> None:
    user_id, client = owner
    # Seven batches, two pairs of them created at the same instant (id decides).
    times = [T0 + timedelta(minutes=m) for m in (0, 1, 1, 2, 3, 3, 4)]
    ids = [await insert_batch(db_pool, user_id, t) for t in times]
    expected = [str(i) for _, i in sorted(zip(times, ids, strict=True), reverse=True)]

    other_id, other = await _client(gateway, db_pool)
    async with other:
        foreign = await insert_batch(db_pool, other_id, T0 + timedelta(minutes=2))
        other_page = (await other.get(BATCHES)).json()
    assert [b["batch_id"] for b in other_page["batches"]] == [str(foreign)]
    assert other_page["next"] is None

    pages, before = [], None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if before is not None:
            params["before"] = before
        answer = await client.get(BATCHES, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append([b["batch_id"] for b in page["batches"]])
        before = page["next"]
        if before is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == expected
    assert str(foreign) not in {i for p in pages for i in p}

    # A page exactly as long as what is left has no next page.
    whole = (await client.get(BATCHES, params={"limit": 7})).json()
    assert [b["batch_id"] for b in whole["batches"]] == expected
    assert whole["next"] is None
    # The default limit (20) takes them all too.
    assert [b["batch_id"] for b in (await client.get(BATCHES)).json()["batches"]] == expected


async def test_items_carry_status_progress_and_the_stored_request(
    owner: tuple[int, httpx.AsyncClient], db_pool: asyncpg.Pool
) -> None:
    user_id, client = owner
    running = await insert_batch(
        db_pool,
        user_id,
        T0,
        jobs=6,
        finished=(2, 1, 0),
        symbols=("BTCUSDT", "ETHUSDT"),
        intervals=("1h", "4h"),
    )
    cancelled = await insert_batch(
        db_pool, user_id, T0 + timedelta(hours=1), status="cancelled", jobs=3, finished=(1, 0, 2)
    )
    body = (await client.get(BATCHES)).json()
    by_id = {b["batch_id"]: b for b in body["batches"]}
    assert by_id[str(running)] == {
        "batch_id": str(running),
        "created_at": "2024-03-01T12:00:00.123456Z",
        "finished_at": None,
        "status": "queued",
        "strategy": "sma_cross",
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "intervals": ["1h", "4h"],
        "jobs": 6,
        "done": 3,
        "failed": 1,
        "skipped": 0,
        "backtests": 60,
    }
    assert {
        k: by_id[str(cancelled)][k] for k in ("status", "jobs", "done", "failed", "skipped")
    } == {
        "status": "cancelled",
        "jobs": 3,
        "done": 3,
        "failed": 0,
        "skipped": 2,
    }
    assert [b["batch_id"] for b in body["batches"]] == [str(cancelled), str(running)]


async def test_a_cursor_keeps_microseconds_and_ids(
    owner: tuple[int, httpx.AsyncClient], db_pool: asyncpg.Pool
) -> None:
    """Batches a microsecond apart and batches at the same microsecond all page
    apart correctly: the cursor loses nothing of (created_at, id)."""
    user_id, client = owner
    low, high = uuid.UUID(int=1), uuid.UUID(int=2)
    first = await insert_batch(db_pool, user_id, T0 + timedelta(microseconds=1))
    same_high = await insert_batch(db_pool, user_id, T0, batch_id=high)
    same_low = await insert_batch(db_pool, user_id, T0, batch_id=low)
    seen = []
    page = (await client.get(BATCHES, params={"limit": 1})).json()
    while True:
        seen += [b["batch_id"] for b in page["batches"]]
        if page["next"] is None:
            break
        page = (await client.get(BATCHES, params={"limit": 1, "before": page["next"]})).json()
    assert seen == [str(first), str(same_high), str(same_low)]


async def test_no_batches_is_an_empty_last_page(owner: tuple[int, httpx.AsyncClient]) -> None:
    _, client = owner
    answer = await client.get(BATCHES)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"batches": [], "next": None}


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"before": "not-a-cursor"}, "query parameter 'before': not a cursor of this list"),
        ({"before": "YjE6MTIzOnh5eg"}, "not a cursor of this list"),  # b1:123:xyz
        ({"before": "%%%"}, "not a cursor of this list"),
        ({"before": ""}, "not a cursor of this list"),
        ({"before": "A" * 201}, "query parameter 'before'"),
        ({"limit": 0}, "query parameter 'limit'"),
        ({"limit": 101}, "query parameter 'limit'"),
        ({"limit": "many"}, "query parameter 'limit'"),
    ],
)
async def test_bad_cursor_or_limit_is_422_saying_what(
    user_api: httpx.AsyncClient, params: dict[str, object], says: str
) -> None:
    answer = await user_api.get(BATCHES, params=params)
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["detail"], answer.text


async def test_anonymous_is_401_and_the_list_is_in_the_openapi_document(
    anonymous_api: httpx.AsyncClient, user_api: httpx.AsyncClient
) -> None:
    assert (await anonymous_api.get(BATCHES, params={"before": "junk"})).status_code == 401
    document = (await user_api.get("/api/openapi.json")).json()
    operation = document["paths"][BATCHES]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/BatchPage"}
    item = document["components"]["schemas"]["BatchItem"]["properties"]
    assert {"batch_id", "created_at", "status", "strategy", "jobs", "done"} <= set(item)
