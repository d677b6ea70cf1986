"""`/`, the dashboard: the latest price and change of every crypto pair and
stock, current weather per location, the user's running and recent batches, a
service-health summary and the freshness of each data source, all from one
`GET /api/dashboard`, rendered on the server (a small module refreshes the
data every 30 s).

Also what the operations pages (`/performance`, `/services`) share: durations
in words ("12 minutes ago"), and `ops_page`, a page over one API answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep
from ticktide_web.rendering import PageContext

__all__ = ["router", "duration_words", "ago", "parse_time", "since", "page_status", "ops_page"]

router = APIRouter()

# What one stored row of each source is called in the freshness line.
FRESHNESS_LABELS = {
    "crypto": ("Crypto", "last candle"),
    "stocks": ("Stocks", "last bar"),
    "weather": ("Weather", "last hour"),
}
_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def duration_words(seconds: float | None) -> str:
    """`seconds` in the largest whole unit: "12 minutes", "1 day"; "—" when unknown."""
    if seconds is None:
        return "—"
    seconds = abs(seconds)
    for size, unit in _UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "0 seconds"


def ago(seconds: float | None) -> str:
    """How long ago, in words: "12 minutes ago", "just now", "in 3 minutes"."""
    if seconds is None:
        return "—"
    if abs(seconds) < 1:
        return "just now"
    if seconds < 0:
        return f"in {duration_words(seconds)}"
    return f"{duration_words(seconds)} ago"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def since(value: Any, now: datetime) -> float | None:
    """Seconds from the ISO time `value` to `now`; None when it is not a time."""
    moment = parse_time(value)
    return (now - moment).total_seconds() if moment is not None else None


def page_status(error: ApiError) -> int:
    """The status of a page that shows an API error in place of its data."""
    if error.status >= 500:
        return 503 if error.status == 503 else 502
    return error.status


async def ops_page(
    page: PageContext,
    template: str,
    *,
    title: str,
    path: str,
    params: dict[str, Any] | None = None,
    view: Callable[[dict[str, Any]], dict[str, Any]],
    failed: str,
    **context: Any,
) -> Response:
    """A page over one answer of the API (`path` with `params`), which `view`
    turns into the template's `view`; when the API fails, the page says what
    (`failed`) could not be loaded, with the status of the API's answer."""
    try:
        data = await page.api.get(path, **(params or {}))
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return page.render(
            template,
            title=title,
            status_code=page_status(exc),
            error=f"{failed} could not be loaded: {exc.message}",
            view=None,
            **context,
        )
    return page.render(template, title=title, view=view(data), **context)


def _freshness(found: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, (name, label) in FRESHNESS_LABELS.items():
        source = found.get(key) or {}
        rows.append(
            {
                "key": key,
                "name": name,
                "label": label,
                "last": source.get("last"),
                "ago": ago(source.get("age_seconds")),
                "simulated": bool(source.get("simulated")),
            }
        )
    return rows


def _batch(item: dict[str, Any]) -> dict[str, Any]:
    series = [f"{s} {i}" for s in item.get("symbols", []) for i in item.get("intervals", [])]
    return {
        **item,
        "short_id": str(item["batch_id"])[:8],
        "series": ", ".join(series[:3])
        + (f" and {len(series) - 3} more" if len(series) > 3 else ""),
    }


def dashboard_view(data: dict[str, Any]) -> dict[str, Any]:
    """The template's context from the API's answer."""
    batches = data.get("batches") or {}
    health = data.get("health") or {}
    services = health.get("services") or {}
    return {
        "generated_at": data.get("generated_at"),
        "crypto": data.get("crypto") or [],
        "stocks": data.get("stocks") or [],
        "weather": data.get("weather") or [],
        "running": [_batch(b) for b in batches.get("running") or []],
        "recent": [_batch(b) for b in batches.get("recent") or []],
        "health": {
            "status": health.get("status", "unknown"),
            "services": sorted(services.items()),
            "dependencies": sorted((health.get("dependencies") or {}).items()),
            "not_ok": sum(1 for s in services.values() if s != "ok"),
        },
        "freshness": _freshness(data.get("freshness") or {}),
    }


@router.get("/")
async def dashboard(page: PageDep) -> Response:
    return await ops_page(
        page,
        "dashboard.html",
        title="Dashboard",
        path="/api/dashboard",
        view=dashboard_view,
        failed="The dashboard",
        scripts=["js/dashboard.js"],
    )
