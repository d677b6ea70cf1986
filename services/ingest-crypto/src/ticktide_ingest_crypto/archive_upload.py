"""The internal archive-import routes: `POST /internal/archive?filename=NAME
&requested_by=USER[&sha256=HEX]` with one Binance kline zip as the body, and
`POST /internal/archive/bundle?requested_by=USER` with a bundle of them
(archive_bundle.py: many files in one request, one job per series). The
gateway's admin endpoint (`POST /api/admin/ingest/crypto/archive`) streams the
upload here after checking the caller. This route parses the zip off the event
loop (size caps against zip bombs, the file name's symbol and interval checked,
every row checked), creates the `archive-import` job unless the caller has
MAX_UNFINISHED_IMPORTS imports not yet stored (one statement: the bound and the
insert, already `fetched` with its counts, known before publishing; 429 when
refused), publishes its candle batches with confirms (a failure marks the job
failed), and answers 202 with the job: from then on the batches are the
broker's and the writer's, and the ingester closes the job once they are stored.

After a 429, the caller's next uploads within `_RECHECK_SECONDS` check the
bound before their body is read (one count, as every upload once did), so a
client retrying against a full bound costs no parse per retry; the first upload
past the bound is refused after its parse (an archive that does not parse is
422 then, not 429).

A bundle is all or nothing: the first bad member makes it a 422 that names
the member (the CLI then sends that bundle's files one by one, for a verdict
per file). Its series (one, as the CLI packs them) each become one job whose
candles are published in batches of up to ARCHIVE_BATCH_SIZE. A bundle of up to
INLINE_BUNDLE_ARCHIVES archives is read on the event loop (a few tens of
milliseconds), a larger one in a worker thread."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from ticktide_common.body_limit import BodyTooLarge, read_bounded_body
from ticktide_common.bus import Bus
from ticktide_common.errors import PublishError
from ticktide_common.import_jobs import (
    MAX_UNFINISHED_IMPORTS,
    create_import_job,
    unfinished_imports,
)
from ticktide_common.jobs import batch_id_for, mark_job_failed
from ticktide_common.logging import get_logger
from ticktide_common.messages import CandleBatchV1
from ticktide_common.proxy_trust import PROXY_SECRET_HEADER
from ticktide_common.sessions import constant_time_equal
from ticktide_common.settings import ProxyTrustSettings
from ticktide_ingest_crypto.archive import (
    ARCHIVE_SOURCE,
    MAX_ZIP_BYTES,
    ArchiveContents,
    ArchiveError,
    read_archive_bytes,
)
from ticktide_ingest_crypto.archive_bundle import (
    INLINE_BUNDLE_ARCHIVES,
    MAX_BUNDLE_BYTES,
    archives_in,
    merge_series,
    read_bundle,
)

__all__ = ["ARCHIVE_BATCH_SIZE", "import_archive", "router"]

log = get_logger(__name__)

# CandleBatchV1 allows 5000 candles: a monthly 1h archive (≤ 744) is one batch.
ARCHIVE_BATCH_SIZE = 5000
_INTERVAL_MS = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}

# When each caller was last refused with 429 (monotonic seconds, this process).
_RECHECK_SECONDS = 10.0
_refused_at: dict[str, float] = {}


def _over_bound(requested_by: str) -> HTTPException:
    _refused_at[requested_by] = time.monotonic()
    return HTTPException(
        429,
        f"{requested_by} has {MAX_UNFINISHED_IMPORTS} imports not yet stored; "
        "wait for some to finish",
    )


async def _check_bound_after_refusal(pool: asyncpg.Pool, requested_by: str) -> None:
    """429 before the body is read, for a caller refused within `_RECHECK_SECONDS`
    and still at the bound."""
    refused = _refused_at.get(requested_by)
    if refused is None:
        return
    if time.monotonic() - refused >= _RECHECK_SECONDS:
        _refused_at.pop(requested_by, None)
        return
    if await unfinished_imports(pool, requested_by) >= MAX_UNFINISHED_IMPORTS:
        raise _over_bound(requested_by)
    _refused_at.pop(requested_by, None)


async def _body(request: Request, cap: int = MAX_ZIP_BYTES, what: str = "an archive") -> bytes:
    try:
        return await read_bounded_body(request, cap)
    except BodyTooLarge:
        raise HTTPException(413, f"{what} may be at most {cap} bytes") from None


async def import_archive(
    pool: asyncpg.Pool, bus: Bus, contents: ArchiveContents, requested_by: str
) -> dict[str, Any]:
    """Create the job (fetched, with its counts; 429 at the caller's bound),
    publish its batches (confirmed)."""
    candles = sorted(contents.candles, key=lambda c: c.t)
    pages = [
        candles[offset : offset + ARCHIVE_BATCH_SIZE]
        for offset in range(0, len(candles), ARCHIVE_BATCH_SIZE)
    ]
    job_id = await create_import_job(
        pool,
        symbol=contents.symbol,
        interval=contents.interval,
        start=candles[0].t,
        end=candles[-1].t + timedelta(milliseconds=_INTERVAL_MS[contents.interval]),
        requested_by=requested_by,
        batches=len(pages),
        candles=len(candles),
        source=ARCHIVE_SOURCE,
    )
    if job_id is None:
        raise _over_bound(requested_by)
    try:
        await asyncio.gather(
            *(
                bus.publish(
                    CandleBatchV1(
                        batch_id=batch_id_for(
                            job_id,
                            contents.symbol,
                            contents.interval,
                            int(page[0].t.timestamp() * 1000),
                        ),
                        job_id=job_id,
                        symbol=contents.symbol,
                        interval=contents.interval,  # type: ignore[arg-type]
                        source=ARCHIVE_SOURCE,
                        candles=page,
                    )
                )
                for page in pages
            )
        )
    except PublishError as exc:
        await mark_job_failed(pool, job_id, f"publishing failed: {exc}")
        raise HTTPException(503, "the message bus did not take the candles; try again") from exc
    return {
        "job_id": str(job_id),
        "status_url": f"/api/admin/ingest/jobs/{job_id}",
        "symbol": contents.symbol,
        "interval": contents.interval,
        "candles": len(candles),
        "checksum_verified": contents.checksum_verified,
    }


router = APIRouter(prefix="/internal", tags=["internal"])


@lru_cache
def _proxy_secret() -> str:
    return ProxyTrustSettings().ticktide_proxy_secret


def _check_caller(request: Request) -> None:
    """With TICKTIDE_PROXY_SECRET set (every `make up`), only the gateway, which
    sends it, may import; the service listens on the host's loopback either way."""
    secret = _proxy_secret()
    if secret and not constant_time_equal(request.headers.get(PROXY_SECRET_HEADER, ""), secret):
        raise HTTPException(403, "only the gateway may import archives")


@router.post("/archive", status_code=202)
async def upload_archive(
    request: Request,
    filename: Annotated[str, Query(min_length=1, max_length=100)],
    requested_by: Annotated[str, Query(min_length=1, max_length=64)],
    sha256: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$")] = None,
) -> JSONResponse:
    _check_caller(request)
    t0 = time.perf_counter()
    pool: asyncpg.Pool = request.state.pool
    bus: Bus = request.state.bus
    await _check_bound_after_refusal(pool, requested_by)
    data = await _body(request)
    t1 = time.perf_counter()
    try:
        contents = await asyncio.to_thread(read_archive_bytes, filename, data, sha256)
    except ArchiveError as exc:
        raise HTTPException(422, str(exc)) from None
    if not contents.candles:
        raise HTTPException(422, f"{filename}: the archive holds no candles")
    t2 = time.perf_counter()
    answer = await import_archive(pool, bus, contents, requested_by)
    t3 = time.perf_counter()
    log.info(
        "archive.imported",
        filename=filename,
        job_id=answer["job_id"],
        candles=answer["candles"],
        requested_by=requested_by,
        ms_body=round((t1 - t0) * 1000, 1),
        ms_parse=round((t2 - t1) * 1000, 1),
        ms_publish=round((t3 - t2) * 1000, 1),
    )
    return JSONResponse(answer, status_code=202)


@router.post("/archive/bundle", status_code=202)
async def upload_bundle(
    request: Request,
    requested_by: Annotated[str, Query(min_length=1, max_length=64)],
) -> JSONResponse:
    """`{"jobs": [...as /internal/archive answers], "files": [{"filename",
    "job_id", "candles", "checksum_verified"}]}`, the files in bundle order."""
    _check_caller(request)
    t0 = time.perf_counter()
    pool: asyncpg.Pool = request.state.pool
    bus: Bus = request.state.bus
    await _check_bound_after_refusal(pool, requested_by)
    data = await _body(request, MAX_BUNDLE_BYTES, "a bundle")
    t1 = time.perf_counter()
    try:
        if archives_in(data) <= INLINE_BUNDLE_ARCHIVES:
            archives = read_bundle(data)
        else:
            archives = await asyncio.to_thread(read_bundle, data)
    except ArchiveError as exc:
        raise HTTPException(422, str(exc)) from None
    empty = next((archive.name for archive in archives if not archive.contents.candles), None)
    if empty is not None:
        raise HTTPException(422, f"{empty}: the archive holds no candles")
    t2 = time.perf_counter()
    jobs = [
        await import_archive(pool, bus, series, requested_by) for series in merge_series(archives)
    ]
    t3 = time.perf_counter()
    job_of = {(job["symbol"], job["interval"]): job["job_id"] for job in jobs}
    files = [
        {
            "filename": archive.name,
            "job_id": job_of[(archive.contents.symbol, archive.contents.interval)],
            "candles": len(archive.contents.candles),
            "checksum_verified": archive.contents.checksum_verified,
        }
        for archive in archives
    ]
    log.info(
        "archive.bundle_imported",
        files=len(files),
        jobs=[job["job_id"] for job in jobs],
        candles=sum(job["candles"] for job in jobs),
        requested_by=requested_by,
        ms_body=round((t1 - t0) * 1000, 1),
        ms_parse=round((t2 - t1) * 1000, 1),
        ms_publish=round((t3 - t2) * 1000, 1),
    )
    return JSONResponse({"jobs": jobs, "files": files}, status_code=202)
