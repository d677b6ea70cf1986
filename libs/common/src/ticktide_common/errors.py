"""The exception hierarchy shared by all services."""

from __future__ import annotations


class TicktideError(Exception):
    """Base of every error Ticktide raises on purpose."""


class PermanentError(TicktideError):
    """Retrying cannot help: the message goes to its dead-letter queue."""


class TransientError(TicktideError):
    """A dependency hiccup: the message is retried with backoff."""


class PublishError(TransientError):
    """A message was not confirmed by the broker within the timeout."""
