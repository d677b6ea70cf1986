"""Start a Ticktide service as a real subprocess and wait until it is healthy."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx

__all__ = ["free_port", "ServiceProcess", "wait_until"]


# Ports for the servers a test starts, below Linux's ephemeral range (32768 and
# up, where the kernel picks the local port of every outgoing connection: a port
# found free there could be taken by a connection to PostgreSQL before the
# server binds it). TICKTIDE_TEST_PORTS=LOW-HIGH narrows it, so that two test
# runs side by side (make test's two legs) draw from disjoint ranges.
DEFAULT_TEST_PORTS = (20000, 32000)
_handed_out: set[int] = set()


def test_port_range() -> tuple[int, int]:
    """The (low, high) ports of this run, from TICKTIDE_TEST_PORTS or the default."""
    value = os.environ.get("TICKTIDE_TEST_PORTS", "")
    low, _, high = value.partition("-")
    if low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) <= 65535:
        return int(low), int(high)
    return DEFAULT_TEST_PORTS


def free_port() -> int:
    """A port no one listens on, from this run's range, not handed out before by
    this process (until the range is used up)."""
    low, high = test_port_range()
    if len(_handed_out) >= (high - low) // 2:
        _handed_out.clear()
    while True:
        port = random.randint(low, high)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


async def wait_until(
    predicate: Callable[[], Awaitable[bool]],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> None:
    """Poll an async predicate until it is true; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class ServiceProcess:
    """`python -m MODULE` with an environment, its output in a log file."""

    def __init__(
        self, module: str, env: Mapping[str, str], port: int, log_dir: Path, name: str | None = None
    ) -> None:
        self.module = module
        self.env = {**os.environ, **env}
        self.port = port
        self.name = name or module
        self.log_path = log_dir / f"{self.name}-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 40.0) -> ServiceProcess:
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()

        async def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                async with httpx.AsyncClient(timeout=1.0) as client:
                    return (await client.get(f"{self.url}/health")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(healthy, timeout=timeout, what=f"{self.name} /health")
        return self

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
