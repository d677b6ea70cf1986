"""What an API command of the CLI needs: the credential it signs in with and
the API client built from it, opened and closed together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ticktide_cli.api_client import ApiClient
from ticktide_cli.credentials import Credential
from ticktide_cli.errors import CliError

__all__ = ["CliContext", "open_context", "CliError"]


@dataclass
class CliContext:
    credential: Credential
    api: ApiClient


@asynccontextmanager
async def open_context(
    credential: Credential, verify: object, max_connections: int = 16
) -> AsyncIterator[CliContext]:
    api = ApiClient(
        credential.url,
        credential.token,
        verify=verify,  # type: ignore[arg-type]
        max_connections=max_connections,
    )
    try:
        yield CliContext(credential, api)
    finally:
        await api.aclose()
