"""The bound on a user's archive imports not yet stored, as the upload route
applies it: at MAX_UNFINISHED_IMPORTS the import is refused with 429 and no job
is created; the same user's next uploads are checked before their body is read
while the bound is still reached, and pass again once imports finish."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from fastapi import HTTPException

from ticktide_common.import_jobs import MAX_UNFINISHED_IMPORTS, unfinished_imports
from ticktide_common.messages import CandleV1
from ticktide_common.testing.ingest import finished_job
from ticktide_ingest_crypto import archive_upload
from ticktide_ingest_crypto.archive import ArchiveContents

pytestmark = pytest.mark.integration

START = datetime(2021, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _day(symbol: str) -> ArchiveContents:
    candles = [
        CandleV1(t=START + h * HOUR, o="1.5", h="2", l="1", c="1.25", v="10") for h in range(24)
    ]
    return ArchiveContents(symbol, "1h", candles, START, START + 24 * HOUR, checksum_verified=False)


async def _fill(pool: asyncpg.Pool, user: str, symbol: str, count: int) -> list[uuid.UUID]:
    """`count` imports of `user` waiting for their one batch."""
    rows = await pool.fetch(
        """INSERT INTO ingest_jobs (id, kind, domain, symbol, interval_type, range_start,
                                    range_end, requested_by, status, batches_expected,
                                    candles_expected, source)
           SELECT gen_random_uuid(), 'archive-import', 'crypto', $2, '1h', $3, $3, $1,
                  'fetched', 1, 24, 'binance-archive'
           FROM generate_series(1, $4)
           RETURNING id""",
        user,
        symbol,
        START,
        count,
    )
    return [row["id"] for row in rows]


async def _jobs_of(pool: asyncpg.Pool, user: str) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM ingest_jobs WHERE requested_by = $1", user)
    )


async def test_the_bound_refuses_with_429_then_checks_before_the_body(
    pipeline, db_pool: asyncpg.Pool, symbol: str
) -> None:
    user = f"bound-{uuid.uuid4().hex[:8]}"
    waiting = await _fill(db_pool, user, symbol, MAX_UNFINISHED_IMPORTS)
    try:
        await archive_upload._check_bound_after_refusal(db_pool, user)  # never refused: no count

        with pytest.raises(HTTPException) as refused:
            await archive_upload.import_archive(db_pool, pipeline.bus, _day(symbol), user)
        assert refused.value.status_code == 429
        assert await _jobs_of(db_pool, user) == MAX_UNFINISHED_IMPORTS  # nothing created
        # Refused just now and still at the bound: the next upload stops before its body.
        with pytest.raises(HTTPException) as again:
            await archive_upload._check_bound_after_refusal(db_pool, user)
        assert again.value.status_code == 429

        await db_pool.execute("UPDATE ingest_jobs SET status = 'done' WHERE id = $1", waiting[0])
        assert await unfinished_imports(db_pool, user) == MAX_UNFINISHED_IMPORTS - 1
        await archive_upload._check_bound_after_refusal(db_pool, user)
        assert user not in archive_upload._refused_at
        answer = await archive_upload.import_archive(db_pool, pipeline.bus, _day(symbol), user)
        assert (await finished_job(db_pool, uuid.UUID(answer["job_id"]))).status == "done"
    finally:  # the sweep takes fetched jobs oldest first: leave none of these behind
        await db_pool.execute("DELETE FROM ingest_jobs WHERE id = ANY($1::uuid[])", waiting)
