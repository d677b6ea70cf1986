"""Pure: a `UserActivityV1` event as a `user_activity_log` row. Text that
PostgreSQL refuses (NUL characters) is cleaned and an IP address that is not
one becomes NULL, so one odd event can never fail the batch it is written in."""

from __future__ import annotations

import ipaddress
import json
import math
import uuid
from datetime import datetime
from typing import NamedTuple

from ticktide_common.messages import UserActivityV1

__all__ = ["ActivityRow", "activity_row"]


class ActivityRow(NamedTuple):
    event_id: uuid.UUID
    user_id: int | None
    action: str
    ip_address: str | None
    user_agent: str | None
    details: str  # JSON text
    at: datetime


def _clean(text: str) -> str:
    return text.replace("\x00", "")


def _json_value(value: str | int | float | bool | None) -> str | int | float | bool | None:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # jsonb has no NaN or infinity
    return value


def _ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def activity_row(event: UserActivityV1) -> ActivityRow:
    """The row of one event; `event_id` is the message id (redelivery is harmless).
    The username goes into `details` too: it names the actor even after the
    user row is deleted (`user_id` then becomes NULL)."""
    details: dict[str, object] = {
        _clean(key): _json_value(value) for key, value in event.details.items()
    }
    if event.username is not None:
        details.setdefault("username", _clean(event.username))
    return ActivityRow(
        event_id=event.message_id,
        user_id=event.user_id,
        action=_clean(event.action),
        ip_address=_ip(event.ip_address),
        user_agent=_clean(event.user_agent) if event.user_agent else None,
        details=json.dumps(details, allow_nan=False),
        at=event.at,
    )
