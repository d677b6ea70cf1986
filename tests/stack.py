"""The crypto pipeline as real processes for end-to-end and fault tests: a fake
Binance, the writer, ingest-crypto and the gateway, on a run's database and bus."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.testing.processes import ServiceProcess, free_port
from ticktide_common.topology import Topology
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance


@dataclass
class CryptoStack:
    binance: FakeBinance
    gateway: ServiceProcess
    ingest: ServiceProcess
    writer: ServiceProcess
    env: dict[str, str]

    @property
    def api(self) -> str:
        return self.gateway.url

    async def close(self) -> None:
        """Stop the processes, then delete the stack's queues and exchanges."""
        for process in (self.gateway, self.ingest, self.writer):
            process.stop()
        await delete_bus_names(self.env["AMQP_URL"], Topology(self.env["TICKTIDE_BUS_PREFIX"]))


def stack_env(base: dict[str, str], binance_url: str, **extra: str) -> dict[str, str]:
    """The run's environment with ports and a bus prefix of this stack's own, so
    that no other test's consumer can take its messages."""
    gateway_port, ingest_port, writer_port = free_port(), free_port(), free_port()
    stack_id = uuid.uuid4().hex[:6]
    return {
        **base,
        "TICKTIDE_BUS_PREFIX": f"{base['TICKTIDE_BUS_PREFIX']}-{stack_id}",
        "TICKTIDE_REDIS_PREFIX": f"{base['TICKTIDE_REDIS_PREFIX']}{stack_id}:",
        "BINANCE_BASE_URL": binance_url,
        "GATEWAY_PORT": str(gateway_port),
        "INGEST_CRYPTO_PORT": str(ingest_port),
        "WRITER_PORT": str(writer_port),
        "INGEST_CRYPTO_URL": f"http://127.0.0.1:{ingest_port}",
        "WRITER_URL": f"http://127.0.0.1:{writer_port}",
        "BINANCE_BACKOFF_SECONDS": "0.05",
        "CRYPTO_FINALIZE_SWEEP_SECONDS": "0.5",
        **extra,
    }


async def start_stack(binance: FakeBinance, env: dict[str, str], log_dir: Path) -> CryptoStack:
    writer = await ServiceProcess(
        "ticktide_writer", env, int(env["WRITER_PORT"]), log_dir, "writer"
    ).start()
    ingest = await ServiceProcess(
        "ticktide_ingest_crypto", env, int(env["INGEST_CRYPTO_PORT"]), log_dir, "ingest-crypto"
    ).start()
    gateway = await ServiceProcess(
        "ticktide_gateway", env, int(env["GATEWAY_PORT"]), log_dir, "gateway"
    ).start()
    return CryptoStack(binance, gateway, ingest, writer, env)
