"""The `Annotated` dependencies of ingest-stocks's routes, read from the
lifespan's typed `IngestState` (`request.state`)."""

from __future__ import annotations

from typing import Annotated

from ticktide_common.ingest_service import BusDep, PoolDep, state_dependency
from ticktide_ingest_stocks.service import StocksIngester
from ticktide_ingest_stocks.settings import IngestStocksSettings

__all__ = ["BusDep", "IngesterDep", "PoolDep", "SettingsDep"]

SettingsDep = Annotated[IngestStocksSettings, state_dependency("settings")]
IngesterDep = Annotated[StocksIngester, state_dependency("ingester")]
