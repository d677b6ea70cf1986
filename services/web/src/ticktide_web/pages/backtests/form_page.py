"""`/backtests`: the form generated from the strategies' JSON Schemas (a new
strategy needs no template change), the live view of a batch submitted from
it (static/js/backtest_form.js), and the user's batches, newest first.

Without JavaScript the form posts here: checked with `grid_syntax`, then
`POST /api/crypto/backtest/batch` with the form's CSRF token, then on to the
batch's page; a bad value or an API rejection shows the form again as typed,
each message beside its field."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep
from ticktide_web.pages.backtests.form import (
    api_field_errors,
    default_values,
    grid_size,
    param_fields,
    read_form,
    stored_text,
    values_from_request,
)
from ticktide_web.pages.backtests.views import API, BATCHES_PAGE, HELPERS, INTERVALS, RANK_BY
from ticktide_web.rendering import PageContext

router = APIRouter()


async def _strategies(page: PageContext) -> dict[str, Any]:
    found = await page.api.get(f"{API}/strategies")
    return found if isinstance(found, dict) else {}


async def _symbols(page: PageContext) -> list[dict[str, Any]]:
    found = await page.api.get("/api/crypto/symbols")
    return list(found.get("symbols") or []) if isinstance(found, dict) else []


async def _form_page(
    page: PageContext,
    *,
    strategies: dict[str, Any],
    symbols: list[dict[str, Any]],
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    error: str | None = None,
    before: str | None = None,
) -> Response:
    try:
        batches = await page.api.get(f"{API}/batches", limit=BATCHES_PAGE, before=before)
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        batches = {"batches": [], "next": None, "error": exc.message}
    specs = param_fields(strategies)
    first_symbol = values.get("symbols", "").split(",")[0].strip().upper()
    return page.render(
        "backtests.html",
        title="Backtests",
        status_code=status_code,
        scripts=["js/backtest_form.js"],
        error=error,
        strategies=strategies,
        specs=specs,
        symbols=symbols,
        values=values,
        errors=errors or {},
        intervals=INTERVALS,
        rank_by_options=RANK_BY,
        batches=batches,
        before=before,
        stored_help=stored_text(symbols, first_symbol, values.get("interval", "1h")),
        combinations=grid_size(specs.get(values.get("strategy", ""), []), values),
        form_data={
            "strategies": strategies,
            "symbols": [
                {"symbol": s.get("symbol"), "intervals": s.get("intervals") or {}} for s in symbols
            ],
        },
        **HELPERS,
    )


@router.get("/backtests")
async def backtests(
    page: PageDep, before: str | None = None, strategy: str | None = None, use: str | None = None
) -> Response:
    strategies, symbols = await asyncio.gather(_strategies(page), _symbols(page))
    values = default_values(strategies, symbols, strategy)
    notice_error = None
    if use:
        try:
            stored = await page.api.get(f"{API}/batch/{uuid.UUID(use)}", limit=1)
            values = values_from_request(stored.get("request") or {}, values)
        except (ValueError, ApiError):
            notice_error = "That batch's settings could not be loaded; here are the defaults."
    return await _form_page(
        page,
        strategies=strategies,
        symbols=symbols,
        values=values,
        before=before,
        error=notice_error,
    )


@router.post("/backtests")
async def submit(page: PageDep, request: Request) -> Response:
    form = await request.form()
    typed = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 4096}
    strategies, symbols = await asyncio.gather(_strategies(page), _symbols(page))
    values = default_values(strategies, symbols, typed.get("strategy"))
    values.update({k: v for k, v in typed.items() if k != "csrf_token"})
    if typed.get("action") == "switch":  # no JavaScript: show the chosen strategy's fields
        return await _form_page(page, strategies=strategies, symbols=symbols, values=values)
    body, errors = read_form(values, strategies)
    if body is None:
        return await _form_page(
            page,
            strategies=strategies,
            symbols=symbols,
            values=values,
            errors=errors,
            status_code=422,
            error="The batch was not submitted: please correct the fields marked below.",
        )
    try:
        created = await page.api.call(
            "POST", f"{API}/batch", json=body, csrf_token=typed.get("csrf_token", "")
        )
    except ApiError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        params = {s.name for s in param_fields(strategies).get(body["strategy"], [])}
        return await _form_page(
            page,
            strategies=strategies,
            symbols=symbols,
            values=values,
            errors=api_field_errors(exc, params),
            status_code=exc.status,
            error=f"The batch was not submitted: {exc.message}",
        )
    return RedirectResponse(f"/backtests/{created['batch_id']}", status_code=303)
