"""Bench: candles per second from the bus into `crypto_prices`, end to end,
beside the raw `COPY` rate of the same rows into the same table.

One run, one fresh database (`ticktide_bench_<id>`, migrated, dropped after)
and its own bus prefix on the configured servers:

1. raw COPY: the rows, pre-rendered as COPY text, loaded into the empty
   `crypto_prices` by one `COPY ... FROM STDIN` (PostgreSQL's own ceiling for
   this table and its indexes);
2. end to end: a real writer process (`python -m ticktide_writer`) consumes
   while this process publishes the batches (publisher confirms awaited);
   timed from the first publish to the commit of the last batch;
3. drain: the same batches published first with no writer running, then a
   writer started; timed from its start to the last commit — the writer's own
   rate without the publisher competing for the CPU.

The table is emptied between the three. Each run checks that exactly N rows
arrived and that their `sum(close_price)` equals that of the raw COPY (every
digit stored). Target (issue 2): end to end >= 50% of the raw COPY rate.

    uv run python bench/ingest.py [--candles 1000000] [--batch 1000] [--symbols 10]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from ticktide_common.bus import Bus
from ticktide_common.messages import CandleBatchV1, CandleV1
from ticktide_common.migrate import apply_migrations
from ticktide_common.settings import Settings
from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.topology import Topology

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
TARGET_SHARE = 0.5


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


def writer(env: dict[str, str], log_dir: Path, name: str) -> ServiceProcess:
    port = free_port()
    return ServiceProcess(
        "ticktide_writer", {**env, "WRITER_PORT": str(port)}, port, log_dir, name=name
    )


async def run(candles: int, batch_size: int, symbols: int) -> list[dict[str, Any]]:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    run_id = uuid.uuid4().hex[:10]
    database = f"ticktide_bench_{run_id}"
    admin_dsn = base.database_url.rpartition("/")[0] + "/postgres"
    dsn = base.database_url.rpartition("/")[0] + f"/{database}"
    topology = Topology(prefix=f"bench{run_id}")
    env = {
        "DATABASE_URL": dsn,
        "AMQP_URL": base.amqp_url,
        "REDIS_URL": base.redis_url,
        "TICKTIDE_BUS_PREFIX": topology.prefix,
        "TICKTIDE_ENV": "dev",
        "LOG_LEVEL": "WARNING",
        "CRYPTO_SCHEDULER_ENABLED": "0",
    }
    per_symbol = candles // symbols
    total = per_symbol * symbols

    print(
        f"bench/ingest: generating {total:,} candles ({symbols} symbols, "
        f"batches of {batch_size}) ...",
        flush=True,
    )
    series = make_series(symbols, per_symbol)
    batches = make_batches(series, batch_size)

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

        bus = await Bus.connect(base.amqp_url, topology, service="bench-ingest")
        with tempfile.TemporaryDirectory(prefix="ticktide-bench-") as logs:
            log_dir = Path(logs)

            # 2. end to end: writer consuming while we publish
            await empty_tables(connection)
            process = await writer(env, log_dir, "writer-e2e").start()
            try:
                started = time.perf_counter()
                waiter = asyncio.create_task(wait_for_batches(connection, len(batches)))
                await publish_all(bus, batches)
                published = time.perf_counter()
                finished = await asyncio.wait_for(waiter, 600)
            finally:
                process.stop()
            _check(await table_digest(connection), reference, "end to end")
            end_to_end = _row(
                "writer end to end (publish → commit)",
                total,
                finished - started,
                copy_seconds,
                note=f"publishing took {published - started:.2f} s",
            )
            end_to_end["ok"] = (finished - started) <= copy_seconds / TARGET_SHARE
            results.append(end_to_end)

            # 3. drain: queue filled first, then the writer started
            await empty_tables(connection)
            await publish_all(bus, batches)
            started = time.perf_counter()
            process = writer(env, log_dir, "writer-drain")
            try:
                await process.start()
                finished = await asyncio.wait_for(wait_for_batches(connection, len(batches)), 600)
            finally:
                process.stop()
            _check(await table_digest(connection), reference, "drain")
            results.append(
                _row(
                    "writer drain (queue pre-filled; incl. start-up)",
                    total,
                    finished - started,
                    copy_seconds,
                )
            )
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
                f"target: end to end >= {TARGET_SHARE:.0%} of the raw COPY rate -> "
                f"{'met' if row['ok'] else 'NOT met'}"
            )


def main(
    candles: int = 1_000_000, batch_size: int = 1000, symbols: int = 10
) -> list[dict[str, Any]]:
    """Run the bench, print its table, return its rows (for bench/run.py)."""
    rows = asyncio.run(run(candles, batch_size, symbols))
    print_table(rows)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--symbols", type=int, default=10)
    args = parser.parse_args()
    main(args.candles, args.batch, args.symbols)
