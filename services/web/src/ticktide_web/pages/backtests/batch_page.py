"""`/backtests/<id>`: a batch's settings, status and `Results` (sorted here by
any column, a page at a time; in place with JavaScript), its walk-forward
windows, its failed jobs, and Cancel while it runs; live from the batch's SSE
stream with static/js/backtest_batch.js."""

from __future__ import annotations

import math
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep
from ticktide_web.pages.backtests.views import (
    API,
    HELPERS,
    METRICS,
    RESULTS_FETCH,
    RESULTS_PAGE,
    TEXT_COLUMNS,
    batch_summary,
    best_order,
    compare_key,
    progress_of,
    result_link,
    sort_results,
    walk_forward_series,
)
from ticktide_web.rendering import PageContext

router = APIRouter()


def batch_ident(text: str) -> uuid.UUID:
    """The batch id of a path; anything else is the Not found page."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ApiError(404, f"no backtest batch {text}") from None


async def fetch_batch(page: PageContext, batch_id: uuid.UUID, limit: int) -> dict[str, Any]:
    batch = await page.api.get(f"{API}/batch/{batch_id}", limit=limit)
    assert isinstance(batch, dict)
    return batch


@router.get("/backtests/{batch_id}")
async def batch_page(
    page: PageDep, batch_id: str, sort: str = "", order: str = "", page_no: int = 1
) -> Response:
    ident = batch_ident(batch_id)
    if ":" in sort:
        sort, order = sort.split(":", 1)
    batch = await fetch_batch(page, ident, RESULTS_FETCH)
    rank_by = batch.get("rank_by") or "sharpe"
    column = sort if sort in (*METRICS, *TEXT_COLUMNS) else rank_by
    if column not in (*METRICS, *TEXT_COLUMNS):
        column = "sharpe"
    if order not in ("asc", "desc"):
        order = best_order(column)
    results = list(batch.get("results") or [])
    ranked = sort_results(results, column, order)
    pages = max(1, math.ceil(len(ranked) / RESULTS_PAGE))
    page_no = min(max(page_no, 1), pages)
    shown = ranked[(page_no - 1) * RESULTS_PAGE : page_no * RESULTS_PAGE]
    progress = progress_of(batch)
    request = batch.get("request") or {}

    def page_url(number: int) -> str:
        return (
            f"/backtests/{ident}?{urlencode({'sort': column, 'order': order, 'page_no': number})}"
        )

    return page.render(
        "backtests_batch.html",
        title=f"Backtest batch {str(ident)[:8]}",
        scripts=["js/backtest_batch.js"],
        batch=batch,
        batch_id=str(ident),
        request=request,
        progress=progress,
        summary=batch_summary(batch, progress),
        results=shown,
        result_count=len(results),
        capped=len(results) >= RESULTS_FETCH and int(batch.get("backtests") or 0) > len(results),
        offset=(page_no - 1) * RESULTS_PAGE,
        sort=column,
        order=order,
        best_order=best_order,
        all_rows=pages == 1,
        prev_url=page_url(page_no - 1) if page_no > 1 else None,
        next_url=page_url(page_no + 1) if page_no < pages else None,
        page_no=page_no,
        pages=pages,
        walk_forward=walk_forward_series(results),
        errors_list=batch.get("errors") or [],
        result_link=result_link,
        compare_key=compare_key,
        **HELPERS,
    )


@router.post("/backtests/{batch_id}/cancel")
async def cancel(page: PageDep, batch_id: str, request: Request) -> Response:
    ident = batch_ident(batch_id)
    form = await request.form()
    token = form.get("csrf_token")
    await page.api.call(
        "DELETE", f"{API}/batch/{ident}", csrf_token=token if isinstance(token, str) else ""
    )
    return RedirectResponse(f"/backtests/{ident}", status_code=303)
