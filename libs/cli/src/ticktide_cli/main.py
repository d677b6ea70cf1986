"""The `ticktide` command: thin typer wiring over the command modules. Every
command but `migrate` and the bootstrap `user create --admin` is a client of
the API (credentials.py says which URL and token; api_client.py makes the
requests)."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.markup import escape

from ticktide_cli.api_client import ApiError, tls_verify
from ticktide_cli.context import CliContext, CliError, open_context
from ticktide_cli.credentials import NOT_SIGNED_IN, Credential, resolve_credential, resolve_url
from ticktide_cli.crypto import open_gaps, run_backfill
from ticktide_cli.status import show_status
from ticktide_cli.stocks_weather import open_stock_gaps, run_stocks_backfill, run_weather_backfill
from ticktide_cli.timeparse import parse_utc
from ticktide_common.garbage_collection import tune_garbage_collector
from ticktide_common.logging import configure_logging
from ticktide_common.migrate import MigrationError, MigrationRun, ensure_database, run_migrations

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
strategy_app = typer.Typer(
    help="Check, save and list strategies written in the rule language ticktide-rules/1 "
    "(JSON documents: params, constraints, entry, exit, stop_loss, take_profit).",
    no_args_is_help=True,
)
app.add_typer(strategy_app, name="strategy")

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


@dataclass
class Connection:
    """The global options: where the API is and how to sign in to it."""

    url: str | None = None
    token: str | None = None
    insecure: bool = False

    def verify(self) -> Any:
        return tls_verify(os.environ.get("TICKTIDE_CA_BUNDLE") or None, self.insecure)


connection = Connection()


@app.callback()
def main_options(
    url: Annotated[
        str | None,
        typer.Option(help="the API's base URL; default TICKTIDE_URL, else https://localhost:8443"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="a personal API token; default TICKTIDE_TOKEN, then the saved login"),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="do not verify the server's TLS certificate")
    ] = False,
) -> None:
    connection.url, connection.token, connection.insecure = url, token, insecure


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _run(command: Callable[[CliContext], Awaitable[T]], max_connections: int = 16) -> T:
    configure_logging("cli", "WARNING")
    tune_garbage_collector()
    credential: Credential | None = None

    async def main() -> T:
        nonlocal credential
        credential = resolve_credential(connection.token, connection.url)
        async with open_context(credential, connection.verify(), max_connections) as ctx:
            return await command(ctx)

    try:
        return asyncio.run(main())
    except ApiError as exc:
        hint = f"; {credential.refused_hint()}" if exc.status == 401 and credential else ""
        raise _fail(f"{exc}{hint}") from None
    except CliError as exc:
        raise _fail(str(exc)) from None
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
    """Services, queues and stored series, from the API."""
    healthy = _run(lambda ctx: show_status(ctx, console))
    raise typer.Exit(0 if healthy else 1)


@app.command()
def login(
    username: Annotated[str | None, typer.Option(help="default: asked on the terminal")] = None,
) -> None:
    """Sign in to the API and keep a personal API token in your config directory
    (the password from a prompt, or standard input's first line)."""
    from ticktide_cli.login import log_in
    from ticktide_cli.users import read_password

    url = resolve_url(connection.url)
    try:
        name = username or input("Username: ").strip()
        password = read_password()
        done = asyncio.run(log_in(url, name, password, verify=connection.verify()))
    except (CliError, EOFError) as exc:
        raise _fail(str(exc) or "no username given") from None
    console.print(
        f"signed in to {url} as {done.role} '{done.username}'; token saved in {done.path}"
        + (f" (expires {done.expires_at})" if done.expires_at else "")
    )


@app.command()
def logout() -> None:
    """Revoke the saved login's token and delete it."""
    from ticktide_cli.login import log_out

    try:
        console.print(asyncio.run(log_out(verify=connection.verify())))
    except CliError as exc:
        raise _fail(str(exc)) from None


@app.command()
def migrate() -> None:
    """Create the database if needed and apply pending migrations."""
    from ticktide_cli.settings import get_settings

    settings = get_settings()
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
    from ticktide_common.settings import CRYPTO_INTERVALS  # (slow to import: load it here)

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
            interval=interval,
            start=start_at,
            end=end_at,
            timeout=timeout,
            console=console,
        )
        gaps, missing = await open_gaps(ctx, job["symbol"], job["interval"])
        console.print(
            f"stored {job['candles_stored']} candles of {job['symbol']} {job['interval']}; "
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
            gaps, sessions = await open_stock_gaps(ctx, job["symbol"])
            console.print(
                f"stored {job['candles_stored']} bars of {job['symbol']}; "
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
        console.print(f"stored {job['candles_stored']} hours of {job['symbol']}")

    _run(command)


@import_app.command("binance-archive")
def import_binance_archive(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="monthly/daily kline .zip files", exists=True, dir_okay=False, readable=True
        ),
    ],
    timeout: Annotated[float, typer.Option(help="seconds to wait for the whole run")] = 1800.0,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="uploads in flight at once")] = 8,
) -> None:
    """Import Binance public-archive kline zips (checksum verified when present):
    uploaded and stored many at once, one verdict per file at the end."""
    from ticktide_cli.archive_import import print_verdicts, run_archive_import

    async def command(ctx: CliContext) -> list[Any]:
        return await run_archive_import(
            ctx, list(files), concurrency=concurrency, timeout=timeout, console=console
        )

    verdicts = _run(command, max_connections=concurrency + 4)
    print_verdicts(console, verdicts)
    failed = [v for v in verdicts if v.verdict != "stored"]
    if failed:
        raise _fail(f"{len(failed)} of {len(verdicts)} file(s) were not imported")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="3-32 letters, digits, '_', '.', '-'")],
    admin: Annotated[bool, typer.Option("--admin", help="give the user the admin role")] = False,
    email: Annotated[
        str | None,
        typer.Option(
            help="the user's address (needed through the API); bootstrap default "
            "<username>@localhost"
        ),
    ] = None,
) -> None:
    """Create a user through the API (as an admin), or — on the stack's host while
    no admin exists — the first admin straight in the database. The password is
    read from a prompt, or from the first line of standard input when it is not
    a terminal."""
    from ticktide_cli.settings import get_settings
    from ticktide_cli.users import check_identity, create_user_via_api, read_new_password

    settings = get_settings()
    configure_logging("cli", "WARNING")
    try:
        check_identity(username, email)
        credential = _credential_or_none()
        bootstrap = admin and (credential is None or credential.origin == "operator")
        if bootstrap and not _admin_exists_on_host():
            from ticktide_cli.bootstrap import create_first_admin

            password = read_new_password(settings)
            user = asyncio.run(
                create_first_admin(settings, username=username, email=email, password=password)
            )
            console.print(f"created {user.role} '{user.username}' (id {user.id}, {user.email})")
            return
        if credential is None:
            raise CliError(
                "an administrator exists already: sign in as one (`ticktide login`, or "
                "TICKTIDE_TOKEN) to create users through the API"
                if bootstrap
                else NOT_SIGNED_IN
            )
        password = read_new_password(settings)
    except CliError as exc:
        raise _fail(str(exc)) from None

    async def command(ctx: CliContext) -> dict[str, Any]:
        return await create_user_via_api(
            ctx,
            username=username,
            email=email,
            password=password,
            role="admin" if admin else "user",
        )

    made = _run(command)
    console.print(f"created {made['role']} '{made['username']}' (id {made['id']}, {made['email']})")


