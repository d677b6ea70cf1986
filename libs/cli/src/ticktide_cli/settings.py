"""What the CLI reads from the environment for the only commands that touch the
database on the stack's host: `migrate`, the bootstrap `user create --admin` and
the operator token `make up` writes. Every other command is an API client and
reads TICKTIDE_URL / TICKTIDE_TOKEN / TICKTIDE_CA_BUNDLE (credentials.py)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from ticktide_common.settings import DatabaseSettings

__all__ = ["CliSettings", "get_settings"]


class CliSettings(DatabaseSettings):
    password_min_length: int = 8
    password_max_length: int = 128
    # Auth (issue 10, H3): passwords need this zxcvbn score (0-4, 3 = "safely
    # unguessable"); personal API tokens expire, and a user holds a bounded
    # number of live ones.
    password_min_score: int = Field(default=3, ge=0, le=4)
    api_token_max_days: int = Field(default=365, ge=1)
    api_token_max_live_per_user: int = Field(default=20, ge=1)


@lru_cache
def get_settings() -> CliSettings:
    return CliSettings()
