"""Bench: the archive import as a user runs it — `ticktide import binance-archive`
of 10 symbols × 139 monthly 1h zips (about 1,000,000 candles) from another
directory with only TICKTIDE_URL and a token — beside the raw `COPY` rate of the
same rows into the same keyed table, in the same run.

One run, one fresh database (`ticktide_bench_<id>`, migrated, dropped after),
its own bus and Redis prefixes, its own processes (writer, auth, ingest-crypto,
gateway, and nginx in front when it is installed, as `make up` runs it):

1. raw COPY: the rows, pre-rendered as COPY text, loaded into the empty
   `crypto_prices` by one `COPY ... FROM STDIN` (PostgreSQL's own ceiling for
   this table and its indexes);
2. the user's path: the zips written in Binance's archive format to a temporary
   directory, then `ticktide import binance-archive DIR/*.zip` run as a
   subprocess from another directory with an environment of PATH, HOME,
   TICKTIDE_URL, TICKTIDE_TOKEN (and TICKTIDE_CA_BUNDLE); timed from its start to
   its exit (it returns when every candle is stored);
3. direct bus (the old figure): the same rows published as batches of 1000
   straight to the writer's queue, timed from the first publish to the last commit.

The table is emptied between them. Each run checks that exactly N rows arrived
and that their `sum(close_price)` equals that of the raw COPY (every digit
stored). Target (issue 12): the user's path >= 50% of the raw COPY rate.

    uv run python bench/ingest.py [--months 139] [--symbols 10] [--concurrency 8]
        [--log-dir DIR]   (keep the services' logs, at INFO)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.messages import CandleBatchV1, CandleV1
from ticktide_common.migrate import apply_migrations
from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.users import create_test_token, create_test_user
from ticktide_common.topology import Topology
from ticktide_gateway.settings import GatewaySettings

# tests/edge.py (nginx as `make up` runs it) lives beside bench/ at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.edge import find_nginx, start_nginx  # noqa: E402

START = datetime(2012, 1, 1, tzinfo=UTC)
NAMESPACE = uuid.UUID("5b0c6f6e-8f0a-4c1e-9a57-6a0b2f1c9e11")
COLUMNS = (
    "crypto_id",
    "datetime",
    "interval_type",
    "open_price",
    "high_price",
    "low_price",
    "close_price",
    "volume",
    "source",
)
TARGET_SHARE = 0.5  # of the raw COPY rate, for the user's path


def _decimal(units: int) -> str:
    """A Binance-style 8-decimal string from an integer count of 1e-8."""
    return f"{units // 100_000_000}.{units % 100_000_000:08d}"


def make_series(
    symbols: int, per_symbol: int
) -> dict[str, list[tuple[datetime, str, str, str, str, str]]]:
    """Deterministic random-walk candles (t, o, h, l, c, v) per trading pair."""
    series = {}
    for s in range(symbols):
        price = (20_000 + 1_000 * s) * 100_000_000
        rows = []
        for i in range(per_symbol):
            step = ((i * 2_654_435_761 + s * 97) % 2_000_001 - 1_000_000) * 1_000
            close = max(100_000_000, price + step)
            high = max(price, close) + (i % 97) * 10_000
            low = min(price, close) - (i % 89) * 10_000
            rows.append(
                (
                    START + timedelta(hours=i),
                    _decimal(price),
                    _decimal(high),
                    _decimal(low),
                    _decimal(close),
                    _decimal((i % 5_000 + 1) * 12_345_678),
                )
            )
            price = close
        series[f"BENCH{s}USDT"] = rows
    return series


def make_batches(series: dict[str, list[Any]], batch_size: int) -> list[CandleBatchV1]:
    """Batches in the order an ingester would publish them, symbols interleaved."""
    per_symbol = {
        symbol: [
            CandleBatchV1.model_construct(
                batch_id=uuid.uuid5(NAMESPACE, f"{symbol}:{k}"),
                job_id=None,
                symbol=symbol,
                interval="1h",
                source="binance",
                candles=[
                    CandleV1.model_construct(t=t, o=o, h=h, l=lo, c=c, v=v)
                    for t, o, h, lo, c, v in rows[k : k + batch_size]
                ],
                message_id=uuid.uuid4(),
                produced_at=datetime.now(UTC),
            )
            for k in range(0, len(rows), batch_size)
        ]
        for symbol, rows in series.items()
    }
    interleaved: list[CandleBatchV1] = []
    for group in zip(*per_symbol.values(), strict=True):
        interleaved.extend(group)
    return interleaved


def copy_text(series: dict[str, list[Any]], crypto_ids: dict[str, int]) -> bytes:
    lines = []
    for symbol, rows in series.items():
        crypto_id = crypto_ids[symbol]
        for t, o, h, lo, c, v in rows:
            lines.append(f"{crypto_id}\t{t.isoformat()}\t1h\t{o}\t{h}\t{lo}\t{c}\t{v}\tbinance\n")
    return "".join(lines).encode()


async def empty_tables(connection: asyncpg.Connection) -> None:
    await connection.execute("TRUNCATE crypto_prices, ingest_batches")
    await connection.execute("VACUUM ANALYZE crypto_prices")
    await connection.execute("CHECKPOINT")


async def table_digest(connection: asyncpg.Connection) -> tuple[int, str]:
    row = await connection.fetchrow("SELECT count(*), sum(close_price)::text FROM crypto_prices")
    assert row is not None
    return int(row[0]), str(row[1])


async def wait_for_batches(connection: asyncpg.Connection, batches: int) -> float:
    """Poll until `batches` batches are committed; returns the monotonic time seen."""
    while True:
        if await connection.fetchval("SELECT count(*) FROM ingest_batches") >= batches:
            return time.perf_counter()
        await asyncio.sleep(0.01)


async def publish_all(bus: Bus, batches: list[CandleBatchV1], window: int = 8) -> None:
    """Publish with up to `window` confirms outstanding, in order of start."""
    semaphore = asyncio.Semaphore(window)

    async def one(message: CandleBatchV1) -> None:
        async with semaphore:
            await bus.publish(message, timeout=60)

    await asyncio.gather(*(one(m) for m in batches))


def _archive_zip(directory: Path, symbol: str, month: datetime, rows: list[Any]) -> Path:
    """One monthly kline zip as Binance publishes it: no header, open times in ms."""
    lines = []
    for t, o, h, lo, c, v in rows:
        open_ms = int(t.timestamp()) * 1000
        lines.append(f"{open_ms},{o},{h},{lo},{c},{v},{open_ms + 3_599_999},0,1,0,0,0\n")
    name = f"{symbol}-1h-{month:%Y-%m}"
    path = directory / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.csv", "".join(lines))
    return path


def write_archives(series: dict[str, list[Any]], directory: Path) -> list[Path]:
    paths: list[Path] = []
    for symbol, rows in series.items():
        by_month: dict[datetime, list[Any]] = {}
        for row in rows:
            by_month.setdefault(row[0].replace(day=1, hour=0), []).append(row)
        paths.extend(_archive_zip(directory, symbol, m, r) for m, r in by_month.items())
    return paths


def _months_hours(months: int) -> int:
    end = datetime(
        START.year + (START.month - 1 + months) // 12,
        (START.month - 1 + months) % 12 + 1,
        1,
        tzinfo=UTC,
    )
    return int((end - START).total_seconds() // 3600)


def _processes(env: dict[str, str], log_dir: Path) -> list[ServiceProcess]:
    return [
        ServiceProcess(module, env, int(env[port]), log_dir, name=name)
        for module, port, name in (
            ("ticktide_writer", "WRITER_PORT", "writer"),
            ("ticktide_auth", "AUTH_PORT", "auth"),
            ("ticktide_ingest_crypto", "INGEST_CRYPTO_PORT", "ingest-crypto"),
            ("ticktide_gateway", "GATEWAY_PORT", "gateway"),
        )
    ]


async def import_with_cli(
    files: list[Path], url: str, token: str, ca_bundle: Path | None, concurrency: int, home: Path
) -> float:
    """Seconds from starting `ticktide import binance-archive` to its exit 0."""
    elsewhere = home / "elsewhere"
    elsewhere.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TICKTIDE_URL": url,
        "TICKTIDE_TOKEN": token,
    }
    if ca_bundle is not None:
        env["TICKTIDE_CA_BUNDLE"] = str(ca_bundle)
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        "import",
        "binance-archive",
        "--concurrency",
        str(concurrency),
        *map(str, files),
        env=env,
        cwd=elsewhere,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 1800)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise AssertionError(f"ticktide import failed:\n{output.decode()[-3000:]}")
    return seconds


async def run(
    months: int, symbols: int, concurrency: int, log_dir: Path | None = None
) -> list[dict[str, Any]]:
    base = GatewaySettings(_env_file=None)  # type: ignore[call-arg]
    run_id = uuid.uuid4().hex[:10]
    database = f"ticktide_bench_{run_id}"
    admin_dsn = base.database_url.rpartition("/")[0] + "/postgres"
    dsn = base.database_url.rpartition("/")[0] + f"/{database}"
    topology = Topology(prefix=f"bench{run_id}")
    secret = secrets.token_hex(16)
    ports = {name: free_port() for name in ("GATEWAY", "AUTH", "INGEST_CRYPTO", "WRITER")}
    env = {
        "DATABASE_URL": dsn,
        "AMQP_URL": base.amqp_url,
        "REDIS_URL": base.redis_url,
        "TICKTIDE_BUS_PREFIX": topology.prefix,
        "TICKTIDE_REDIS_PREFIX": f"bench{run_id}:",
        "TICKTIDE_ENV": "dev",
        "TICKTIDE_PROXY_SECRET": secret,
        "LOG_LEVEL": "INFO" if log_dir is not None else "WARNING",
        "CRYPTO_SCHEDULER_ENABLED": "0",
        "STOCKS_SCHEDULER_ENABLED": "0",
        "WEATHER_SCHEDULER_ENABLED": "0",
        **{f"{name}_PORT": str(port) for name, port in ports.items()},
        **{f"{name}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()},
    }
    per_symbol = _months_hours(months)
    total = per_symbol * symbols

    print(
        f"bench/ingest: generating {total:,} candles ({symbols} symbols × {months} monthly "
        "1h archives) ...",
        flush=True,
    )
    series = make_series(symbols, per_symbol)
    batches = make_batches(series, 1000)

    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    connection = None
    bus = None
    results: list[dict[str, Any]] = []
    try:
        await apply_migrations(dsn)
        connection = await asyncpg.connect(dsn)
        await connection.execute(
            "INSERT INTO cryptocurrencies (symbol, name, binance_symbol) "
            "SELECT s, s, s || 'USDT' FROM unnest($1::text[]) AS s",
            [symbol.removesuffix("USDT") for symbol in series],
        )
        crypto_ids: dict[str, int] = {
            row["binance_symbol"]: row["id"]
            for row in await connection.fetch("SELECT binance_symbol, id FROM cryptocurrencies")
        }

        # 1. raw COPY
        text = copy_text(series, crypto_ids)
        await empty_tables(connection)
        started = time.perf_counter()
        await connection.copy_to_table("crypto_prices", source=io.BytesIO(text), columns=COLUMNS)
        copy_seconds = time.perf_counter() - started
        reference = await table_digest(connection)
        assert reference[0] == total, reference
        results.append(_row("raw COPY into crypto_prices", total, copy_seconds, copy_seconds))

        with tempfile.TemporaryDirectory(prefix="ticktide-bench-") as scratch:
            work = Path(scratch)
            (work / "archives").mkdir()
            logs = log_dir or work / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            files = write_archives(series, work / "archives")
            processes = _processes(env, logs)
            await asyncio.gather(*(p.start() for p in processes))
            edge = None
            try:
                url, ca_bundle = env["GATEWAY_URL"], None
                if find_nginx() is not None:
                    edge = start_nginx(ports["GATEWAY"], work / "nginx", secret)
                    url, ca_bundle = edge.url, edge.ca_bundle
                pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
                assert pool is not None
                try:
                    user_id, _ = await create_test_user(pool, role="admin")
                    token = await create_test_token(pool, user_id)
                finally:
                    await pool.close()

                # 2. the user's path
                await empty_tables(connection)
                seconds = await import_with_cli(
                    files, url, token, ca_bundle, concurrency, work / "home"
                )
                _check(await table_digest(connection), reference, "ticktide import")
                cli = _row(
                    "ticktide import binance-archive (user's path)",
                    total,
                    seconds,
                    copy_seconds,
                    note=f"{len(files)} zips, {concurrency} in flight, "
                    + ("through nginx (HTTPS)" if edge else "to the gateway (HTTP)"),
                )
                cli["ok"] = seconds <= copy_seconds / TARGET_SHARE
                results.append(cli)

                # 3. direct bus, the old figure (the writer is running)
                await empty_tables(connection)
                bus = await Bus.connect(base.amqp_url, topology, service="bench-ingest")
                started = time.perf_counter()
                waiter = asyncio.create_task(wait_for_batches(connection, len(batches)))
                await publish_all(bus, batches)
                finished = await asyncio.wait_for(waiter, 600)
                _check(await table_digest(connection), reference, "direct bus")
                results.append(
                    _row(
                        "writer, batches published straight to the bus",
                        total,
                        finished - started,
                        copy_seconds,
                    )
                )
            finally:
                if edge is not None:
                    edge.stop()
                for process in processes:
                    process.stop()
    finally:
        if bus is not None:
            await bus.close()
        await delete_bus_names(base.amqp_url, topology)
        if connection is not None:
            await connection.close()
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    return results


def _check(digest: tuple[int, str], reference: tuple[int, str], what: str) -> None:
    if digest != reference:
        raise AssertionError(f"{what}: stored {digest}, raw COPY stored {reference}")


def _row(
    measure: str, candles: int, seconds: float, copy_seconds: float, note: str = ""
) -> dict[str, Any]:
    rate = candles / seconds
    return {
        "bench": "ingest",
        "measure": measure,
        "candles": candles,
        "seconds": round(seconds, 3),
        "candles_per_s": round(rate),
        "share_of_copy": f"{copy_seconds / seconds:.0%}",
        "note": note,
        "ok": None,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'measure':<50} {'candles':>10} {'seconds':>9} {'candles/s':>11} {'of COPY':>8}")
    for row in rows:
        print(
            f"{row['measure']:<50} {row['candles']:>10,} {row['seconds']:>9.2f} "
            f"{row['candles_per_s']:>11,} {row['share_of_copy']:>8}"
            + (f"  ({row['note']})" if row["note"] else "")
        )
    for row in rows:
        if row["ok"] is not None:
            print(
                f"target: the user's path >= {TARGET_SHARE:.0%} of the raw COPY rate -> "
                f"{'met' if row['ok'] else 'NOT met'}"
            )


def main(
    months: int = 139, symbols: int = 10, concurrency: int = 8, log_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Run the bench, print its table, return its rows (for bench/run.py)."""
    rows = asyncio.run(run(months, symbols, concurrency, log_dir))
    print_table(rows)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=139)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)  # the CLI's default
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="keep the services' logs here, at INFO"
    )
    args = parser.parse_args()
    main(args.months, args.symbols, args.concurrency, args.log_dir)
