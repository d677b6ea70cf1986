"""The crypto pipeline as real processes for end-to-end and fault tests: a fake
Binance, the writer, ingest-crypto, auth and the gateway, on a run's database
and bus. Callers of protected routes sign in with `admin_headers` (an admin
with an API token, made in the database)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from redis.asyncio import Redis

from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.testing.processes import ServiceProcess, free_port, wait_until
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_common.topology import Topology
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance


@dataclass
class CryptoStack:
    binance: FakeBinance
    gateway: ServiceProcess
    auth: ServiceProcess
    ingest: ServiceProcess
    writer: ServiceProcess
    env: dict[str, str]
    web: ServiceProcess | None = None
    backtest_workers: list[ServiceProcess] = field(default_factory=list)
    ingesters: dict[str, ServiceProcess] = field(default_factory=dict)  # stocks, weather

    @property
    def api(self) -> str:
        return self.gateway.url

    async def close(self) -> None:
        """Stop the processes, then delete the stack's queues, exchanges and Redis keys."""
        for process in (
            self.gateway,
            self.auth,
            self.ingest,
            self.writer,
            *self.backtest_workers,
            *self.ingesters.values(),
            *([self.web] if self.web else []),
        ):
            process.stop()
        await delete_bus_names(self.env["AMQP_URL"], Topology(self.env["TICKTIDE_BUS_PREFIX"]))
        redis = Redis.from_url(self.env["REDIS_URL"])
        try:
            prefix = self.env["TICKTIDE_REDIS_PREFIX"]
            async for key in redis.scan_iter(match=f"{prefix}*", count=500):
                await redis.delete(key)
        finally:
            await redis.aclose()


def stack_env(base: dict[str, str], binance_url: str, **extra: str) -> dict[str, str]:
    """The run's environment with ports and a bus prefix of this stack's own, so
    that no other test's consumer can take its messages."""
    gateway_port, ingest_port, writer_port, auth_port, stocks_port, weather_port, web_port = (
        free_port() for _ in range(7)
    )
    stack_id = uuid.uuid4().hex[:6]
    return {
        **base,
        "TICKTIDE_BUS_PREFIX": f"{base['TICKTIDE_BUS_PREFIX']}-{stack_id}",
        "TICKTIDE_REDIS_PREFIX": f"{base['TICKTIDE_REDIS_PREFIX']}{stack_id}:",
        "BINANCE_BASE_URL": binance_url,
        "GATEWAY_PORT": str(gateway_port),
        "INGEST_CRYPTO_PORT": str(ingest_port),
        "WRITER_PORT": str(writer_port),
        "AUTH_PORT": str(auth_port),
        "AUTH_URL": f"http://127.0.0.1:{auth_port}",
        "INGEST_CRYPTO_URL": f"http://127.0.0.1:{ingest_port}",
        "WRITER_URL": f"http://127.0.0.1:{writer_port}",
        "INGEST_STOCKS_PORT": str(stocks_port),
        "INGEST_WEATHER_PORT": str(weather_port),
        "INGEST_STOCKS_URL": f"http://127.0.0.1:{stocks_port}",
        "INGEST_WEATHER_URL": f"http://127.0.0.1:{weather_port}",
        "WEB_PORT": str(web_port),
        "WEB_URL": f"http://127.0.0.1:{web_port}",
        "GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "HTTP_BACKOFF_SECONDS": "0.05",
        "INGEST_FINALIZE_SWEEP_SECONDS": "0.5",
        "BINANCE_BACKOFF_SECONDS": "0.05",
        "CRYPTO_FINALIZE_SWEEP_SECONDS": "0.5",
        **extra,
    }


_INGESTERS = {
    "stocks": ("ticktide_ingest_stocks", "INGEST_STOCKS_PORT", "ingest-stocks"),
    "weather": ("ticktide_ingest_weather", "INGEST_WEATHER_PORT", "ingest-weather"),
    "web": ("ticktide_web", "WEB_PORT", "web"),
}


async def start_stack(
    binance: FakeBinance,
    env: dict[str, str],
    log_dir: Path,
    backtest_workers: int = 0,
    ingesters: tuple[str, ...] = (),
) -> CryptoStack:
    """Start the four services (and `backtest_workers` backtest workers, and the
    named `ingesters`: "stocks", "weather", and "web" for the pages) together; if
    one fails to start, stop the others."""
    processes = [
        ServiceProcess(module, env, int(env[port]), log_dir, name)
        for module, port, name in (
            ("ticktide_gateway", "GATEWAY_PORT", "gateway"),
            ("ticktide_auth", "AUTH_PORT", "auth"),
            ("ticktide_ingest_crypto", "INGEST_CRYPTO_PORT", "ingest-crypto"),
            ("ticktide_writer", "WRITER_PORT", "writer"),
        )
    ]
    for _ in range(backtest_workers):
        port = free_port()
        processes.append(
            ServiceProcess(
                "ticktide_backtest_worker",
                {**env, "BACKTEST_WORKER_PORT": str(port)},
                port,
                log_dir,
                "backtest-worker",
            )
        )
    extra = {
        name: ServiceProcess(
            _INGESTERS[name][0], env, int(env[_INGESTERS[name][1]]), log_dir, _INGESTERS[name][2]
        )
        for name in ingesters
    }
    everything = [*processes, *extra.values()]
    outcomes = await asyncio.gather(*(p.start() for p in everything), return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        for process in everything:
            process.stop()
        raise failures[0]
    gateway, auth, ingest, writer, *workers = processes
    web = extra.pop("web", None)
    return CryptoStack(binance, gateway, auth, ingest, writer, env, web, workers, extra)


async def admin_headers(pool: asyncpg.Pool) -> dict[str, str]:
    """`Authorization` headers of a new admin with an API token."""
    user_id, _ = await create_test_user(pool, role="admin")
    return bearer(await create_test_token(pool, user_id))


async def request_backfill(
    client: httpx.AsyncClient, symbol: str, start: datetime, end: datetime, interval: str = "1h"
) -> str:
    """POST an admin backfill through the gateway; returns the job's status URL."""
    response = await client.post(
        "/api/admin/ingest/crypto/backfill",
        json={
            "symbol": symbol,
            "interval": interval,
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
    )
    assert response.status_code == 202, response.text
    return f"/api/admin/ingest/jobs/{response.json()['job_id']}"


async def backfill_and_wait(
    client: httpx.AsyncClient, symbol: str, start: datetime, end: datetime, interval: str = "1h"
) -> None:
    """A backfill through the gateway, awaited until its job is done."""
    job_url = await request_backfill(client, symbol, start, end, interval)

    async def done() -> bool:
        job = (await client.get(job_url)).json()
        assert job["status"] != "failed", job
        return bool(job["status"] == "done")

    await wait_until(done, timeout=90, what=f"the backfill of {symbol} {interval}")


async def cli_env(stack: CryptoStack, pool: asyncpg.Pool) -> dict[str, str]:
    """The stack's environment plus what `ticktide` needs to reach its API as a
    new admin: TICKTIDE_URL (the gateway) and TICKTIDE_TOKEN."""
    token = (await admin_headers(pool))["Authorization"].removeprefix("Bearer ")
    return {**stack.env, "TICKTIDE_URL": stack.api, "TICKTIDE_TOKEN": token}
