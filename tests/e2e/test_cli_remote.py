"""The CLI from another machine: `ticktide` run as a subprocess from a clean
directory with only PATH, HOME, TICKTIDE_URL (nginx's HTTPS URL in front of a
real stack), TICKTIDE_TOKEN and TICKTIDE_CA_BUNDLE in its environment — no
database, broker or Redis variables. `status`, `backfill crypto` (with its
progress bar), `backtest submit --follow`, `import binance-archive` of several
files and `user create` work; `login` stores a 0600 file that later commands
use and `logout` revokes; with the token revoked the same commands exit
non-zero with a clear message."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import secrets
import stat
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from tests.edge import NginxEdge, find_nginx, start_nginx
from tests.stack import CryptoStack, stack_env, start_stack
from ticktide_common.sessions import hash_secret
from ticktide_common.testing.users import create_test_token, create_test_user
from ticktide_ingest_crypto.binance import ARCHIVE_HEADER
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (make up installs it)"),
]

SYMBOL = "REMOTEUSDT"
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 2, 1, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
REFUSED = "refused the credential"


@dataclass
class Remote:
    stack: CryptoStack
    edge: NginxEdge
    home: Path
    workdir: Path

    def env(self, token: str | None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "TICKTIDE_URL": self.edge.url,
            "TICKTIDE_CA_BUNDLE": str(self.edge.ca_bundle),
            "COLUMNS": "200",
        }
        if token is not None:
            env["TICKTIDE_TOKEN"] = token
        return env

    async def ticktide(
        self, token: str | None, *args: str, stdin: str = "", timeout: float = 180
    ) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "ticktide"),
            *args,
            env=self.env(token),
            cwd=self.workdir,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(stdin.encode()), timeout)
        return int(process.returncode or 0), " ".join(output.decode().split())


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture
async def remote(
    fake_binance: FakeBinance, service_env: dict[str, str], log_dir: Path, tmp_path: Path
) -> AsyncIterator[Remote]:
    secret = secrets.token_hex(16)
    env = stack_env(service_env, fake_binance.url, TICKTIDE_PROXY_SECRET=secret)
    stack = await start_stack(fake_binance, env, log_dir, backtest_workers=1)
    try:
        edge = start_nginx(int(env["GATEWAY_PORT"]), tmp_path / "nginx", secret)
        try:
            home, workdir = tmp_path / "home", tmp_path / "elsewhere"
            home.mkdir()
            workdir.mkdir()
            yield Remote(stack, edge, home, workdir)
        finally:
            edge.stop()
    finally:
        await stack.close()


def _archive(directory: Path, symbol: str, month: datetime, hours: int) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ARCHIVE_HEADER)
    for i in range(hours):
        open_ms = int((month + timedelta(hours=i)).timestamp()) * 1000
        price = f"{2 + i / 1000:.4f}0000"
        writer.writerow(
            [
                open_ms,
                price,
                price,
                price,
                price,
                "10.5",
                open_ms + 3_599_999,
                "1",
                "1",
                "1",
                "1",
                "0",
            ]
        )
    name = f"{symbol}-1h-{month:%Y-%m}"
    path = directory / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.csv", buffer.getvalue())
    return path


async def test_the_cli_as_a_remote_client(
    remote: Remote, fake_binance: FakeBinance, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    admin_id, _ = await create_test_user(db_pool, role="admin")
    token = await create_test_token(db_pool, admin_id)

    code, output = await remote.ticktide(token, "status")
    assert "error:" not in output, output
    assert "services" in output and "queues" in output and "ingest-crypto" in output, output

    fake_binance.add_series(SYMBOL, "1h", START, END)
    window = ["--start", START.isoformat(), "--end", END.isoformat()]
    code, output = await remote.ticktide(token, "backfill", "crypto", SYMBOL, *window)
    assert code == 0, output
    assert f"{SYMBOL} 1h" in output and "744/744 candles" in output, output  # the bar
    assert f"stored 744 candles of {SYMBOL} 1h" in output, output

    code, output = await remote.ticktide(
        token,
        "backtest",
        "submit",
        "--symbol",
        SYMBOL,
        *window,
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5,10",
        "--grid",
        "slow=30",
        "--follow",
    )
    assert code == 0, output
    assert "done: 2 results, 0 failed jobs" in output and "best by sharpe" in output, output
    batch = re.search(r"batch ([0-9a-f-]{36})", output)
    assert batch, output
    owner = await db_pool.fetchval("SELECT user_id FROM backtests WHERE id = $1", batch.group(1))
    assert owner == admin_id  # the calling user's, not "the first admin"

    archives = tmp_path / "archives"
    archives.mkdir()
    files = [
        _archive(archives, "REMOTEARCUSDT", datetime(2023, month, 1, tzinfo=UTC), 24 * 3)
        for month in (1, 2, 3)
    ]
    bad = archives / "REMOTEARCUSDT-1h-2023-04.zip"
    bad.write_bytes(b"not a zip at all")
    code, output = await remote.ticktide(
        token, "import", "binance-archive", *map(str, files), str(bad)
    )
    assert code == 1, output  # one file failed
    assert "imported 216 candles from 3 of 4 file(s)" in output, output
    assert "not a valid zip file" in output, output
    stored = await db_pool.fetchval(
        """SELECT count(*) FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = 'REMOTEARCUSDT' AND p.source = 'binance-archive'"""
    )
    assert stored == 216

    # An admin creates a user through the API; that user signs in and keeps a token.
    name = f"remote{uuid.uuid4().hex[:8]}"
    code, output = await remote.ticktide(
        token, "user", "create", name, "--email", f"{name}@example.com", stdin=PASSWORD + "\n"
    )
    assert code == 0 and f"created user '{name}'" in output, output
    code, output = await remote.ticktide(None, "login", "--username", name, stdin=PASSWORD + "\n")
    assert code == 0 and f"as user '{name}'" in output, output
    saved = remote.home / ".config" / "ticktide" / "credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    login = json.loads(saved.read_text())
    assert (login["url"], login["username"]) == (remote.edge.url, name)
    code, output = await remote.ticktide(None, "status")  # the saved login, no token given
    assert "error:" not in output and "queues" in output, output
    code, output = await remote.ticktide(None, "logout")
    assert code == 0 and "revoked" in output, output
    assert not saved.exists()
    revoked = await db_pool.fetchval(
        "SELECT revoked_at IS NOT NULL FROM api_tokens WHERE token_hash = $1",
        hash_secret(login["token"]),
    )
    assert revoked
    code, output = await remote.ticktide(None, "status")
    assert code == 1 and "not signed in" in output, output

    # The admin's token revoked: every command fails, and says why.
    await db_pool.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1", hash_secret(token)
    )
    for args in (
        ["status"],
        ["backfill", "crypto", SYMBOL, *window],
        ["backtest", "submit", "--symbol", SYMBOL, *window, "--strategy", "buy_and_hold"],
        ["import", "binance-archive", str(files[0])],
    ):
        code, output = await remote.ticktide(token, *args)
        assert code == 1, (args, output)
        assert REFUSED in output and "Traceback" not in output, (args, output)
