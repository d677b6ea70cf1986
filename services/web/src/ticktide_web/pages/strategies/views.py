"""`/strategies` and `/strategies/<id>`: the strategy editor, server-rendered.

`Check` posts the editor to `/strategies`, which asks `POST /api/strategies/validate`
and shows the page again as typed: each problem under its field with its span
marked, or the parameters a valid document declares. `Save` saves the next
version (`POST /api/strategies`) and goes on to that version's page, which has
the "Run a grid" form; `Run grid` submits the batch with `"strategy": {"id",
"version"}` and goes on to the batch's page (`/backtests/<id>`), which follows it
live exactly as the backtest form's batches are followed. A system strategy
opens read-only: its text is an example to start a strategy of one's own from."""

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
    grid_size,
    stored_text,
    values_from_request,
)
from ticktide_web.pages.backtests.views import INTERVALS, json_block
from ticktide_web.pages.strategies.editor import (
    EDITOR_FIELDS,
    FieldError,
    Problems,
    form_values,
    in_written_order,
    param_rows,
    read_document,
    rule_problems,
)
from ticktide_web.pages.strategies.grid import (
    GRID_FIELDS,
    grid_defaults,
    grid_schema,
    grid_specs,
    read_grid,
)
from ticktide_web.rendering import PageContext

__all__ = ["router"]

router = APIRouter()

API = "/api/strategies"
MAX_FIELD_CHARS = 20_000  # the language's own bound on a document's text


async def _listing(page: PageContext) -> list[dict[str, Any]]:
    found = await page.api.get(API)
    return list(found.get("strategies") or []) if isinstance(found, dict) else []


async def _symbols(page: PageContext) -> list[dict[str, Any]]:
    found = await page.api.get("/api/crypto/symbols")
    return list(found.get("symbols") or []) if isinstance(found, dict) else []


async def _detail(page: PageContext, ident: int) -> dict[str, Any]:
    found = await page.api.get(f"{API}/{ident}")
    assert isinstance(found, dict)
    return found


def _version_of(detail: dict[str, Any], version: int | None) -> dict[str, Any]:
    versions = detail.get("versions") or []
    if not versions:
        raise ApiError(404, f"strategy {detail.get('id')} has no versions")
    if version is None:
        return dict(versions[-1])
    for item in versions:
        if item.get("version") == version:
            return dict(item)
    raise ApiError(404, f"strategy {detail.get('id')} has no version {version}")


def _params_of(version: dict[str, Any]) -> dict[str, Any]:
    """A version's declared parameters (checked: the canonical form's) in written order."""
    return in_written_order(
        (version.get("canonical") or {}).get("params"),
        (version.get("document") or {}).get("params"),
    )


