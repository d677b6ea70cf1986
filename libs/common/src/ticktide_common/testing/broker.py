"""RabbitMQ fault tools for tests: a throw-away vhost, and dropping every
connection in it with `rabbitmqctl close_all_connections` (scoped to the vhost,
so other runs sharing the broker are not disturbed)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

__all__ = ["temporary_vhost", "close_all_connections", "rabbitmqctl_available"]


def rabbitmqctl_available() -> bool:
    return shutil.which("rabbitmqctl") is not None


def _ctl(*args: str) -> str:
    result = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


@contextmanager
def temporary_vhost(name: str, amqp_url: str) -> Iterator[str]:
    """Create vhost `name` with full rights for the URL's user; yield its AMQP URL."""
    scheme, _, rest = amqp_url.partition("://")
    credentials, _, host_part = rest.rpartition("@")
    user = credentials.split(":", 1)[0] if credentials else "guest"
    host = host_part.split("/", 1)[0]
    _ctl("add_vhost", name)
    try:
        _ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield f"{scheme}://{credentials}@{host}/{quote(name, safe='')}"
    finally:
        _ctl("delete_vhost", name)


async def close_all_connections(vhost: str, reason: str = "fault injection") -> None:
    await asyncio.to_thread(_ctl, "close_all_connections", "--vhost", vhost, reason)
