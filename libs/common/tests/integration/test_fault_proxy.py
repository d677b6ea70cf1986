"""The fault proxy of the fault tests (issue 16) between a real client and a real
TCP server of the test's own, then in front of the machine's PostgreSQL: bytes
pass unchanged both ways; latency delays without reordering; a blackhole stalls
both directions and new connections, and after `heal()` everything sent
meanwhile arrives; `reset()` ends open connections with an error on the client's
side, and `refuse=True` resets new ones; the bandwidth cap holds a transfer back."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from ticktide_common.testing.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def _round_trip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    received = await reader.read(-1)
    writer.close()
    return received


async def test_bytes_pass_unchanged_both_ways(echo_port: int) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    async with FaultProxy("127.0.0.1", echo_port) as proxy:
        assert await _round_trip(proxy.port, payload) == payload
        assert proxy.connections == 1
        await asyncio.sleep(0.05)
        assert proxy.open_connections == 0


async def test_latency_delays_in_order(echo_port: int) -> None:
    async with FaultProxy("127.0.0.1", echo_port) as proxy:
        proxy.latency(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        started = time.monotonic()
        for index in range(5):
            writer.write(f"{index};".encode())
            await writer.drain()
        received = b""
        while len(received) < 10:
            received += await reader.read(100)
        elapsed = time.monotonic() - started
        writer.close()
    assert received == b"0;1;2;3;4;"
    assert elapsed >= 0.4  # 0.2 s each way


async def test_a_blackhole_stalls_and_heal_delivers_what_was_sent(echo_port: int) -> None:
    async with FaultProxy("127.0.0.1", echo_port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        proxy.blackhole()
        writer.write(b"held")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(100), 0.5)
        # A new connection is accepted but answers nothing either.
        late_reader, late_writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        late_writer.write(b"late")
        await late_writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(late_reader.read(100), 0.3)
        proxy.heal()
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"held"
        assert await asyncio.wait_for(late_reader.readexactly(4), 5) == b"late"
        writer.close()
        late_writer.close()


async def test_reset_ends_open_connections_and_refuses_new_ones(echo_port: int) -> None:
    async with FaultProxy("127.0.0.1", echo_port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        assert proxy.reset(refuse=True) == 1
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        refused_reader, refused_writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            refused_writer.write(b"x")
            await refused_writer.drain()
            await asyncio.wait_for(refused_reader.readexactly(1), 5)
        proxy.heal()
        assert await _round_trip(proxy.port, b"again") == b"again"


async def test_the_bandwidth_cap_holds_a_transfer_back(echo_port: int) -> None:
    payload = os.urandom(200_000)
    async with FaultProxy("127.0.0.1", echo_port) as proxy:
        proxy.bandwidth(400_000)  # bytes/s each way: 200 kB takes at least 0.5 s
        started = time.monotonic()
        assert await _round_trip(proxy.port, payload) == payload
        assert time.monotonic() - started >= 0.45


async def test_postgresql_through_the_proxy_fails_while_cut_and_works_after(
    service_env: dict[str, str],
) -> None:
    dsn = service_env["DATABASE_URL"]
    server = urlsplit(dsn)
    async with FaultProxy(server.hostname or "127.0.0.1", server.port or 5432) as proxy:
        url = proxy.url_for(dsn)
        assert str(proxy.port) in url and url.rpartition("/")[2] == dsn.rpartition("/")[2]
        connection = await asyncpg.connect(url)
        assert await connection.fetchval("SELECT 1") == 1
        proxy.blackhole()
        with pytest.raises(TimeoutError):
            await connection.fetchval("SELECT 2", timeout=0.5)
        proxy.heal()
        proxy.reset()
        with pytest.raises((ConnectionError, asyncpg.PostgresError, asyncpg.InterfaceError)):
            await connection.fetchval("SELECT 3", timeout=5)
        await connection.close(timeout=1)
        again = await asyncpg.connect(url)
        assert await again.fetchval("SELECT 4") == 4
        await again.close()
