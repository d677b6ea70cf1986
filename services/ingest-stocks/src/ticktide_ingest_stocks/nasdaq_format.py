"""What both Nasdaq answer formats share (pure): the `status` block and the
numbers as strings ("$184.40", "55,467,800", "1,234.5").

Every answer of api.nasdaq.com, US and Nordic alike, is
`{"data": ..., "message": ..., "status": {"rCode": 200, "bCodeMessage": null,
"developerMessage": ...}}`; an error answer has `data: null`, an `rCode` other
than 200 and `bCodeMessage: [{"code": 1001, "errorMessage": "Symbol not exists."}]`
(HTTP status 200 all the same).
"""

from __future__ import annotations

import re
from typing import Any

from ticktide_common.upstream import UpstreamFormatError, UpstreamRejectedError

__all__ = ["BadNumber", "check_status", "plain_decimal", "optional_decimal"]

_NUMBER = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


class BadNumber(ValueError):
    """A value that is not a number as Nasdaq writes them ("N/A", "", "-")."""


def plain_decimal(raw: object) -> str:
    """'$1,341.07' → '1341.07'; anything else than a non-negative decimal is refused."""
    if not isinstance(raw, str):
        raise BadNumber(f"not a string: {raw!r}")
    text = raw.strip()
    if text.startswith("$"):
        text = text[1:].strip()
    if not _NUMBER.match(text):
        raise BadNumber(f"not a number: {raw!r}")
    return text.replace(",", "")


def optional_decimal(raw: object) -> str | None:
    """Like `plain_decimal`, but "" (and null) mean that no value was published."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    return plain_decimal(raw)


def check_status(payload: object, provider: str, what: str) -> dict[str, Any]:
    """The payload as a dict once its status block says OK; raises otherwise."""
    if not isinstance(payload, dict):
        raise UpstreamFormatError(f"{provider} answered {type(payload).__name__}, not an object")
    status = payload.get("status")
    if not isinstance(status, dict):
        raise UpstreamFormatError(f"{provider} answer for {what} has no status block")
    r_code = status.get("rCode")
    messages = status.get("bCodeMessage") or []
    if r_code != 200 or messages:
        texts = []
        for item in messages if isinstance(messages, list) else [messages]:
            if isinstance(item, dict):
                texts.append(f"{item.get('errorMessage')} (code {item.get('code')})")
            else:
                texts.append(str(item))
        detail = "; ".join(texts) or str(status.get("developerMessage") or "no message")
        raise UpstreamRejectedError(provider, None, f"{detail} [rCode {r_code}]", what=what)
    return payload
