"""What the CLI reads from the environment for the only commands that touch the
database on the stack's host: `migrate`, the bootstrap `user create --admin` and
the operator token `make up` writes. Every other command is an API client and
reads TICKTIDE_URL / TICKTIDE_TOKEN / TICKTIDE_CA_BUNDLE (credentials.py)."""

from __future__ import annotations

from functools import lru_cache

from ticktide_common.accounts.policy import PasswordPolicySettings
from ticktide_common.api_tokens import ApiTokenSettings
from ticktide_common.settings import DatabaseSettings

__all__ = ["CliSettings", "get_settings"]


class CliSettings(DatabaseSettings, PasswordPolicySettings, ApiTokenSettings):
    """The database, and the password and token rules the bootstrap applies (the
    auth service's, from the same mixins)."""


@lru_cache
def get_settings() -> CliSettings:
    return CliSettings()
