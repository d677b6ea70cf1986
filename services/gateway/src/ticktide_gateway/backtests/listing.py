"""A user's backtest batches as lists (`GET /api/crypto/backtest/batches`, the
dashboard): items from rows, and the opaque keyset cursor (the item and page
models are in `schemas.py`).

Pure: no I/O (rows come from `backtests.repository.list_batches`). A cursor
names the last batch of a page by (created_at, id), the order of the list; the
next page is what sorts after it. Anything that is not a cursor this module
wrote is an `InvalidQuery` (→ 422).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from ticktide_gateway.backtests.schemas import BatchItem, BatchPage
from ticktide_gateway.validation import InvalidQuery

__all__ = ["BatchItem", "BatchPage", "BatchKey", "encode_cursor", "decode_cursor", "batch_item"]

BatchKey = tuple[datetime, uuid.UUID]

_CURSOR_VERSION = "b1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_BAD_CURSOR = (
    "query parameter 'before': not a cursor of this list; pass the `next` of the "
    "previous page unchanged, or leave `before` out for the first page"
)


def encode_cursor(key: BatchKey) -> str:
    created_at, batch_id = key
    micros = (created_at - _EPOCH) // _MICROSECOND
    raw = f"{_CURSOR_VERSION}:{micros}:{batch_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> BatchKey:
    """The (created_at, id) a cursor names; `InvalidQuery` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, micros, batch_hex = raw.split(":")
        if version != _CURSOR_VERSION or not micros.lstrip("-").isdigit():
            raise ValueError(version)
        return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(hex=batch_hex)
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError) as exc:
        raise InvalidQuery(_BAD_CURSOR) from exc


def batch_item(row: asyncpg.Record) -> BatchItem:
    """The item of a row of `backtests.repository.list_batches`."""
    return BatchItem(
        batch_id=row["id"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        status=row["status"],
        strategy=row["strategy"],
        symbols=json.loads(row["symbols"] or "[]"),
        intervals=json.loads(row["intervals"] or "[]"),
        jobs=row["total_jobs"],
        done=row["jobs_done"] + row["jobs_failed"] + row["jobs_skipped"],
        failed=row["jobs_failed"],
        skipped=row["jobs_skipped"],
        backtests=row["total_backtests"],
    )
