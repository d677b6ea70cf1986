"""`ticktide import binance-archive` as a user runs it, through the API of a
running stack (the upload goes to the gateway, ingest-crypto parses it, the
writer stores it): millisecond (2024) and microsecond (2025 spot) open times
land on the right dates, checksums are verified, and a bad file fails clearly
and stores nothing."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from tests.stack import CryptoStack, admin_headers
from ticktide_ingest_crypto.binance import ARCHIVE_HEADER

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SYMBOL = "ADAUSDT"
HEADER = list(ARCHIVE_HEADER)


def _rows(month_start: datetime, hours: int, unit: int) -> list[list[str]]:
    """`unit` 1000 for milliseconds, 1_000_000 for microseconds."""
    rows = []
    for i in range(hours):
        t = month_start + timedelta(hours=i)
        open_time = int(t.timestamp()) * unit
        price = f"{0.5 + i / 10_000:.4f}0000"
        rows.append(
            [
                str(open_time),
                price,
                price,
                price,
                price,
                f"{1000 + i}.1",
                str(open_time + 3600 * unit - 1),
                "500.5",
                "42",
                "1.0",
                "0.5",
                "0",
            ]
        )
    return rows


def _write_zip(
    directory: Path, name: str, rows: list[list[str]], header: bool, checksum: str | None = None
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(HEADER)
    writer.writerows(rows)
    path = directory / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.csv", buffer.getvalue())
    digest = checksum or hashlib.sha256(path.read_bytes()).hexdigest()
    (directory / f"{name}.zip.CHECKSUM").write_text(f"{digest}  {name}.zip\n")
    return path


@pytest.fixture
async def cli_env(crypto_stack: CryptoStack, db_pool: asyncpg.Pool) -> dict[str, str]:
    """The CLI's environment: the stack's API and an admin's token."""
    token = (await admin_headers(db_pool))["Authorization"].removeprefix("Bearer ")
    return {"TICKTIDE_URL": crypto_stack.api, "TICKTIDE_TOKEN": token, "COLUMNS": "200"}


async def _ticktide(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 180)
    return process.returncode or 0, output.decode()


async def test_import_millisecond_and_microsecond_archives(
    cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    jan_2024 = datetime(2024, 1, 1, tzinfo=UTC)
    jan_2025 = datetime(2025, 1, 1, tzinfo=UTC)
    ms_file = _write_zip(tmp_path, f"{SYMBOL}-1h-2024-01", _rows(jan_2024, 744, 1000), True)
    us_file = _write_zip(tmp_path, f"{SYMBOL}-1h-2025-01", _rows(jan_2025, 744, 1_000_000), False)

    code, output = await _ticktide(cli_env, "import", "binance-archive", str(ms_file), str(us_file))
    assert code == 0, output
    assert "imported 1488 candles from 2 of 2 file(s)" in " ".join(output.split())

    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """SELECT date_trunc('month', p.datetime) AS month, count(*) AS n,
                      min(p.datetime) AS first, max(p.datetime) AS last,
                      min(p.source) AS source
               FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
               WHERE c.binance_symbol = $1 GROUP BY 1 ORDER BY 1""",
            SYMBOL,
        )
        first_close = await connection.fetchval(
            """SELECT p.close_price::text FROM crypto_prices p
               JOIN cryptocurrencies c ON c.id = p.crypto_id
               WHERE c.binance_symbol = $1 AND p.datetime = $2""",
            SYMBOL,
            jan_2025,
        )
    finally:
        await connection.close()
    assert [(r["month"], r["n"], r["first"], r["last"], r["source"]) for r in rows] == [
        (jan_2024, 744, jan_2024, datetime(2024, 1, 31, 23, tzinfo=UTC), "binance-archive"),
        (jan_2025, 744, jan_2025, datetime(2025, 1, 31, 23, tzinfo=UTC), "binance-archive"),
    ]
    assert first_close == "0.50000000"


async def test_checksum_mismatch_fails_and_stores_nothing(
    cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    bad = _write_zip(
        tmp_path,
        "XRPUSDT-1h-2024-02",
        _rows(datetime(2024, 2, 1, tzinfo=UTC), 24, 1000),
        True,
        checksum="0" * 64,
    )
    code, output = await _ticktide(cli_env, "import", "binance-archive", str(bad))
    assert code == 1
    assert "checksum mismatch" in " ".join(output.split()), output
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval(
            """SELECT count(*) FROM crypto_prices p JOIN cryptocurrencies c
               ON c.id = p.crypto_id WHERE c.binance_symbol = 'XRPUSDT'"""
        )
    finally:
        await connection.close()
    assert stored == 0


async def test_one_bad_file_of_a_bundle_is_refused_alone_and_the_others_are_stored(
    cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """Files of one series travel as one bundle; the server refuses a bundle with a
    bad member as a whole, and the CLI then sends its files one by one: the good
    ones are stored, the bad one gets its own reason, the run exits 1."""
    months = [datetime(2024, month, 1, tzinfo=UTC) for month in (3, 4, 5)]
    files = [
        _write_zip(
            tmp_path,
            f"DOTUSDT-1h-{start:%Y-%m}",
            _rows(start, 48, 1000),
            True,
            checksum="0" * 64 if start.month == 4 else None,
        )
        for start in months
    ]
    code, output = await _ticktide(cli_env, "import", "binance-archive", *map(str, files))
    flat = " ".join(output.split())
    assert code == 1, output
    assert "checksum mismatch" in flat and "imported 96 candles from 2 of 3 file(s)" in flat
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetch(
            """SELECT date_trunc('month', p.datetime) AS month, count(*) AS n
               FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
               WHERE c.binance_symbol = 'DOTUSDT' GROUP BY 1 ORDER BY 1"""
        )
    finally:
        await connection.close()
    assert [(row["month"], row["n"]) for row in stored] == [(months[0], 48), (months[2], 48)]
