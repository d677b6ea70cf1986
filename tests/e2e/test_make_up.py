"""`make up` / `make down` for real: the launcher starts the whole stack (every service
under honcho, nginx with TLS) on this run's own ports, database and prefixes, and the
checks a user would make hold: /api/health through nginx reports every service healthy
with the security headers, HTTP redirects to HTTPS, a second `make up` changes nothing,
and `make down` stops every process it started. The trust boundary holds (issue 10):
monitoring endpoints and `..` escapes are 404 through nginx, anonymous health is a
summary, and the client address is nginx's through nginx and the socket's otherwise."""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.testing.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SERVICES = ("gateway", "auth", "ingest-crypto", "ingest-stocks", "ingest-weather", "writer", "web")


async def run_make(target: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "make",
        "--no-print-directory",
        target,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=420)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def https_get_as_is(port: int, path: str, *headers: str) -> tuple[int, bytes]:
    """GET `path` from nginx exactly as written (`curl --path-as-is`: no `..`
    resolution, no re-encoding) over TLS; (status, body)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the local certificate is self-signed
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        lines = [f"GET {path} HTTP/1.1", f"Host: localhost:{port}", "Connection: close", *headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 15)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def answers(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def make_up_env(
    service_env: dict[str, str], tmp_path: Path
) -> tuple[dict[str, int], Path, dict[str, str]]:
    """(ports, run directory, environment) of a `make up` on this run's own ports,
    database and prefixes; the proxy secret is left to make up."""
    ports = {
        name: free_port()
        for name in (
            "TICKTIDE_HTTPS_PORT",
            "TICKTIDE_HTTP_PORT",
            "GATEWAY_PORT",
            "INGEST_CRYPTO_PORT",
            "INGEST_STOCKS_PORT",
            "INGEST_WEATHER_PORT",
            "WRITER_PORT",
            "AUTH_PORT",
            "WEB_PORT",
            "BACKTEST_WORKER_PORT",  # worker i listens on this + i
        )
    }
    run_dir = tmp_path / "run"
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    env = {
        **os.environ,
        **service_env,
        **{name: str(port) for name, port in ports.items()},
        "INGEST_CRYPTO_URL": f"http://127.0.0.1:{ports['INGEST_CRYPTO_PORT']}",
        "WRITER_URL": f"http://127.0.0.1:{ports['WRITER_PORT']}",
        "INGEST_STOCKS_URL": f"http://127.0.0.1:{ports['INGEST_STOCKS_PORT']}",
        "INGEST_WEATHER_URL": f"http://127.0.0.1:{ports['INGEST_WEATHER_PORT']}",
        "AUTH_URL": f"http://127.0.0.1:{ports['AUTH_PORT']}",
        "WEB_URL": f"http://127.0.0.1:{ports['WEB_PORT']}",
        "GATEWAY_URL": f"http://127.0.0.1:{ports['GATEWAY_PORT']}",
        "TICKTIDE_RUN_DIR": str(run_dir),
        "TICKTIDE_ENV_FILE": str(env_file),
        "WORKERS": "2",
        "PGADMIN": "0",  # tests/e2e/test_pgadmin.py starts it
    }
    env.pop("TICKTIDE_PROXY_SECRET", None)  # make up generates one into the run directory
    return ports, run_dir, env


async def test_make_up_serves_healthy_stack_behind_nginx_and_make_down_stops_it(
    repo_root: Path,
    service_env: dict[str, str],
    tmp_path: Path,
    bus: Bus,
    db_pool: asyncpg.Pool,
) -> None:
    # `bus` is requested so that this run's queues, which the services declare, are
    # deleted at the end of the session.
    ports, run_dir, env = make_up_env(service_env, tmp_path)
    https = ports["TICKTIDE_HTTPS_PORT"]
    try:
        code, output = await run_make("up", env, repo_root)
        assert code == 0, output
        assert f"https://localhost:{https}/" in output
        # Its migrate step ran on this run's database, on the leg's server (issue 11), and
        # warned about the preload only where the server has TimescaleDB unloaded.
        database = service_env["DATABASE_URL"].rpartition("/")[2]
        assert f"database {database} is up to date" in output, output
        offered = await db_pool.fetchval(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'timescaledb'"
        )
        preloaded = "timescaledb" in await db_pool.fetchval("SHOW shared_preload_libraries")
        warned = "shared_preload_libraries = 'timescaledb'" in output
        assert warned == (offered and not preloaded), output

        pid_file = run_dir / "honcho.pid"
        honcho_pid = int(pid_file.read_text())
        log = (run_dir / "logs" / "honcho.log").read_text()
        child_pids = [int(p) for p in re.findall(r"started \(pid=(\d+)\)", log)]
        assert len(child_pids) == 10, log  # seven services, two backtest workers and nginx

        async with httpx.AsyncClient(verify=False, timeout=10.0) as client:
            for name in (
                "GATEWAY_PORT",
                "INGEST_CRYPTO_PORT",
                "INGEST_STOCKS_PORT",
                "INGEST_WEATHER_PORT",
                "WRITER_PORT",
                "AUTH_PORT",
                "WEB_PORT",
            ):
                direct = await client.get(f"http://127.0.0.1:{ports[name]}/health")
                assert direct.status_code == 200 and direct.json()["status"] == "ok"
            for worker in range(2):
                port = ports["BACKTEST_WORKER_PORT"] + worker
                direct = await client.get(f"http://127.0.0.1:{port}/health")
                assert direct.json()["service"] == "backtest-worker", direct.text

            response = await client.get(f"https://localhost:{https}/api/health")
            assert response.status_code == 200, response.text
            report = response.json()
            assert report["status"] == "ok", report
            for service in SERVICES:
                assert report["services"][service]["status"] == "ok", report

            headers = response.headers
            assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
            csp = headers["content-security-policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert headers["x-frame-options"] == "DENY"
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "strict-origin-when-cross-origin"

            # A person who opens the URL gets the sign-in page, not a JSON 404.
            home = await client.get(f"https://localhost:{https}/", follow_redirects=False)
            assert home.status_code == 303, home.text
            assert home.headers["location"] == "/login?next=/"
            login_page = await client.get(f"https://localhost:{https}/login")
            assert login_page.status_code == 200
            assert "<title>Sign in · Ticktide</title>" in login_page.text
            assert login_page.headers["x-frame-options"] == "DENY"

            # The headers are on error answers too (`always`).
            missing = await client.get(f"https://localhost:{https}/api/no-such-endpoint")
            assert missing.status_code == 404
            assert missing.headers["x-frame-options"] == "DENY"

            # The proxy secret: made by make up, readable by its owner only, never logged.
            secret_file = run_dir / "proxy-secret"
            secret = secret_file.read_text().strip()
            assert len(secret) >= 32
            assert secret_file.stat().st_mode & 0o077 == 0
            assert (run_dir / "nginx" / "nginx.conf").stat().st_mode & 0o077 == 0
            assert secret not in (run_dir / "logs" / "honcho.log").read_text()

            # Anonymous /api/health through nginx: the summary, no addresses or internals.
            assert set(report) == {"status", "services"}, report
            assert "127.0.0.1" not in response.text and "url" not in response.text

            # Monitoring endpoints and `..` escapes are not served through nginx, and
            # are still served on each service's own port.
            for path in (
                "/metrics",
                "/ready",
                "/health",
                "/api/auth/%2e%2e/%2e%2e/ready",
                "/api/auth/%2e%2e/%2e%2e/metrics",
                "/api/auth/..%2f..%2fready",
            ):
                status, body = await https_get_as_is(https, path)
                assert status == 404, (path, body[:300])
            for name in ("GATEWAY_PORT", "AUTH_PORT"):
                base = f"http://127.0.0.1:{ports[name]}"
                assert (await client.get(f"{base}/metrics")).status_code == 200
                assert (await client.get(f"{base}/ready")).status_code == 200

            # A failed login through nginx is counted against the address nginx saw,
            # not one the client wrote into X-Forwarded-For (the throttle is per IP).
            failed = await client.post(
                f"https://localhost:{https}/api/auth/login",
                json={"username": "nobody-here", "password": "wrong password"},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
            assert failed.status_code == 401, failed.text
            logged_ip = await db_pool.fetchval(
                "SELECT host(ip_address) FROM security_events WHERE event_type = 'login_failed'"
                " AND details->>'username_tried' = 'nobody-here' ORDER BY id DESC LIMIT 1"
            )
            assert logged_ip in ("127.0.0.1", "::1"), logged_ip

            # On the gateway's own port an X-Forwarded-For is not believed at all: the
            # address is the caller's socket, and spoofing does not dodge the throttle.
            gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
            spoofer = f"spoofer-{uuid.uuid4().hex[:8]}"
            direct = await client.post(
                f"{gateway}/api/auth/login",
                json={"username": spoofer, "password": "wrong password"},
                headers={"X-Forwarded-For": "203.0.113.10", "X-Ticktide-Proxy-Secret": "guess"},
            )
            assert direct.status_code == 401, direct.text
            logged_ip = await db_pool.fetchval(
                "SELECT host(ip_address) FROM security_events WHERE event_type = 'login_failed'"
                " AND details->>'username_tried' = $1",
                spoofer,
            )
            assert logged_ip == "127.0.0.1", logged_ip

            # A header value with trailing whitespace is trimmed, not a 503.
            status, body = await https_get_as_is(https, "/api/auth/me", "User-Agent: Mozilla ")
            assert status == 401, body[:300]

            redirect = await client.get(
                f"http://localhost:{ports['TICKTIDE_HTTP_PORT']}/crypto?x=1", follow_redirects=False
            )
            assert redirect.status_code == 301
            assert redirect.headers["location"] == f"https://localhost:{https}/crypto?x=1"

        code, output = await run_make("up", env, repo_root)
        assert code == 0, output
        assert "already running" in output
        assert int(pid_file.read_text()) == honcho_pid

        code, output = await run_make("down", env, repo_root)
        assert code == 0, output
        assert not pid_file.exists()
        for name, port in ports.items():
            assert not answers(port), f"{name} {port} still answers after make down"
        for pid in [honcho_pid, *child_pids]:
            assert not alive(pid), f"process {pid} is still running after make down"
    finally:
        await run_make("down", env, repo_root)


async def test_compose_nginx_conf_is_the_rendered_template(repo_root: Path) -> None:
    """compose.yaml's nginx runs nginx/compose.conf: it must be today's template, rendered."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        "scripts/render-compose-nginx.sh",
        "--stdout",
        cwd=repo_root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    rendered, errors = await process.communicate()
    assert process.returncode == 0, errors.decode()
    committed = (repo_root / "nginx" / "compose.conf").read_text()
    assert rendered.decode() == committed, "nginx/compose.conf is stale: run `make nginx-compose`"


async def test_render_nginx_writes_the_secret_privately_and_refuses_a_bad_one(
    repo_root: Path, tmp_path: Path
) -> None:
    """The rendered config holds the proxy secret: 0600, and a value that could break
    out of its quoted header (or is too short to be a secret) is refused unseen."""
    template = tmp_path / "t.conf"
    template.write_text('proxy_set_header X-Ticktide-Proxy-Secret "{{PROXY_SECRET}}";\n')
    out = tmp_path / "out.conf"

    async def render(secret: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            "python3",
            str(repo_root / "scripts" / "render-nginx.py"),
            str(template),
            str(out),
            f"PROXY_SECRET={secret}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        assert process.returncode is not None
        return process.returncode, output.decode()

    code, output = await render("0123456789abcdef0123")
    assert code == 0, output
    assert out.stat().st_mode & 0o077 == 0
    assert "0123456789abcdef0123" in out.read_text()
    for bad in ("short", 'x"; proxy_pass http://evil; #0123456789'):
        code, output = await render(bad)
        assert code != 0 and bad not in output, output
