"""Whether a PostgreSQL extension a migration asks for can be used: pure logic, no I/O.

Three states (issue 11). *usable*: the server lists the extension and, for one that
must be preloaded (TimescaleDB), `shared_preload_libraries` names it or the database
already has it. *not preloaded*: the files are installed but the library is not
preloaded, so `CREATE EXTENSION` would end the connection with a FATAL; the runner
takes the plain-PostgreSQL path and warns once with the line to add. *absent*: not
listed; the plain path, no warning.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "PRELOADED_EXTENSIONS",
    "ExtensionState",
    "classify_extension",
    "not_preloaded_warning",
    "preloaded_libraries",
]

# Extensions whose library must be in shared_preload_libraries before CREATE EXTENSION.
PRELOADED_EXTENSIONS = frozenset({"timescaledb"})


class ExtensionState(Enum):
    USABLE = "usable"
    NOT_PRELOADED = "not-preloaded"
    ABSENT = "absent"


def preloaded_libraries(setting: str) -> frozenset[str]:
    """The library names of a `shared_preload_libraries` value
    (`'timescaledb', "$libdir/pg_stat_statements"` -> {timescaledb, pg_stat_statements})."""
    names = set()
    for item in setting.split(","):
        name = item.strip().strip("'\"").strip()
        name = name.rsplit("/", 1)[-1]
        if name.endswith(".so"):
            name = name[: -len(".so")]
        if name:
            names.add(name)
    return frozenset(names)


def classify_extension(
    name: str, *, available: bool, created: bool, preloaded: frozenset[str]
) -> ExtensionState:
    """The state of extension `name` given what the server says: listed in
    pg_available_extensions, already in pg_extension, and the preloaded libraries."""
    if created:
        return ExtensionState.USABLE
    if not available:
        return ExtensionState.ABSENT
    if name in PRELOADED_EXTENSIONS and name not in preloaded:
        return ExtensionState.NOT_PRELOADED
    return ExtensionState.USABLE


def not_preloaded_warning(name: str, waiting: list[str]) -> str:
    """One line: what was skipped and the postgresql.conf line that enables it."""
    return (
        f"warning: {name} is installed on this PostgreSQL server but its library is not "
        f"preloaded, so the plain-PostgreSQL path is used and {', '.join(waiting)} "
        f"will apply on a later run once it is; to use {name}, add "
        f"shared_preload_libraries = '{name}' to postgresql.conf and restart the server"
    )
