"""The ingest-stocks's tests read the run's settings as the ingest-stocks's own class."""

from __future__ import annotations

import pytest

from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_ingest_stocks.settings import IngestStocksSettings


@pytest.fixture(scope="session")
def settings(settings: ServiceSettings) -> IngestStocksSettings:
    """The run's settings as `IngestStocksSettings` (what every ingest-stocks test, and the shared
    fixtures they use, read)."""
    return settings_for(IngestStocksSettings, settings)
