"""The web service's settings: the proxy trust boundary, the followed markets (the
weather page's locations), the API token limits its account page states, and its
own: port and where it reaches the gateway's API."""

from __future__ import annotations

from functools import lru_cache

from ticktide_common.api_tokens import ApiTokenSettings
from ticktide_common.settings import MarketCatalogueSettings, ProxyTrustSettings

__all__ = ["WebSettings", "get_settings"]


class WebSettings(ProxyTrustSettings, MarketCatalogueSettings, ApiTokenSettings):
    """What the web service reads."""

    web_port: int = 8106
    # Where the web service reaches the gateway's API (server-side, with the
    # user's own credentials).
    gateway_url: str = "http://127.0.0.1:8100"


@lru_cache(maxsize=1)
def get_settings() -> WebSettings:
    """The process-wide settings, read once."""
    return WebSettings()
