"""The `ticktide` command: thin typer wiring over the async command modules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
from rich.console import Console

from ticktide_cli.context import CliContext, CliError, open_context
from ticktide_cli.crypto import run_archive_import, run_backfill
from ticktide_cli.repository import open_gaps, open_stock_gaps
from ticktide_cli.status import show_status
from ticktide_cli.stocks_weather import run_stocks_backfill, run_weather_backfill
from ticktide_cli.timeparse import parse_utc
from ticktide_cli.users import check_identity, create_user_from_cli, read_new_password
from ticktide_common.logging import configure_logging
from ticktide_common.migrate import MigrationError, MigrationRun, ensure_database, run_migrations
from ticktide_common.settings import CRYPTO_INTERVALS, Settings

app = typer.Typer(
    help="Ticktide: market and weather data with distributed backtesting.",
    no_args_is_help=True,
    add_completion=False,
)
backfill_app = typer.Typer(help="Fetch history from a source and store it.", no_args_is_help=True)
import_app = typer.Typer(help="Import data files.", no_args_is_help=True)
app.add_typer(backfill_app, name="backfill")
app.add_typer(import_app, name="import")
backtest_app = typer.Typer(help="Run and inspect backtests.", no_args_is_help=True)
app.add_typer(backtest_app, name="backtest")
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def _run(command: Callable[[CliContext], Awaitable[T]]) -> T:
    settings = Settings()
    configure_logging("cli", "WARNING")

    async def main() -> T:
        async with open_context(settings) as ctx:
            return await command(ctx)

    try:
        return asyncio.run(main())
    except CliError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err_console.print("interrupted; the job goes on in the stack (see `ticktide status`)")
        raise typer.Exit(130) from None


def _date(option: str, value: str) -> datetime:
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


@app.command()
def status() -> None:
    """Services, queues, stored series and recent jobs."""
    healthy = _run(lambda ctx: show_status(ctx, console))
    raise typer.Exit(0 if healthy else 1)


@app.command()
def migrate() -> None:
    """Create the database if needed and apply pending migrations."""
    settings = Settings()
    configure_logging("cli", "WARNING")

    async def main() -> MigrationRun:
        await ensure_database(settings.database_url)
        return await run_migrations(settings.database_url)

    try:
        run = asyncio.run(main())
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, MigrationError) as exc:
        # One line, never a traceback: the file and the server's message.
        message = " ".join(str(exc).split()) or type(exc).__name__
        err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    for warning in run.warnings:
        err_console.print(warning, markup=False, highlight=False, soft_wrap=True)
    applied = run.applied
    console.print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@backfill_app.command("crypto")
def backfill_crypto(
    symbol: Annotated[str, typer.Argument(help="Binance pair, e.g. BTCUSDT")],
    interval: Annotated[str, typer.Option(help="1h, 4h or 1d")] = "1h",
    start: Annotated[str, typer.Option(help="first open time, ISO-8601 (UTC if no offset)")] = "",
    end: Annotated[str, typer.Option(help="exclusive end, ISO-8601; default now")] = "",
    timeout: Annotated[float, typer.Option(help="seconds to wait for the job")] = 3600.0,
) -> None:
    """Backfill one crypto series from Binance; returns when its candles are stored."""
    if interval not in CRYPTO_INTERVALS:
        raise typer.BadParameter(
            f"use one of {', '.join(CRYPTO_INTERVALS)}", param_hint="--interval"
        )
    if not symbol.isalnum():
        raise typer.BadParameter("a Binance pair such as BTCUSDT", param_hint="SYMBOL")
    end_at = _date("--end", end) if end else datetime.now(UTC)
    start_at = _date("--start", start) if start else end_at - timedelta(days=30)

    async def command(ctx: CliContext) -> None:
        job = await run_backfill(
            ctx,
            symbol=symbol.upper(),
            interval=interval,  # type: ignore[arg-type]
            start=start_at,
            end=end_at,
            timeout=timeout,
            console=console,
        )
        gaps, missing = await open_gaps(ctx.pool, job.symbol, job.interval)
        console.print(
            f"stored {job.candles_stored} candles of {job.symbol} {job.interval}; "
            f"open gaps in the series: {gaps} ({missing} candles)"
        )

    _run(command)


def _day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date such as 2024-01-31", param_hint=option
        ) from None


@backfill_app.command("stocks")
def backfill_stocks(
    symbols: Annotated[list[str], typer.Argument(help="e.g. AAPL NOKIA NDA-FI")],
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD; default a year ago")] = "",
    end: Annotated[str, typer.Option(help="exclusive last day, YYYY-MM-DD; default tomorrow")] = "",
    timeout: Annotated[float, typer.Option(help="seconds to wait per symbol")] = 1800.0,
) -> None:
    """Backfill daily prices of NASDAQ / Helsinki stocks; returns when they are stored."""
    end_day = _day("--end", end) if end else datetime.now(UTC).date() + timedelta(days=1)
    start_day = _day("--start", start) if start else end_day - timedelta(days=365)

    async def command(ctx: CliContext) -> None:
        jobs = await run_stocks_backfill(
            ctx,
            [s.strip().upper() for s in symbols],
            start=start_day,
            end=end_day,
            timeout=timeout,
            console=console,
        )
        for job in jobs:
            gaps, sessions = await open_stock_gaps(ctx.pool, job.symbol)
            console.print(
                f"stored {job.candles_stored} bars of {job.symbol}; "
                f"open gaps: {gaps} ({sessions} sessions)"
            )

    _run(command)


@backfill_app.command("weather")
def backfill_weather(
    location: Annotated[str, typer.Argument(help="a configured location, e.g. Helsinki")],
    start: Annotated[
        str, typer.Option(help="ISO-8601 (UTC if no offset); default 30 days ago")
    ] = "",
    end: Annotated[str, typer.Option(help="exclusive end, ISO-8601; default now")] = "",
    timeout: Annotated[float, typer.Option(help="seconds to wait for the job")] = 1800.0,
) -> None:
    """Backfill hourly weather history of one location; returns when it is stored."""
    end_at = _date("--end", end) if end else datetime.now(UTC)
    start_at = _date("--start", start) if start else end_at - timedelta(days=30)

    async def command(ctx: CliContext) -> None:
        job = await run_weather_backfill(
            ctx, location, start=start_at, end=end_at, timeout=timeout, console=console
        )
        console.print(f"stored {job.candles_stored} hours of {job.symbol}")

    _run(command)


@import_app.command("binance-archive")
def import_binance_archive(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="monthly/daily kline .zip files", exists=True, dir_okay=False, readable=True
        ),
    ],
    timeout: Annotated[float, typer.Option(help="seconds to wait per file")] = 1800.0,
) -> None:
    """Import Binance public-archive kline zips (checksum verified when present)."""

    async def command(ctx: CliContext) -> None:
        total = 0
        for path in files:
            job = await run_archive_import(ctx, path, timeout=timeout, console=console)
            total += job.candles_stored
        console.print(f"imported {total} candles from {len(files)} file(s)")

    _run(command)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="3-32 letters, digits, '_', '.', '-'")],
    admin: Annotated[bool, typer.Option("--admin", help="give the user the admin role")] = False,
    email: Annotated[
        str | None, typer.Option(help="the user's address; default <username>@localhost")
    ] = None,
) -> None:
    """Create a user in the database; the password is read from a prompt, or from
    the first line of standard input when it is not a terminal."""
    settings = Settings()
    configure_logging("cli", "WARNING")
    try:
        check_identity(username, email)
        password = read_new_password(settings)
        user = asyncio.run(
            create_user_from_cli(
                settings,
                username=username,
                email=email,
                password=password,
                role="admin" if admin else "user",
            )
        )
    except CliError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"created {user.role} '{user.username}' (id {user.id}, {user.email})")


@backtest_app.command("submit")
def backtest_submit(
    symbol: Annotated[list[str], typer.Option(help="Binance pair; repeat for several")],
    strategy: Annotated[
        str, typer.Option(help="e.g. sma_cross; see GET /api/crypto/backtest/strategies")
    ],
    interval: Annotated[list[str], typer.Option(help="1h, 4h or 1d; repeat for several")] = ["1h"],  # noqa: B006
    grid: Annotated[list[str], typer.Option(help="NAME=START:STOP:STEP or NAME=V1,V2")] = [],  # noqa: B006
    start: Annotated[str, typer.Option(help="ISO-8601; default one year before --end")] = "",
    end: Annotated[str, typer.Option(help="exclusive, ISO-8601; default now")] = "",
    fee: Annotated[float, typer.Option(help="per side, fraction of notional")] = 0.001,
    slippage_bps: Annotated[float, typer.Option(help="basis points per fill")] = 0.0,
    initial_cash: Annotated[float, typer.Option()] = 10_000.0,
    rank_by: Annotated[str, typer.Option(help="metric that ranks the results")] = "sharpe",
    user: Annotated[
        str | None, typer.Option(help="owner of the batch; default the first admin")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="show progress and the ranking")
    ] = False,
    top: Annotated[int, typer.Option(help="rows of the ranking")] = 10,
) -> None:
    """Queue a grid of backtests to the workers; --follow shows progress and the ranking."""
    from redis.asyncio import Redis

    from ticktide_cli.backtests import parse_grid, submit_and_follow

    end_at = _date("--end", end) if end else datetime.now(UTC)
    start_at = _date("--start", start) if start else end_at - timedelta(days=365)

    async def command(ctx: CliContext) -> None:
        redis = Redis.from_url(ctx.settings.redis_url)
        try:
            body = {
                "symbols": [s.upper() for s in symbol],
                "intervals": interval,
                "start": start_at.isoformat(),
                "end": end_at.isoformat(),
                "strategy": strategy,
                "grid": parse_grid(grid),
                "fee": fee,
                "slippage_bps": slippage_bps,
                "initial_cash": initial_cash,
                "rank_by": rank_by,
            }
            await submit_and_follow(
                ctx, redis, body, owner=user, follow=follow, top=top, console=console
            )
        finally:
            await redis.aclose()

    _run(command)


@backtest_app.command("show")
def backtest_show(
    batch: Annotated[str, typer.Argument(help="batch id")],
    top: Annotated[int, typer.Option(help="rows of the ranking")] = 20,
) -> None:
    """A batch's status and its best results."""
    import uuid

    from ticktide_cli.backtests import show_batch

    try:
        batch_id = uuid.UUID(batch)
    except ValueError:
        raise typer.BadParameter("a batch id (uuid)", param_hint="BATCH") from None
    _run(lambda ctx: show_batch(ctx, batch_id, top=top, console=console))


if __name__ == "__main__":
    app()