def _credential_or_none() -> Credential | None:
    try:
        return resolve_credential(connection.token, connection.url)
    except CliError:
        return None


def _admin_exists_on_host() -> bool:
    """Whether the host's database has an admin; True (no bootstrap) when it is
    not reachable from here: the CLI is then a remote client."""
    from ticktide_cli.bootstrap import admin_exists
    from ticktide_cli.settings import get_settings

    try:
        return asyncio.run(admin_exists(get_settings()))
    except CliError as exc:
        if "users table is missing" in str(exc):
            raise
        return True


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
        str | None,
        typer.Option(help="no longer used: a batch belongs to the user whose token submits it"),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="show progress and the ranking")
    ] = False,
    top: Annotated[int, typer.Option(help="rows of the ranking")] = 10,
) -> None:
    """Queue a grid of backtests to the workers; --follow shows progress and the ranking."""
    from ticktide_cli.backtests import parse_grid, submit_and_follow

    if user is not None:
        raise _fail(
            "--user is gone: a batch belongs to the user whose token submits it "
            "(sign in as that user: `ticktide login`)"
        )
    end_at = _date("--end", end) if end else datetime.now(UTC)
    start_at = _date("--start", start) if start else end_at - timedelta(days=365)

    async def command(ctx: CliContext) -> None:
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
        await submit_and_follow(ctx, body, follow=follow, top=top, console=console)

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
    _run(lambda ctx: show_batch(ctx, str(batch_id), top=top, console=console))


