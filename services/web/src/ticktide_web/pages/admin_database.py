"""`/admin/database`: every table with its size and the planner's row
estimate, TimescaleDB's chunks and compression where it is installed (and a
plain word where it is not; a figure that could not be read says why), its
background jobs with their last run, the continuous aggregates; forms that ANALYZE one
table or all, and refresh one continuous aggregate or all. After a form the
page is shown again with the API's answer (role=status) or its refusal
(role=alert). `?exact=1` adds the exact row counts and time ranges of the data
tables (`GET /api/user/database/info`, which counts whole tables)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep
from ticktide_web.rendering import PageContext

router = APIRouter()

FormText = Annotated[str, Form(max_length=200)]


def _rows(count: int | None) -> str:
    if count is None:
        return "not estimated yet"
    return f"about {count:,} row{'s' if count != 1 else ''}"


async def _render(
    page: PageContext,
    *,
    exact: bool = False,
    status_code: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    overview = await page.api.get("/api/admin/database/tables")
    info = await page.api.get("/api/user/database/info") if exact else None
    return page.render(
        "admin_database.html",
        title="Database",
        status_code=status_code,
        overview=overview,
        tables=overview.get("tables", []),
        aggregates=overview.get("continuous_aggregates", []),
        timescaledb=bool(overview.get("timescaledb")),
        info=info,
        exact=exact,
        notice=notice,
        error=error,
    )


def _refusal_status(error: ApiError) -> int:
    if error.status in (401, 403):
        raise error
    return error.status if 400 <= error.status < 500 else 502


async def _act(
    page: PageContext, path: str, body: dict[str, Any], csrf_token: str, what: str
) -> tuple[dict[str, Any], str] | Response:
    """Post an action of the page to the API: its answer and how long it took,
    or the page again with the API's refusal (`what` failed)."""
    try:
        answer = await page.api.call("POST", path, json=body, csrf_token=csrf_token)
    except ApiError as exc:
        status = _refusal_status(exc)
        return await _render(page, status_code=status, error=f"{what} failed: {exc.message}")
    return answer, f"{float(answer.get('duration_ms', 0)):,.0f} ms"


@router.get("/admin/database")
async def database(page: PageDep, exact: str = "") -> Response:
    return await _render(page, exact=exact == "1")


@router.post("/admin/database/analyze")
async def analyze(page: PageDep, csrf_token: FormText = "", table: FormText = "") -> Response:
    done = await _act(
        page, "/api/admin/database/analyze", {"table": table.strip() or None}, csrf_token, "ANALYZE"
    )
    if isinstance(done, Response):
        return done
    answer, took = done
    analyzed = answer.get("analyzed", [])
    if len(analyzed) == 1:
        one = analyzed[0]
        notice = f"Analyzed {one['name']} in {took}: {_rows(one.get('row_estimate'))}."
    else:
        notice = f"Analyzed {len(analyzed)} tables in {took}; the row estimates below are fresh."
    return await _render(page, notice=notice)


@router.post("/admin/database/refresh-aggregates")
async def refresh(page: PageDep, csrf_token: FormText = "", name: FormText = "") -> Response:
    done = await _act(
        page,
        "/api/admin/database/refresh-aggregates",
        {"name": name.strip() or None},
        csrf_token,
        "Refresh",
    )
    if isinstance(done, Response):
        return done
    answer, took = done
    refreshed: list[dict[str, Any]] = answer.get("refreshed", [])
    names = ", ".join(a["name"] for a in refreshed) or "none"
    notice = (
        f"Refreshed {len(refreshed)} continuous aggregate"
        f"{'s' if len(refreshed) != 1 else ''} in {took}: {names}."
    )
    return await _render(page, notice=notice)
