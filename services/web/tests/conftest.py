"""The web service's tests read the run's settings as the web service's own class."""

from __future__ import annotations

import pytest

from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_web.settings import WebSettings


@pytest.fixture(scope="session")
def settings(settings: ServiceSettings) -> WebSettings:
    """The run's settings as `WebSettings` (what every web service test, and the shared
    fixtures they use, read)."""
    return settings_for(WebSettings, settings)
