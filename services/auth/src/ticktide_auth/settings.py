"""The auth service's settings: PostgreSQL, the Redis session store, the bus (activity
events, heartbeat), the proxy trust boundary, API tokens, and its own: port,
passwords, login and registration throttling."""

from __future__ import annotations

from functools import lru_cache

from ticktide_common.accounts.policy import PasswordPolicySettings
from ticktide_common.api_tokens import ApiTokenSettings
from ticktide_common.sessions import SessionSettings
from ticktide_common.settings import BusSettings, DatabaseSettings, ProxyTrustSettings

__all__ = ["AuthSettings", "get_settings"]


class AuthSettings(
    DatabaseSettings,
    SessionSettings,
    BusSettings,
    ProxyTrustSettings,
    ApiTokenSettings,
    PasswordPolicySettings,
):
    """What the auth service reads."""

    auth_port: int = 8103

    # Sessions' login and registration throttling.
    login_max_failures: int = 20
    login_window_minutes: float = 15.0
    # Registrations per client IP (each one costs an Argon2id hash).
    registration_max_per_ip: int = 5
    registration_window_minutes: float = 60.0


@lru_cache(maxsize=1)
def get_settings() -> AuthSettings:
    """The process-wide settings, read once."""
    return AuthSettings()
