"""`GET /api/services` against real processes: every service of a stack of its
own (gateway, auth, the three ingesters, writer, a backtest worker) beats every
0.5 s and is listed ready; a stopped one says `stopping` and goes stale, a killed
one goes stale; the web service (a stub here) is probed, and so is a pgAdmin that
does not answer (unreachable); queue depths, consumers
and dead letters are the broker's, and a missing queue is reported missing."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from ticktide_common.bus import Bus
from ticktide_common.messages import BacktestJobV1
from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.testing.processes import ServiceProcess, free_port, wait_until
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_common.topology import BACKTEST_WORKER_JOBS, WRITER_CANDLES, Topology
from ticktide_gateway.health.queues import declared_depths

pytestmark = pytest.mark.integration

HEARTBEAT_SECONDS = 0.5
WEB_INSTANCE = "web-" + uuid.uuid4().hex[:8]


class FakeWeb:
    """Stands in for services/web: `/health` with the fields the gateway may find."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeWeb:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's names
                if self.path != "/health":
                    self.send_error(404)
                    return
                body = json.dumps(
                    {
                        "status": "ok",
                        "service": "web",
                        "version": "web-test",
                        "instance": WEB_INSTANCE,
                        "pid": os.getpid(),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def fake_web() -> Iterator[FakeWeb]:
    with FakeWeb() as web:
        yield web


# (module, name) of every service with a bus; each gets a port of its own.
MODULES = {
    "gateway": "ticktide_gateway",
    "auth": "ticktide_auth",
    "ingest-crypto": "ticktide_ingest_crypto",
    "ingest-stocks": "ticktide_ingest_stocks",
    "ingest-weather": "ticktide_ingest_weather",
    "writer": "ticktide_writer",
    "backtest-worker": "ticktide_backtest_worker",
}
PORT_VARIABLES = {
    "gateway": "GATEWAY_PORT",
    "auth": "AUTH_PORT",
    "ingest-crypto": "INGEST_CRYPTO_PORT",
    "ingest-stocks": "INGEST_STOCKS_PORT",
    "ingest-weather": "INGEST_WEATHER_PORT",
    "writer": "WRITER_PORT",
    "backtest-worker": "BACKTEST_WORKER_PORT",
}


@dataclass
class Stack:
    """Every service as a process, on a bus prefix and Redis prefix of its own."""

    processes: dict[str, ServiceProcess]
    env: dict[str, str]

    @property
    def api(self) -> str:
        return self.processes["gateway"].url

    @property
    def topology(self) -> Topology:
        return Topology(self.env["TICKTIDE_BUS_PREFIX"])


@pytest.fixture(scope="module")
async def stack(
    service_env: dict[str, str], log_dir: Path, fake_web: FakeWeb
) -> AsyncIterator[Stack]:
    stack_id = uuid.uuid4().hex[:6]
    ports = {service: free_port() for service in MODULES}
    env = {
        **service_env,
        "TICKTIDE_BUS_PREFIX": f"{service_env['TICKTIDE_BUS_PREFIX']}-{stack_id}",
        "TICKTIDE_REDIS_PREFIX": f"{service_env['TICKTIDE_REDIS_PREFIX']}{stack_id}:",
        "HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "WEB_URL": fake_web.url,
        # pgAdmin is configured but nobody listens there (tests/e2e/test_pgadmin.py
        # probes a real one).
        "PGADMIN_URL": f"http://127.0.0.1:{free_port()}/pgadmin",
        # No provider is asked: schedulers are off and no backfill is requested.
        "BINANCE_BASE_URL": "http://127.0.0.1:9",
        **{PORT_VARIABLES[service]: str(port) for service, port in ports.items()},
    }
    started = Stack(
        {
            service: ServiceProcess(module, env, ports[service], log_dir, f"services-{service}")
            for service, module in MODULES.items()
        },
        env,
    )
    try:
        await asyncio.gather(*(p.start() for p in started.processes.values()))
        yield started
    finally:
        for process in started.processes.values():
            process.stop()
        await delete_bus_names(env["AMQP_URL"], started.topology)
        redis = Redis.from_url(env["REDIS_URL"])
        try:
            async for key in redis.scan_iter(match=f"{env['TICKTIDE_REDIS_PREFIX']}*"):
                await redis.delete(key)
        finally:
            await redis.aclose()


@pytest.fixture(scope="module")
async def user_headers(db_pool: asyncpg.Pool) -> dict[str, str]:
    user_id, _ = await create_test_user(db_pool, role="user")
    return bearer(await create_test_token(db_pool, user_id))


@pytest.fixture
async def client(stack: Stack, user_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api, headers=user_headers, timeout=10) as c:
        yield c


def pid_of(process: ServiceProcess) -> int:
    assert process.process is not None
    return process.process.pid


async def report(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/services")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def row_of(body: dict[str, Any], pid: int) -> dict[str, Any] | None:
    rows = [row for row in body["instances"] if row["pid"] == pid and row["via"] == "heartbeat"]
    return rows[0] if rows else None


async def test_anonymous_is_401(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api, timeout=10) as anonymous:
        assert (await anonymous.get("/api/services")).status_code == 401


async def test_every_instance_is_listed_ready(stack: Stack, client: httpx.AsyncClient) -> None:
    by_service = stack.processes

    async def all_ready() -> bool:
        body = await report(client)
        rows = [row_of(body, pid_of(p)) for p in by_service.values()]
        return all(r is not None and r["ready"] and not r["stale"] for r in rows)

    await wait_until(all_ready, timeout=20, what="a ready heartbeat of every service")
    body = await report(client)
    for service, process in by_service.items():
        row = row_of(body, pid_of(process))
        assert row is not None, service
        assert row["service"] == service
        assert row["host"] == socket.gethostname()
        assert row["status"] == "running"
        assert row["version"]
        uuid.UUID(row["instance"])
        assert row["started_at"] <= row["last_seen"]
        assert row["checks"] and set(row["checks"].values()) == {"ok"}, row
        assert "rabbitmq" in row["checks"]
    (web,) = [row for row in body["instances"] if row["service"] == "web"]
    assert web["via"] == "probe"
    assert (web["instance"], web["version"], web["ready"], web["stale"]) == (
        WEB_INSTANCE,
        "web-test",
        True,
        False,
    )
    (pgadmin,) = [row for row in body["instances"] if row["service"] == "pgadmin"]
    assert (pgadmin["via"], pgadmin["status"], pgadmin["ready"]) == ("probe", "unreachable", False)
    assert pgadmin["checks"]["health"].startswith("unreachable: "), pgadmin
    assert body["source"] in ("management", "declare")


async def test_queues_of_the_topology_with_consumers_and_dead_letters(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    topology = stack.topology
    dead = 7
    connection = await aio_pika.connect(stack.env["AMQP_URL"])
    try:
        channel = await connection.channel()
        dlx = await channel.get_exchange(topology.dead_letter_exchange)
        for i in range(dead):  # straight into writer.candles.dlq, which nobody consumes
            await dlx.publish(
                aio_pika.Message(f"dead {i}".encode()),
                routing_key=topology.queue_name(WRITER_CANDLES),
            )
    finally:
        await connection.close()

    async def counted() -> bool:
        rows = {row["name"]: row for row in (await report(client))["queues"]}
        return bool(rows[topology.queue_name(WRITER_CANDLES)]["dead_letters"] == dead)

    await wait_until(counted, timeout=20, what=f"{dead} dead letters of writer.candles")
    body = await report(client)
    rows = {row["name"]: row for row in body["queues"]}
    assert list(rows) == [topology.queue_name(spec) for spec in topology.queues]
    for name, row in rows.items():
        assert not row["missing"], name
        assert row["consumers"] >= 1, row  # every queue of a full stack has its consumer
    assert rows[topology.queue_name(WRITER_CANDLES)]["messages"] == 0


async def test_a_stopped_instance_goes_stale_and_its_queue_fills(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    topology = stack.topology
    jobs_queue = topology.queue_name(BACKTEST_WORKER_JOBS)
    worker, weather = stack.processes["backtest-worker"], stack.processes["ingest-weather"]
    worker_pid, weather_pid = pid_of(worker), pid_of(weather)
    gateway_pid = pid_of(stack.processes["gateway"])
    worker.stop()  # SIGTERM: a last "stopping" beat
    weather.kill()  # SIGKILL: it just falls silent

    async def both_stale() -> bool:
        body = await report(client)
        rows = [row_of(body, worker_pid), row_of(body, weather_pid)]
        return all(r is not None and r["stale"] for r in rows)

    await wait_until(both_stale, timeout=20, what="the stopped and the killed instance stale")
    body = await report(client)
    stopped, killed = row_of(body, worker_pid), row_of(body, weather_pid)
    assert stopped is not None and killed is not None
    assert (stopped["status"], stopped["ready"]) == ("stopping", False)
    assert (killed["status"], killed["ready"]) == ("running", True)  # its last word
    alive = row_of(body, gateway_pid)
    assert alive is not None and not alive["stale"]

    # The worker's queue has no consumer now: what is published stays there.
    jobs = 5
    bus = await Bus.connect(stack.env["AMQP_URL"], topology, service="tests")
    try:
        for i in range(jobs):
            await bus.publish(_job(i, jobs))
    finally:
        await bus.close()

    async def waiting() -> bool:
        rows = {row["name"]: row for row in (await report(client))["queues"]}
        return bool(rows[jobs_queue]["messages"] == jobs and rows[jobs_queue]["consumers"] == 0)

    await wait_until(waiting, timeout=20, what=f"{jobs} jobs waiting without a consumer")


def _job(job_id: int, total: int) -> BacktestJobV1:
    return BacktestJobV1(
        batch_id=uuid.uuid4(),
        job_id=job_id,
        total_jobs=total,
        symbol="BTCUSDT",
        interval="1h",
        start="2024-01-01T00:00:00Z",  # type: ignore[arg-type]
        end="2024-01-02T00:00:00Z",  # type: ignore[arg-type]
        strategy="buy_and_hold",
        param_sets=[{}],
        fee=0.0,
        slippage_bps=0.0,
        initial_cash=1000.0,
    )


async def test_a_missing_queue_is_none_not_an_error(bus: Bus, topology: Topology) -> None:
    present = topology.queue_name(WRITER_CANDLES)
    absent = f"{topology.prefix}.no-such-queue-{uuid.uuid4().hex[:6]}"
    depths = await declared_depths(bus, [absent, present, absent])
    assert depths[absent] is None
    assert depths[present] is not None
