"""nginx in front of a test stack's gateway, as `make up` runs it (the same
template, a self-signed certificate, the proxy secret), on free ports in a
directory of its own: what a client on another machine talks to. Used by the
CLI's remote tests and by bench/ingest."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ticktide_common.testing.processes import free_port

__all__ = ["NginxEdge", "find_nginx", "start_nginx"]

REPO_ROOT = Path(__file__).resolve().parent.parent


def find_nginx() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


@dataclass
class NginxEdge:
    url: str  # https://localhost:PORT
    ca_bundle: Path  # the self-signed certificate, for TICKTIDE_CA_BUNDLE
    process: subprocess.Popen[bytes]
    directory: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_nginx(gateway_port: int, directory: Path, proxy_secret: str) -> NginxEdge:
    """nginx (foreground) proxying to 127.0.0.1:`gateway_port`; returns once it answers."""
    binary = find_nginx()
    if binary is None:
        raise RuntimeError("nginx is not installed (make up installs it)")
    tls, tmp = directory / "tls", directory / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["bash", str(REPO_ROOT / "scripts/make-cert.sh"), str(tls)],
        check=True,
        capture_output=True,
    )
    https_port, http_port = free_port(), free_port()
    conf = directory / "nginx.conf"
    user = "user root;" if _is_root() else ""
    subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts/render-nginx.py"),
            str(REPO_ROOT / "nginx/ticktide.conf.template"),
            str(conf),
            f"USER_DIRECTIVE={user}",
            f"PID_FILE={directory / 'nginx.pid'}",
            "ERROR_LOG=stderr",
            f"ACCESS_LOG={directory / 'access.log'}",
            f"TEMP_DIR={tmp}",
            f"GATEWAY_UPSTREAM=127.0.0.1:{gateway_port}",
            f"LISTEN_HTTP=listen 127.0.0.1:{http_port};",
            f"LISTEN_HTTPS=listen 127.0.0.1:{https_port} ssl http2;",  # as make up
            f"HTTPS_PORT={https_port}",
            f"TLS_CERT={tls / 'cert.pem'}",
            f"TLS_KEY={tls / 'key.pem'}",
            f"PROXY_SECRET={proxy_secret}",
            "PGADMIN_LOCATIONS=",  # as make up with PGADMIN=0 (tests/e2e/test_pgadmin.py: =1)
        ],
        check=True,
        capture_output=True,
    )
    log = (directory / "nginx.log").open("wb")
    process = subprocess.Popen(
        [binary, "-p", str(directory), "-c", str(conf), "-g", "daemon off;"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    edge = NginxEdge(f"https://localhost:{https_port}", tls / "cert.pem", process, directory)
    deadline = time.monotonic() + 20
    context = ssl.create_default_context(cafile=str(edge.ca_bundle))
    while True:
        try:
            httpx.get(f"{edge.url}/api/health", verify=context, timeout=2)
            return edge
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                edge.stop()
                raise RuntimeError(
                    f"nginx did not start: {(directory / 'nginx.log').read_text()[-2000:]}"
                ) from None
            time.sleep(0.2)


def _is_root() -> bool:
    import os

    return os.geteuid() == 0
