"""`ticktide status`, through the API: the services and dependencies
(`GET /api/health`, the full report for an admin), the queues
(`GET /api/services`) and the stored crypto series (`GET /api/crypto/symbols`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ticktide_cli.context import CliContext

__all__ = ["show_status"]


def _state(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "down"
    status = str(entry.get("status", "down"))
    if status == "ok":
        return "ready"
    ready = entry.get("ready")
    detail = ready.get("error") or ready.get("checks") if isinstance(ready, dict) else None
    return f"{status} ({str(detail)[:80]})" if detail else status


async def show_status(ctx: CliContext, console: Console) -> bool:
    """Print the report; True when every service and dependency is ok."""
    # The authenticated views first: a refused token fails here, not after a
    # report an anonymous caller could have had too.
    report = await ctx.api.get("/api/services")
    health = (await ctx.api.request("GET", "/api/health", ok=(503,))).json()

    services = Table(title="services")
    for column in ("service", "url", "state"):
        services.add_column(column)
    for name, entry in sorted((health.get("services") or {}).items()):
        services.add_row(name, str(entry.get("url", "")), _state(entry))
    for name, entry in sorted((health.get("dependencies") or {}).items()):
        services.add_row(name, "", _state(entry))
    console.print(services)

    instances = Table(title="instances")
    for column in ("service", "host", "pid", "version", "status", "ready"):
        instances.add_column(column)
    for row in report.get("instances") or []:
        instances.add_row(
            str(row.get("service")),
            str(row.get("host") or ""),
            str(row.get("pid") or ""),
            str(row.get("version") or ""),
            str(row.get("status")) + (" (stale)" if row.get("stale") else ""),
            "yes" if row.get("ready") else "no",
        )
    console.print(instances)

    queues = Table(title="queues")
    for column in ("queue", "ready", "consumers", "dead-lettered"):
        queues.add_column(column)
    for row in report.get("queues") or []:
        queues.add_row(
            str(row.get("name")),
            _number(row.get("messages")),
            _number(row.get("consumers")),
            _number(row.get("dead_letters")),
        )
    console.print(queues)

    series = Table(title="crypto series")
    for column in ("symbol", "interval", "candles", "first", "last", "source"):
        series.add_column(column)
    for entry in (await ctx.api.get("/api/crypto/symbols")).get("symbols") or []:
        for interval, facts in sorted((entry.get("intervals") or {}).items()):
            series.add_row(
                str(entry.get("symbol")),
                interval,
                str(facts.get("candles")),
                str(facts.get("first")),
                str(facts.get("last")),
                str(facts.get("source") or ""),
            )
    console.print(series)
    return bool(health.get("status") == "ok")


def _number(value: Any) -> str:
    return "?" if value is None else str(value)