STRATEGY_FILE_HELP = (
    "a strategy document: a JSON file in ticktide-rules/1, at most 64 KiB; - reads standard input"
)


def _unwrapped_help(command: Callable[..., None]) -> Callable[..., None]:
    """The docstring with each paragraph on one line: typer's help keeps a docstring's
    line breaks, which then break the terminal's wrapping."""
    paragraphs = inspect.cleandoc(command.__doc__ or "").split("\n\n")
    command.__doc__ = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    return command


def _strategy_file(path: str) -> Any:
    """The document in `path`, read and checked here before any request is made."""
    from ticktide_cli.strategies import read_strategy_file

    try:
        return read_strategy_file(path)
    except CliError as exc:
        raise _fail(str(exc)) from None


@strategy_app.command("validate")
@_unwrapped_help
def strategy_validate(
    file: Annotated[str, typer.Argument(help=STRATEGY_FILE_HELP, metavar="FILE")],
) -> None:
    """Check a strategy document without saving it.

    Prints "valid" and the parameters it declares (each a grid axis), or every error
    as FILE: KEY:LINE:COLUMN: MESSAGE [CODE] with the expression's line, the span
    underlined and a hint, and exits 1. A file that is not a JSON object, or is over
    64 KiB, is refused before anything is sent."""
    from ticktide_cli.strategies import (
        Rejection,
        print_parameters,
        print_rejection,
        validate_strategy,
    )

    strategy = _strategy_file(file)
    answer = _run(lambda ctx: validate_strategy(ctx, strategy))
    if isinstance(answer, Rejection):
        print_rejection(err_console, strategy, answer, verb="invalid")
        raise typer.Exit(1)
    console.print(f"{strategy.label}: valid", markup=False, highlight=False, soft_wrap=True)
    print_parameters(console, answer.get("params") or {})


@strategy_app.command("save")
@_unwrapped_help
def strategy_save(
    file: Annotated[str, typer.Argument(help=STRATEGY_FILE_HELP, metavar="FILE")],
    name: Annotated[
        str | None,
        typer.Option(
            help="the strategy's name (letters, digits, spaces, _ . , : ( ) + -); default the "
            "file's name without its extension; saving a name again adds a version"
        ),
    ] = None,
) -> None:
    """Check a strategy document and save it as a new version of your strategy.

    A new name is version 1; saving the same name again adds a version (versions are
    never changed). Prints the strategy's id and the version, or the errors as
    `validate` does (exit 1)."""
    from ticktide_cli.strategies import Rejection, default_name, print_rejection, save_strategy

    strategy = _strategy_file(file)
    try:
        strategy_name = name if name is not None else default_name(file)
    except CliError as exc:
        raise _fail(str(exc)) from None
    answer = _run(lambda ctx: save_strategy(ctx, strategy, strategy_name))
    if isinstance(answer, Rejection):
        print_rejection(err_console, strategy, answer, verb="not saved", name=strategy_name)
        raise typer.Exit(1)
    console.print(
        f"saved '{answer['name']}': strategy {answer['id']} version {answer['version']}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@strategy_app.command("list")
@_unwrapped_help
def strategy_list() -> None:
    """The strategies you can run: the system ones (the built-ins) and your own.

    Each with its id, name, visibility, latest version and when it was created."""
    from ticktide_cli.strategies import list_strategies, print_strategy_table

    print_strategy_table(console, _run(list_strategies))


if __name__ == "__main__":
    app()
