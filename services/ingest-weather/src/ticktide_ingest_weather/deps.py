"""The `Annotated` dependencies of ingest-weather's routes, read from the
lifespan's typed `IngestState` (`request.state`)."""

from __future__ import annotations

from typing import Annotated

from ticktide_common.ingest_service import BusDep, PoolDep, state_dependency
from ticktide_ingest_weather.service import WeatherIngester
from ticktide_ingest_weather.settings import IngestWeatherSettings

__all__ = ["BusDep", "IngesterDep", "PoolDep", "SettingsDep"]

SettingsDep = Annotated[IngestWeatherSettings, state_dependency("settings")]
IngesterDep = Annotated[WeatherIngester, state_dependency("ingester")]
