"""Admin import of Binance public-archive kline zips, and the progress of many
ingest jobs at once (what `ticktide import binance-archive` follows).

`POST /api/admin/ingest/crypto/archive?filename=NAME[&sha256=HEX]` takes one zip
as `application/zip`, and `POST /api/admin/ingest/crypto/archive/bundle` a bundle
of them (a zip storing many kline zips and their `.CHECKSUM` files: one request
and one job per series for many files), each at most ARCHIVE_BODY_BYTES (see
body_limits.py). Both hand the body to ingest-crypto's internal route, which
owns the parsing (never done on the gateway's event loop), creates the job(s)
and publishes the candles: the answer is 202 (the job, or the bundle's jobs and
files), or ingest-crypto's 422 (not a zip, a bad CSV, a name that is not a kline
archive, a bad member of a bundle), 413 or 429 (too many imports of this admin
not yet stored). A 202's JSON is relayed as ingest-crypto wrote it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ticktide_common.import_jobs import MAX_JOBS_PER_QUERY, jobs_progress
from ticktide_common.logging import get_logger
from ticktide_common.proxy_trust import PROXY_SECRET_HEADER
from ticktide_gateway.admin.schemas import ArchiveAccepted, ArchiveBundleAccepted, IngestJobs
from ticktide_gateway.auth import AdminPrincipal, GuardedRoute, require_admin
from ticktide_gateway.deps import HttpDep, PoolDep, SettingsDep
from ticktide_gateway.settings import GatewaySettings

__all__ = ["router", "ARCHIVE_PATH", "BUNDLE_PATH", "JobsQuery"]

ARCHIVE_PATH = "/api/admin/ingest/crypto/archive"
BUNDLE_PATH = f"{ARCHIVE_PATH}/bundle"
# Parsing and publishing one monthly archive takes milliseconds; a slow broker
# may take longer to confirm.
_UPSTREAM_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
_RELAYED = frozenset({403, 413, 422, 429, 503})

log = get_logger(__name__)

router = APIRouter(dependencies=[Depends(require_admin)], route_class=GuardedRoute)


class JobsQuery(BaseModel):
    """Body of `POST /api/admin/ingest/crypto/archive/jobs`."""

    model_config = ConfigDict(extra="forbid")

    job_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_JOBS_PER_QUERY)]


_ZIP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_REFUSALS: dict[int | str, dict[str, str]] = {
    413: {"description": "the zip (or a CSV in it) is too large"},
    422: {"description": "not a kline archive zip (or bundle of them), or a bad row in it"},
    429: {"description": "too many of your imports are not stored yet"},
    503: {"description": "ingest-crypto or the message bus is unavailable"},
}


async def _forward(
    request: Request,
    settings: GatewaySettings,
    http: httpx.AsyncClient,
    internal_path: str,
    params: dict[str, str],
    what: str,
) -> Response:
    """The body to ingest-crypto's `internal_path`; its 202 relayed as it is,
    its refusals as ours (a proxy-secret mismatch is our 503)."""
    body = await request.body()
    if not body:
        raise HTTPException(422, "the body must be the archive's zip bytes")
    headers = {"Content-Type": "application/zip"}
    if settings.ticktide_proxy_secret:
        headers[PROXY_SECRET_HEADER] = settings.ticktide_proxy_secret
    try:
        answer = await http.post(
            f"{settings.ingest_crypto_url.rstrip('/')}{internal_path}",
            params=params,
            content=body,
            headers=headers,
            timeout=_UPSTREAM_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        log.error("archive.forward_failed", what=what, error=str(exc))
        raise HTTPException(503, "ingest-crypto is unavailable; try again shortly") from exc
    if answer.status_code == 202:
        return Response(answer.content, status_code=202, media_type="application/json")
    if answer.status_code in _RELAYED:
        try:
            detail = answer.json().get("detail", answer.text[:300])
        except ValueError:
            detail = answer.text[:300]
        status = 503 if answer.status_code == 403 else answer.status_code  # a secret mismatch
        raise HTTPException(status, detail)
    log.error("archive.upstream_error", what=what, status=answer.status_code)
    raise HTTPException(503, f"ingest-crypto answered {answer.status_code}; try again shortly")


def _zip_upload_route(path: str, summary: str, model: type[BaseModel]) -> Any:
    """The route decorator of an upload of zip bytes, answered 202 with `model`."""
    return router.post(
        path,
        status_code=202,
        tags=["admin", "ingest"],
        summary=summary,
        response_model=model,
        openapi_extra=_ZIP_BODY,
        responses=_REFUSALS,
    )


@_zip_upload_route(
    ARCHIVE_PATH, "Import one Binance kline archive zip (body: application/zip)", ArchiveAccepted
)
async def import_archive(
    request: Request,
    principal: AdminPrincipal,
    settings: SettingsDep,
    http: HttpDep,
    filename: Annotated[str, Query(min_length=5, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")],
    sha256: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$")] = None,
) -> Response:
    """Answers 202 with the job at once; follow it at `status_url` (or many at
    `POST /api/admin/ingest/crypto/archive/jobs`)."""
    params = {"filename": filename, "requested_by": principal.username}
    if sha256:
        params["sha256"] = sha256
    return await _forward(request, settings, http, "/internal/archive", params, filename)


@_zip_upload_route(
    BUNDLE_PATH,
    "Import many Binance kline archive zips at once (body: a zip of them)",
    ArchiveBundleAccepted,
)
async def import_archive_bundle(
    request: Request, principal: AdminPrincipal, settings: SettingsDep, http: HttpDep
) -> Response:
    """The body is a zip that stores up to 64 kline zips as they are, each with
    its `NAME.zip.CHECKSUM` beside it when there is one (verified). All or
    nothing: a bad file makes it a 422 naming the file. Answers 202 with one job
    per series and each file's job."""
    params = {"requested_by": principal.username}
    return await _forward(request, settings, http, "/internal/archive/bundle", params, "bundle")


@router.post(
    f"{ARCHIVE_PATH}/jobs",
    tags=["admin", "ingest"],
    summary="Progress of many ingest jobs at once",
    response_model=IngestJobs,
)
async def jobs(query: JobsQuery, pool: PoolDep) -> JSONResponse:
    """`{"jobs": [...]}`, each as `GET /api/admin/ingest/jobs/{id}` answers;
    unknown ids are left out."""
    found = await jobs_progress(pool, query.job_ids)
    return JSONResponse({"jobs": [job.as_json() for job in found]})