async def _render(
    page: PageContext,
    *,
    values: dict[str, str],
    strategies: list[dict[str, Any]],
    opened: dict[str, Any] | None = None,
    version: dict[str, Any] | None = None,
    problems: Problems | None = None,
    declared: list[dict[str, Any]] | None = None,
    grid_values: dict[str, str] | None = None,
    grid_errors: dict[str, str] | None = None,
    symbols: list[dict[str, Any]] | None = None,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    problems = problems or Problems({}, [])
    readonly = bool(opened and opened.get("visibility") == "system")
    params = _params_of(version) if version else {}
    specs = grid_specs(params)
    if version is not None and grid_values is None:
        symbols = symbols if symbols is not None else await _symbols(page)
        grid_values = grid_defaults(params, symbols)
    grid_values = grid_values or {}
    first_symbol = grid_values.get("symbols", "").split(",")[0].strip().upper()
    if problems.general and error is None:
        error = "The strategy has problems: " + "; ".join(problems.general)
    elif problems.fields and error is None:
        error = "The strategy has problems: each is shown under its field below."
    return page.render(
        "strategies.html",
        title=(opened or {}).get("name") or "Strategies",
        status_code=status_code,
        error=error,
        notice=notice,
        values=values,
        fields=EDITOR_FIELDS,
        problems=problems.fields,
        strategies=strategies,
        own=[s for s in strategies if s.get("visibility") != "system"],
        system=[s for s in strategies if s.get("visibility") == "system"],
        opened=opened,
        version=version,
        readonly=readonly,
        declared=declared,
        specs=specs,
        grid_values=grid_values,
        grid_errors=grid_errors or {},
        symbols=symbols or [],
        intervals=INTERVALS,
        stored_help=stored_text(symbols or [], first_symbol, grid_values.get("interval", "1h")),
        grid_schema=grid_schema(params),
        combinations=grid_size(specs, grid_values) if version else None,
        json_block=json_block,
        scripts=["js/strategy_grid.js"] if version else [],
    )


def _typed(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= MAX_FIELD_CHARS}


@router.get("/strategies")
async def strategies_page(page: PageDep, copy: int | None = None) -> Response:
    """The list and a new strategy's editor; `?copy=<id>` starts it from that
    strategy's latest version (a system strategy's, as an example)."""
    strategies = await _listing(page)
    values = form_values(None)
    notice = None
    if copy is not None:
        detail = await _detail(page, copy)
        values = form_values(_version_of(detail, None).get("document"))
        notice = f"A copy of {detail.get('name')}: give it a name of your own and save it."
    return await _render(page, values=values, strategies=strategies, notice=notice)


async def _batch_values(
    page: PageContext, batch_id: str, params: dict[str, Any], symbols: list[dict[str, Any]]
) -> tuple[dict[str, str] | None, str | None]:
    """The grid form's text of a stored batch's request ("Use these settings")."""
    try:
        stored = await page.api.get(f"/api/crypto/backtest/batch/{uuid.UUID(batch_id)}", limit=1)
    except (ValueError, ApiError):
        return None, "That batch's settings could not be loaded; here are the defaults."
    values = values_from_request(stored.get("request") or {}, grid_defaults(params, symbols))
    return values, None


@router.get("/strategies/{ident:int}")
async def strategy_page(
    page: PageDep, ident: int, version: int | None = None, saved: int = 0, use: str = ""
) -> Response:
    detail, strategies = await asyncio.gather(_detail(page, ident), _listing(page))
    chosen = _version_of(detail, version)
    grid_values: dict[str, str] | None = None
    symbols: list[dict[str, Any]] | None = None
    error: str | None = None
    if use:
        symbols = await _symbols(page)
        grid_values, error = await _batch_values(page, use, _params_of(chosen), symbols)
    values = form_values(chosen.get("document"), str(detail.get("name") or ""))
    notice = (
        f"Saved {detail.get('name')} as version {chosen.get('version')}: run a grid of it below."
        if saved
        else None
    )
    return await _render(
        page,
        values=values,
        strategies=strategies,
        opened=detail,
        version=chosen,
        declared=param_rows(_params_of(chosen)),
        grid_values=grid_values,
        symbols=symbols,
        notice=notice,
        error=error,
    )


async def _opened(page: PageContext, typed: dict[str, str]) -> dict[str, Any]:
    """The saved version the editor was opened on, so that its page's heading and
    its Run a grid form stay after a Check (nothing when it cannot be read)."""
    try:
        ident, version = int(typed.get("opened_id", "")), int(typed.get("opened_version", ""))
    except ValueError:
        return {}
    try:
        detail = await _detail(page, ident)
        chosen = _version_of(detail, version)
    except ApiError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        return {}
    return {"opened": detail, "version": chosen}


@router.post("/strategies")
async def check_or_save(page: PageDep, request: Request) -> Response:
    form = await request.form()
    typed = _typed(form)
    values = {field: typed.get(field, "") for field, _ in EDITOR_FIELDS}
    action = typed.get("action", "check")
    strategies, opened = await asyncio.gather(_listing(page), _opened(page, typed))
    draft = read_document(values)
    problems = draft.problems
    for field, label in EDITOR_FIELDS:
        if isinstance(form.get(field), str) and field not in typed:
            problems.fields.setdefault(field, []).append(
                FieldError(field, f"{label} is too long: at most {MAX_FIELD_CHARS:,} characters.")
            )
    name = values["name"].strip()
    if action == "save" and not name:
        problems.fields.setdefault("name", []).append(
            FieldError("name", "Give the strategy a name to save it under.")
        )
    if draft.document is None or problems:
        return await _render(
            page,
            values=values,
            strategies=strategies,
            problems=problems,
            status_code=422,
            **opened,
        )
    token = typed.get("csrf_token", "")
    try:
        if action == "save":
            saved = await page.api.call(
                "POST", API, json={"name": name, "document": draft.document}, csrf_token=token
            )
            return RedirectResponse(
                f"/strategies/{saved['id']}?version={saved['version']}&saved=1", status_code=303
            )
        checked = await page.api.call(
            "POST", f"{API}/validate", json={"document": draft.document}, csrf_token=token
        )
    except ApiError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        found = rule_problems(exc.details, values, draft.constraint_lines)
        if not found:
            found.general.append(exc.message)
        return await _render(
            page,
            values=values,
            strategies=strategies,
            problems=found,
            status_code=exc.status,
            error=None if exc.status == 422 else f"Not saved: {exc.message}",
            **opened,
        )
    declared = param_rows(checked.get("params"), draft.document.get("params"))
    count = len(declared)
    return await _render(
        page,
        values=values,
        strategies=strategies,
        declared=declared,
        notice=(
            f"The strategy is valid: it declares {count} "
            f"{'parameter' if count == 1 else 'parameters'}."
        ),
        **opened,
    )


@router.post("/strategies/{ident:int}/run")
async def run_grid(page: PageDep, ident: int, request: Request) -> Response:
    typed = _typed(await request.form())
    try:
        wanted = int(typed.get("version", ""))
    except ValueError:
        wanted = None
    detail, strategies, symbols = await asyncio.gather(
        _detail(page, ident), _listing(page), _symbols(page)
    )
    chosen = _version_of(detail, wanted)
    params = _params_of(chosen)
    body, errors, grid_values = read_grid(typed, params, symbols, ident, int(chosen["version"]))
    again = {
        "values": form_values(chosen.get("document"), str(detail.get("name") or "")),
        "strategies": strategies,
        "opened": detail,
        "version": chosen,
        "declared": param_rows(params),
        "grid_values": grid_values,
        "symbols": symbols,
    }
    if body is None:
        return await _render(
            page,
            **again,
            grid_errors=errors,
            status_code=422,
            error="The grid was not run: please correct the fields marked below.",
        )
    try:
        created = await page.api.call(
            "POST",
            "/api/crypto/backtest/batch",
            json=body,
            csrf_token=typed.get("csrf_token", ""),
        )
    except ApiError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        names = {spec.name for spec in grid_specs(params)}
        return await _render(
            page,
            **again,
            grid_errors={
                k: v
                for k, v in api_field_errors(exc, names).items()
                if k in GRID_FIELDS or k.startswith("p_")
            },
            status_code=exc.status,
            error=f"The grid was not run: {exc.message}",
        )
    return RedirectResponse(f"/backtests/{created['batch_id']}", status_code=303)
