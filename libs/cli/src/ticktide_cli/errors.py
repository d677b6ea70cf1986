"""The CLI's one error type: a failure explained to the user in one line; the
command exits non-zero."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """A failure to explain to the user in one line; the command exits non-zero."""
