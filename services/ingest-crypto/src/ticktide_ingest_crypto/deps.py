"""The `Annotated` dependencies of ingest-crypto's routes, read from the
lifespan's typed `IngestState` (`request.state`)."""

from __future__ import annotations

from typing import Annotated

from ticktide_common.ingest_service import BusDep, PoolDep, state_dependency
from ticktide_ingest_crypto.service import CryptoIngester
from ticktide_ingest_crypto.settings import IngestCryptoSettings

__all__ = ["BusDep", "IngesterDep", "PoolDep", "SettingsDep"]

SettingsDep = Annotated[IngestCryptoSettings, state_dependency("settings")]
IngesterDep = Annotated[CryptoIngester, state_dependency("ingester")]
