"""The gateway's tests read the run's settings as the gateway's own class."""

from __future__ import annotations

import pytest

from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_gateway.settings import GatewaySettings


@pytest.fixture(scope="session")
def settings(settings: ServiceSettings) -> GatewaySettings:
    """The run's settings as `GatewaySettings` (what every gateway test, and the shared
    fixtures they use, read)."""
    return settings_for(GatewaySettings, settings)
