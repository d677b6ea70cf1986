"""The writer's tests read the run's settings as the writer's own class."""

from __future__ import annotations

import pytest

from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_writer.settings import WriterSettings


@pytest.fixture(scope="session")
def settings(settings: ServiceSettings) -> WriterSettings:
    """The run's settings as `WriterSettings` (what every writer test, and the
    shared fixtures they use, read)."""
    return settings_for(WriterSettings, settings)
