"""The backtest worker's tests read the run's settings as the backtest worker's own class."""

from __future__ import annotations

import pytest

from ticktide_backtest_worker.settings import WorkerSettings
from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for


@pytest.fixture(scope="session")
def settings(settings: ServiceSettings) -> WorkerSettings:
    """The run's settings as `WorkerSettings` (what every backtest worker test, and the shared
    fixtures they use, read)."""
    return settings_for(WorkerSettings, settings)
