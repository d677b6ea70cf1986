"""Fault injection for the crash tests; inert outside `TICKTIDE_ENV=test`.

`TICKTIDE_FAULT_EXIT_AFTER_COMMIT=N` ends a consumer (the writer, a backtest
worker) with `os._exit(137)`, as if SIGKILLed, right after its N-th transaction
committed — before the events it announces are published and before the
message is acked — so a test can prove that the redelivered message stores
nothing twice and is still announced exactly once.
"""

from __future__ import annotations

import os
from typing import Protocol

from ticktide_common.logging import get_logger
from ticktide_common.settings import ServiceSettings

__all__ = ["CommitFaultSettings", "CommitFault"]

log = get_logger(__name__)


class CommitFaultSettings(ServiceSettings):
    """The fault-injection setting of a consumer (writer, backtest worker)."""

    # Honoured only when TICKTIDE_ENV=test.
    ticktide_fault_exit_after_commit: int | None = None


class _FaultSource(Protocol):
    """What `CommitFault.from_settings` reads (`CommitFaultSettings` has it)."""

    @property
    def ticktide_env(self) -> str: ...

    @property
    def ticktide_fault_exit_after_commit(self) -> int | None: ...


class CommitFault:
    """Counts commits and kills the process after the configured one."""

    def __init__(self, exit_after_commit: int | None = None) -> None:
        self.exit_after_commit = exit_after_commit
        self.commits = 0

    @classmethod
    def from_settings(cls, settings: _FaultSource) -> CommitFault:
        if settings.ticktide_env != "test":
            return cls(None)
        return cls(settings.ticktide_fault_exit_after_commit)

    def committed(self) -> None:
        self.commits += 1
        if self.exit_after_commit is not None and self.commits >= self.exit_after_commit:
            log.warning("fault.exit_after_commit", commits=self.commits)
            os._exit(137)
