"""Which failures of a job no retry can cure, and the per-job time limit.

A job that failed permanently is recorded failed with its reason and announced
once as an `error` at the first delivery, then dead-lettered: redelivering it
would burn the same CPU for the same failure up to the delivery limit. Anything
not named here (a lost connection, a crash) stays transient and is retried.
"""

from __future__ import annotations

import time

import asyncpg
from pydantic import ValidationError

from ticktide_common.backtests.grid import GridError
from ticktide_common.errors import PermanentError

__all__ = ["JobDeadline", "JobTimeLimitExceeded", "permanent_reason"]

# SQLSTATE classes of statements that fail the same way every time: data
# exceptions (22: a value out of range, bad JSON), integrity violations (23) and
# program limits (54: an index row or a value too large).
_PERMANENT_SQL = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
    asyncpg.exceptions.ProgramLimitExceededError,
)


class JobTimeLimitExceeded(PermanentError):
    """The job ran past BACKTEST_JOB_TIME_LIMIT_SECONDS."""


class JobDeadline:
    """The time limit of one job, checked by the engine between units of work
    (a parameter set, a walk-forward window): the work runs in a thread, which
    cannot be stopped from outside."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    def check(self) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed >= self.seconds:
            raise JobTimeLimitExceeded(
                f"the job ran longer than its time limit of {self.seconds:g} s "
                f"(BACKTEST_JOB_TIME_LIMIT_SECONDS); make the grid or the range smaller"
            )


def permanent_reason(exc: BaseException) -> str | None:
    """The reason to record if `exc` cannot succeed on a retry, else None."""
    if isinstance(exc, PermanentError | GridError | ValidationError):
        return str(exc)
    if isinstance(exc, _PERMANENT_SQL):
        return f"the job's results could not be stored: {exc}"
    if isinstance(exc, ValueError):  # the engine's refusals of costs and bars
        return f"the job cannot run: {exc}"
    return None
