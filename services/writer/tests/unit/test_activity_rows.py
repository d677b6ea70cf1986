"""An activity event as a `user_activity_log` row: what PostgreSQL would refuse
is cleaned, so one odd event cannot fail the group it is written with."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ticktide_common.messages import UserActivityV1
from ticktide_writer.activity_rows import activity_row

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


def event(**overrides: object) -> UserActivityV1:
    fields: dict[str, object] = {
        "user_id": 7,
        "username": "alice",
        "action": "POST /api/x",
        "ip_address": "2001:db8::1",
        "user_agent": "curl/8",
        "details": {"status": 201},
        "at": AT,
    }
    fields.update(overrides)
    return UserActivityV1.model_validate(fields)


def test_row_carries_the_event_and_its_id() -> None:
    source = event()
    row = activity_row(source)
    assert row.event_id == source.message_id
    assert (row.user_id, row.action, row.ip_address, row.user_agent, row.at) == (
        7,
        "POST /api/x",
        "2001:db8::1",
        "curl/8",
        AT,
    )
    assert json.loads(row.details) == {"status": 201, "username": "alice"}


def test_username_in_details_does_not_override_a_given_one() -> None:
    row = activity_row(event(details={"username": "as-sent"}))
    assert json.loads(row.details) == {"username": "as-sent"}


def test_invalid_ip_becomes_null_and_valid_ones_are_normalised() -> None:
    assert activity_row(event(ip_address="999.1.1.1")).ip_address is None
    assert activity_row(event(ip_address="")).ip_address is None
    assert activity_row(event(ip_address=None)).ip_address is None
    assert activity_row(event(ip_address=" 2001:DB8:0::1 ")).ip_address == "2001:db8::1"


def test_nul_characters_and_non_finite_numbers_are_cleaned() -> None:
    row = activity_row(
        event(
            action="POST\x00 /x",
            user_agent="a\x00",
            username=None,
            details={"k\x00": "v\x00", "inf": float("inf")},
        )
    )
    assert row.action == "POST /x" and row.user_agent == "a"
    assert json.loads(row.details) == {"k": "v", "inf": None}
    assert "\\u0000" not in row.details
