"""Bench: what the session check costs. Authenticated, cached
`GET /api/crypto/prices` (one year of 1h candles) with the session cookie
checked in Redis, beside the same request on a gateway that skips the check
(`_gateway_without_session_check.py`), measured in the same run with the
requests of the two interleaved so that machine noise hits both alike.
Target (issue 3): the check adds under 1 ms at p50.

    uv run python bench/auth.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from redis.asyncio import Redis

from ticktide_common.sessions import SessionStore
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_gateway.settings import GatewaySettings

BENCH_DIR = Path(__file__).resolve().parent
TARGET_ADDED_P50_MS = 1.0


def _sibling(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"ticktide_bench_{name}", BENCH_DIR / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


latency = _sibling("prices_latency")


async def _timed(client: Any, target: str) -> float:
    started = time.perf_counter()
    status, headers, body = await client.get(target)
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200 or headers.get("x-cache") != "hit":
        raise RuntimeError(f"unexpected {status} x-cache={headers.get('x-cache')}: {body[:200]!r}")
    return elapsed


async def run(requests: int = 2000) -> list[dict[str, Any]]:
    load_before = os.getloadavg()[0]
    base = GatewaySettings()
    run_id = f"bench{uuid.uuid4().hex[:8]}"
    admin_dsn = latency._replace_database(base.database_url, "postgres")
    database = f"ticktide_bench_{run_id}"
    redis_prefix = f"{run_id}:"
    dsn, _ = await latency._prepare_database(admin_dsn, database)
    env = {
        "TICKTIDE_ENV": "test",
        "DATABASE_URL": dsn,
        "REDIS_URL": base.redis_url,
        "AMQP_URL": base.amqp_url,
        "TICKTIDE_BUS_PREFIX": run_id,
        "TICKTIDE_REDIS_PREFIX": redis_prefix,
        "LOG_LEVEL": "WARNING",
    }
    checked_port, unchecked_port = free_port(), free_port()
    logs = Path(tempfile.gettempdir())
    checked = ServiceProcess(
        "ticktide_gateway",
        {**env, "GATEWAY_PORT": str(checked_port)},
        checked_port,
        logs,
        name=f"bench-auth-checked-{run_id}",
    )
    unchecked = ServiceProcess(
        "_gateway_without_session_check",
        {
            **env,
            "GATEWAY_PORT": str(unchecked_port),
            "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), *sys.path]),
        },
        unchecked_port,
        logs,
        name=f"bench-auth-unchecked-{run_id}",
    )
    redis = Redis.from_url(base.redis_url)
    store = SessionStore(
        redis,
        redis_prefix,
        idle_seconds=base.session_idle_minutes * 60,
        absolute_seconds=base.session_absolute_hours * 3600,
    )
    target = "/api/crypto/prices?" + urlencode(
        {
            "symbol": latency.SYMBOL,
            "interval": "1h",
            "start": "2023-01-01T00:00:00Z",
            "end": "2024-01-01T00:00:00Z",
        }
    )
    try:
        await asyncio.gather(checked.start(), unchecked.start())
        session = await store.create(user_id=1, username="bench", role="user")
        cookie = {"Cookie": f"{base.session_cookie_name}={session.token}"}
        timings: dict[str, list[float]] = {"with session check": [], "check bypassed": []}
        async with (
            latency.KeepAliveClient("127.0.0.1", checked_port, cookie) as with_check,
            latency.KeepAliveClient("127.0.0.1", unchecked_port) as without_check,
        ):
            clients = {"with session check": with_check, "check bypassed": without_check}
            for client in clients.values():  # fill the cache, warm both processes
                for _ in range(50):
                    await client.get(target)
            for i in range(requests):
                order = list(clients.items()) if i % 2 == 0 else list(clients.items())[::-1]
                for case, client in order:
                    timings[case].append(await _timed(client, target))
    finally:
        checked.stop()
        unchecked.stop()
        async for key in redis.scan_iter(match=f"{redis_prefix}*", count=500):
            await redis.delete(key)
        await redis.aclose()
        await latency._delete_bus_names(base.amqp_url, run_id)
        await latency._drop_database(admin_dsn, database)

    load_after = os.getloadavg()[0]
    summary = {case: sorted(values) for case, values in timings.items()}
    p50 = {case: latency._percentile(v, 0.50) for case, v in summary.items()}
    added = p50["with session check"] - p50["check bypassed"]
    rows = []
    for case, ordered in summary.items():
        rows.append(
            {
                "bench": "auth",
                "case": case,
                "requests": len(ordered),
                "p50_ms": round(p50[case], 3),
                "p99_ms": round(latency._percentile(ordered, 0.99), 3),
                "added_p50_ms": round(added, 3) if case == "with session check" else None,
                "target_added_p50_ms": TARGET_ADDED_P50_MS,
                "ok": added < TARGET_ADDED_P50_MS,
                "load_before": load_before,
                "load_after": load_after,
            }
        )
    return rows


def main(requests: int = 2000) -> list[dict[str, Any]]:
    return asyncio.run(run(requests))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    for row in main(parser.parse_args().requests):
        print(row)
