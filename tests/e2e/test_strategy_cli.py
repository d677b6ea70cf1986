"""`ticktide strategy validate|save|list` as a user runs them: the CLI as a
subprocess with the user's own token, against the real gateway and PostgreSQL.
A valid document prints "valid" and its parameters; a rejected one prints each
error at its key, line and column with the span underlined and the hint (exit 1);
saving prints the id and version (the same name again is version 2); the list
shows it beside the seven system strategies; a refused token is the CLI's usual
401 message."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.stack import stack_env
from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.testing.processes import ServiceProcess
from ticktide_common.testing.users import create_test_token, create_test_user
from ticktide_common.topology import Topology

pytestmark = pytest.mark.integration

SYSTEM_STRATEGIES = (
    "buy_and_hold",
    "sma_cross",
    "ema_cross",
    "rsi_reversion",
    "macd",
    "bollinger_reversion",
    "donchian_breakout",
)
EMA_CROSS: dict[str, Any] = {
    "language": "ticktide-rules/1",
    "params": {
        "fast": {"type": "int", "min": 2, "max": 50, "default": 10},
        "slow": {"type": "int", "min": 10, "max": 200, "default": 30},
    },
    "constraints": ["fast < slow"],
    "entry": "crosses_above(ema(close, fast), ema(close, slow))",
    "exit": "crosses_below(ema(close, fast), ema(close, slow))",
    "stop_loss": "pct(0.05)",
}


@pytest.fixture(scope="module")
async def gateway(service_env: dict[str, str], log_dir: Path) -> AsyncIterator[ServiceProcess]:
    """The gateway alone (the strategy routes need PostgreSQL only; bearer tokens
    are checked by the gateway itself), on ports and prefixes of its own."""
    env = stack_env(service_env, "http://127.0.0.1:9")
    process = ServiceProcess("ticktide_gateway", env, int(env["GATEWAY_PORT"]), log_dir, "gateway")
    try:
        await process.start(timeout=90)  # its bus topology is declared first: slow on a busy host
        yield process
    finally:
        process.stop()
        await delete_bus_names(env["AMQP_URL"], Topology(env["TICKTIDE_BUS_PREFIX"]))
        redis = Redis.from_url(env["REDIS_URL"])
        try:
            async for key in redis.scan_iter(match=f"{env['TICKTIDE_REDIS_PREFIX']}*", count=500):
                await redis.delete(key)
        finally:
            await redis.aclose()


@pytest.fixture
async def user_token(db_pool: asyncpg.Pool) -> str:
    user_id, _ = await create_test_user(db_pool)
    return await create_test_token(db_pool, user_id)


async def _ticktide(
    gateway: ServiceProcess, token: str | None, home: Path, *args: str
) -> tuple[int, str]:
    """Exit code and output (stdout and stderr together) of `ticktide ARGS`, with
    nothing but the API's URL and the token to sign in with."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TICKTIDE_RUN_DIR": str(home / "run"),  # no operator token there
        "TICKTIDE_URL": gateway.url,
        "COLUMNS": "200",
    }
    if token is not None:
        env["TICKTIDE_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        *args,
        env=env,
        cwd=home,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return int(process.returncode or 0), output.decode()


def _write(directory: Path, name: str, document: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(json.dumps(document, indent=2))
    return path


async def test_validate_prints_valid_and_the_parameters(
    gateway: ServiceProcess, user_token: str, tmp_path: Path
) -> None:
    path = _write(tmp_path, "ema.json", EMA_CROSS)
    code, output = await _ticktide(
        gateway, user_token, tmp_path, "strategy", "validate", "ema.json"
    )
    assert code == 0, output
    assert output.startswith("ema.json: valid\n"), output
    rows = [" ".join(line.strip("│┃ ").split()) for line in output.splitlines()]
    assert any(re.fullmatch(r"fast │ int │ 2 │ 50 │ 10", row) for row in rows), output
    assert any(re.fullmatch(r"slow │ int │ 10 │ 200 │ 30", row) for row in rows), output

    # Standard input as the file.
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticktide"),
        "strategy",
        "validate",
        "-",
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "TICKTIDE_URL": gateway.url,
            "TICKTIDE_TOKEN": user_token,
        },
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    piped, _ = await asyncio.wait_for(process.communicate(path.read_bytes()), 120)
    assert process.returncode == 0 and piped.decode().startswith("<stdin>: valid"), piped


async def test_validate_prints_each_error_at_its_line_and_column(
    gateway: ServiceProcess, user_token: str, tmp_path: Path
) -> None:
    document = {
        **EMA_CROSS,
        "constraints": ["fast < slwo"],
        "entry": "close[-1] > close",
        "exit": "crosses_below(ema(close, fast),\n  ema(close, slow)) and volume > sma(volum, 20)",
    }
    _write(tmp_path, "broken.json", document)
    code, output = await _ticktide(
        gateway, user_token, tmp_path, "strategy", "validate", "broken.json"
    )
    assert code == 1, output
    lines = output.splitlines()
    at = lines.index("broken.json: entry:1:7: lags look back only: use close[1] [lookahead]")
    assert lines[at + 1 : at + 3] == ["    close[-1] > close", "          ^^"], output
    assert lines[at + 3].startswith("  hint: close[1] is the value 1 bar(s) ago"), output

    at = lines.index("broken.json: constraints.0:1:8: unknown name 'slwo' [unknown_name]")
    assert lines[at + 1 : at + 4] == [
        "    fast < slwo",
        "           ^^^^",
        "  hint: did you mean 'slow'?",
    ], output

    at = lines.index("broken.json: exit:2:38: unknown name 'volum' [unknown_name]")
    source, caret = lines[at + 1], lines[at + 2]
    assert source == "      ema(close, slow)) and volume > sma(volum, 20)", output
    assert source[caret.index("^") : caret.rindex("^") + 1] == "volum", output
    assert lines[-1] == "broken.json: invalid: 3 errors", output
    assert "Traceback" not in output


async def test_save_prints_the_id_and_version_and_list_shows_it(
    gateway: ServiceProcess, user_token: str, tmp_path: Path
) -> None:
    stem = f"ema_cross_{uuid.uuid4().hex[:6]}"
    _write(tmp_path, f"{stem}.json", EMA_CROSS)
    code, first = await _ticktide(gateway, user_token, tmp_path, "strategy", "save", f"{stem}.json")
    assert code == 0, first
    saved = re.fullmatch(rf"saved '{stem}': strategy (\d+) version 1\n", first)
    assert saved, first

    code, second = await _ticktide(
        gateway, user_token, tmp_path, "strategy", "save", f"{stem}.json"
    )
    assert code == 0, second
    assert second == f"saved '{stem}': strategy {saved.group(1)} version 2\n", second

    code, named = await _ticktide(
        gateway, user_token, tmp_path, "strategy", "save", f"{stem}.json", "--name", "ema (a copy)"
    )
    assert code == 0 and re.fullmatch(r"saved 'ema \(a copy\)': strategy \d+ version 1\n", named)

    code, listed = await _ticktide(gateway, user_token, tmp_path, "strategy", "list")
    assert code == 0, listed
    rows = [line.strip("│┃ ").split() for line in listed.splitlines()]
    cells = [[c for c in row if c not in ("│", "┃")] for row in rows]
    mine = [row for row in cells if stem in row]
    assert len(mine) == 1 and mine[0][:4] == [saved.group(1), stem, "private", "2"], listed
    for name in SYSTEM_STRATEGIES:
        system = [row for row in cells if name in row]
        assert len(system) == 1 and system[0][2:4] == ["system", "1"], listed
    assert "ema (a copy)" in listed

    # The document's errors and the request's are printed as validate prints them.
    _write(tmp_path, "lookahead.json", {**EMA_CROSS, "entry": "close[-1] > close"})
    code, refused = await _ticktide(
        gateway, user_token, tmp_path, "strategy", "save", "lookahead.json"
    )
    assert code == 1 and "lookahead.json: entry:1:7: lags look back only" in refused, refused
    assert refused.splitlines()[-1] == "lookahead.json: not saved: 1 error", refused
    code, refused = await _ticktide(
        gateway, user_token, tmp_path, "strategy", "save", f"{stem}.json", "--name", " spaced"
    )
    assert code == 1, refused
    assert refused.startswith("--name ' spaced': String should match pattern"), refused
    assert "hint: a name has letters, digits, spaces" in refused, refused


async def test_a_refused_token_is_the_usual_login_error(
    gateway: ServiceProcess, tmp_path: Path
) -> None:
    _write(tmp_path, "ema.json", EMA_CROSS)
    for args in (("validate", "ema.json"), ("save", "ema.json"), ("list",)):
        code, output = await _ticktide(gateway, "ttk_not_a_token", tmp_path, "strategy", *args)
        said = " ".join(output.split())
        assert code == 1, output
        assert said.startswith("error: "), output
        assert "refused the credential" in said and "run `ticktide login`" in said, output
        assert "the token (TICKTIDE_TOKEN / --token) is revoked, expired or unknown" in said
    code, output = await _ticktide(gateway, None, tmp_path, "strategy", "list")
    assert code == 1 and "not signed in: set TICKTIDE_TOKEN or run `ticktide login`" in output
