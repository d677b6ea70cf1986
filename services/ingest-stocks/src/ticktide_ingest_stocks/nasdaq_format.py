"""What both Nasdaq answer formats share (pure): the `status` block, the
numbers as strings ("$184.40", "55,467,800", "1,234.5"), and a page of bars
collected from rows (`collect_bars`: refused rows and repeated dates noted).

Every answer of api.nasdaq.com, US and Nordic alike, is
`{"data": ..., "message": ..., "status": {"rCode": 200, "bCodeMessage": null,
"developerMessage": ...}}`; an error answer has `data: null`, an `rCode` other
than 200 and `bCodeMessage: [{"code": 1001, "errorMessage": "Symbol not exists."}]`
(HTTP status 200 all the same).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ticktide_common.messages import StockBarV1
from ticktide_common.upstream import UpstreamFormatError, UpstreamRejectedError

__all__ = [
    "BadNumber",
    "ParsedPage",
    "check_status",
    "collect_bars",
    "optional_decimal",
    "plain_decimal",
]

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


@dataclass(frozen=True)
class ParsedPage:
    """Bars of one answer, oldest first, and the rows that were refused (why)."""

    bars: list[StockBarV1]
    refused: list[str] = field(default_factory=list)


def collect_bars(
    rows: list[object], to_bar: Callable[[dict[str, Any]], StockBarV1], date_field: str
) -> ParsedPage:
    """The bars of `rows`, oldest first: a row that is not an object or that
    `to_bar` refuses, and a date seen before, are noted in `refused` (with the
    row's `date_field`) and left out."""
    by_date: dict[date, StockBarV1] = {}
    refused: list[str] = []
    for row in rows:
        if not isinstance(row, dict):
            refused.append(f"not an object: {row!r:.80}")
            continue
        try:
            bar = to_bar(row)
        except (BadNumber, ValueError) as exc:
            refused.append(f"{row.get(date_field)}: {exc}")
            continue
        if bar.date in by_date:
            refused.append(f"{bar.date}: repeated")
            continue
        by_date[bar.date] = bar
    return ParsedPage([by_date[d] for d in sorted(by_date)], refused)
