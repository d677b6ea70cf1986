"""Moved to `ticktide_common.backtests.events`: this re-export only keeps libs/cli
working until it becomes an API client (issue 12); delete it then."""

from ticktide_common.backtests.events import BatchEventLog, StreamEntry

__all__ = ["BatchEventLog", "StreamEntry"]
