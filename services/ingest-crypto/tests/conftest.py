"""The ingest-crypto's tests read the run's settings as the ingest-crypto's own class."""

from __future__ import annotations

import pytest

from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_ingest_crypto.settings import IngestCryptoSettings


@pytest.fixture(scope="session")
def settings(settings: ServiceSettings) -> IngestCryptoSettings:
    """The run's settings as `IngestCryptoSettings` (what every ingest-crypto test, and the shared
    fixtures they use, read)."""
    return settings_for(IngestCryptoSettings, settings)
