"""The ingest-weather's tests read the run's settings as the ingest-weather's own class."""

from __future__ import annotations

import pytest

from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_ingest_weather.settings import IngestWeatherSettings


@pytest.fixture(scope="session")
def settings(settings: ServiceSettings) -> IngestWeatherSettings:
    """The run's settings as `IngestWeatherSettings` (what every ingest-weather test, and the shared
    fixtures they use, read)."""
    return settings_for(IngestWeatherSettings, settings)
