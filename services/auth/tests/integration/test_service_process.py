"""`python -m ticktide_auth` as a real process: health, readiness, metrics, the
client IP taken from X-Forwarded-For of a hop holding the proxy secret (the
gateway), a clean SIGTERM."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest

from ticktide_auth.testing import session_token, unique_name
from ticktide_common.bus import Bus
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.testing.proxy import trusted_hop

pytestmark = pytest.mark.integration


async def test_auth_service_process(
    service_env: dict[str, str], log_dir: Path, bus: Bus, db_pool: asyncpg.Pool
) -> None:
    port = free_port()
    service = ServiceProcess(
        "ticktide_auth", {**service_env, "AUTH_PORT": str(port)}, port, log_dir
    )
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
            health = (await http.get("/health")).json()
            assert health["status"] == "ok" and health["service"] == "auth"
            ready = await http.get("/ready")
            assert ready.status_code == 200, ready.text
            assert set(ready.json()["checks"]) == {"postgresql", "redis", "rabbitmq"}
            assert (await http.get("/metrics")).status_code == 200

            name = unique_name("proc")
            body = {
                "username": name,
                "email": f"{name}@example.com",
                "password": "process passphrase 1",
            }
            ip = trusted_hop("192.0.2.200")
            assert (await http.post("/api/auth/register", json=body, headers=ip)).status_code == 202
            login = await http.post(
                "/api/auth/login",
                json={"username": name, "password": "process passphrase 1"},
                headers=ip,
            )
            assert login.status_code == 200
            token = session_token(login, "__Host-ticktide_session")
            cookie = {"Cookie": f"__Host-ticktide_session={token}"}
            me = await http.get("/api/auth/me", headers=cookie)
            assert me.json()["username"] == name
            events = await db_pool.fetch(
                "SELECT event_type, host(ip_address) AS ip FROM security_events "
                "WHERE details->>'username' = $1",
                name,
            )
            assert [(e["event_type"], e["ip"]) for e in events] == [("register", "192.0.2.200")]
    finally:
        service.stop()
    # uvicorn re-raises SIGTERM after a graceful shutdown, hence -15 as well as 0.
    assert service.process is not None and service.process.returncode in (0, -15)
    assert "Application shutdown complete" in service.log_tail(), service.log_tail()
