"""`/admin/security`: the security-event log and the activity log, newest
first, filtered by one GET form (user, event type, activity action, time range
in UTC) and paged by keyset cursors, each table on its own (`ev_*` and `act_*`
carry the last row's timestamp and id of the page before). What the form
cannot be asked is said beside its field, and the tables stay empty."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from ticktide_common.dates import to_utc
from ticktide_web.api import ApiError
from ticktide_web.deps import PageDep

router = APIRouter()

PAGE_SIZE = 50
MAX_ID = 2**63 - 1
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TYPE = re.compile(r"^[a-z_]{1,64}$")
_ACTION = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")

# Suggestions for the type and action fields (any other name can be typed).
EVENT_TYPES = (
    "login_failed",
    "login_throttled",
    "register",
    "registration_throttled",
    "user_created",
    "password_changed",
    "password_change_failed",
    "token_created",
    "token_revoked",
    "role_changed",
    "user_disabled",
    "user_enabled",
    "email_changed",
    "user_deleted",
)
ACTIONS = (
    "login",
    "logout",
    "register",
    "password_change",
    "token_create",
    "token_revoke",
    "admin.user_create",
    "admin.user_update",
    "admin.user_delete",
    "POST /api/crypto/backtest/batch",
    "DELETE /api/crypto/backtest/batch/{batch_id}",
    "POST page /admin",
)


def _moment(text: str) -> datetime | None:
    """A `datetime-local` value (or any ISO time) as UTC; ValueError if not a time."""
    if not text:
        return None
    # to_utc: a ValueError (not an OverflowError) outside the years 1-9999 in UTC.
    return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _cursor(before: str, before_id: str) -> tuple[str, int] | None:
    if not before or not before_id.isdigit() or not 1 <= int(before_id) <= MAX_ID:
        return None
    try:
        moment = _moment(before)
    except ValueError:
        return None
    return (moment.isoformat(), int(before_id)) if moment else None


def _details(details: Any) -> str:
    """A log row's details as short `key=value` text."""
    if not isinstance(details, dict):
        return "" if details is None else json.dumps(details)
    parts = []
    for key, value in details.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def _url(params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "/admin/security" + (f"?{urlencode(kept)}" if kept else "")


@router.get("/admin/security")
async def security(
    page: PageDep,
    user: str = "",
    type: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    ev_before: str = "",
    ev_id: str = "",
    act_before: str = "",
    act_id: str = "",
) -> Response:
    user, type, action = user.strip()[:100], type.strip()[:100], action.strip()[:300]
    since, until = since.strip()[:40], until.strip()[:40]
    errors: dict[str, str] = {}
    if user and not _USERNAME.match(user):
        errors["user"] = "A username is letters, digits, dots, dashes or underscores."
    if type and not _TYPE.match(type):
        errors["type"] = "An event type is lower-case letters and underscores, e.g. login_failed."
    if action and not _ACTION.match(action):
        errors["action"] = "An action is at most 200 printable characters."
    times: dict[str, datetime | None] = {}
    for name, text in (("since", since), ("until", until)):
        try:
            times[name] = _moment(text)
        except ValueError:
            errors[name] = "Not a date and time; use the picker or YYYY-MM-DDTHH:MM."
            times[name] = None
    if not errors and times["since"] and times["until"] and times["since"] >= times["until"]:
        errors["until"] = "The end must be after the start."

    filters = {"user": user, "type": type, "action": action, "since": since, "until": until}
    common = {
        "username": user or None,
        "since": times["since"].isoformat() if times["since"] else None,
        "until": times["until"].isoformat() if times["until"] else None,
        "limit": PAGE_SIZE + 1,
    }
    ev_cursor, act_cursor = _cursor(ev_before, ev_id), _cursor(act_before, act_id)
    events: list[dict[str, Any]] = []
    activity: list[dict[str, Any]] = []
    error = None
    if errors:
        error = "Please correct the filters marked below."
    else:
        try:
            events, activity = await asyncio.gather(
                page.api.get(
                    "/api/admin/security-events",
                    **common,
                    type=type or None,
                    before=ev_cursor[0] if ev_cursor else None,
                    before_id=ev_cursor[1] if ev_cursor else None,
                ),
                page.api.get(
                    "/api/admin/activity",
                    **common,
                    action=action or None,
                    before=act_cursor[0] if act_cursor else None,
                    before_id=act_cursor[1] if act_cursor else None,
                ),
            )
        except ApiError as exc:
            if exc.status in (401, 403, 404) or exc.status >= 500:
                raise
            error = exc.message

    here = {
        **filters,
        "ev_before": ev_cursor[0] if ev_cursor else "",
        "ev_id": str(ev_cursor[1]) if ev_cursor else "",
        "act_before": act_cursor[0] if act_cursor else "",
        "act_id": str(act_cursor[1]) if act_cursor else "",
    }

    def older(rows: list[dict[str, Any]], prefix: str) -> str | None:
        if len(rows) <= PAGE_SIZE:
            return None
        last = rows[PAGE_SIZE - 1]
        return _url(
            {**here, f"{prefix}_before": last["timestamp"], f"{prefix}_id": str(last["id"])}
        )

    def newest(cursor: tuple[str, int] | None, prefix: str) -> str | None:
        return _url({**here, f"{prefix}_before": "", f"{prefix}_id": ""}) if cursor else None

    for row in (*events, *activity):
        row["details_text"] = _details(row.get("details"))
    return page.render(
        "admin_security.html",
        title="Security",
        filters=filters,
        filtered=any(filters.values()),
        errors=errors,
        events=events[:PAGE_SIZE],
        activity=activity[:PAGE_SIZE],
        events_older=older(events, "ev"),
        events_newest=newest(ev_cursor, "ev"),
        activity_older=older(activity, "act"),
        activity_newest=newest(act_cursor, "act"),
        event_types=EVENT_TYPES,
        actions=ACTIONS,
        status_code=422 if errors else 200,
        error=error,
    )
