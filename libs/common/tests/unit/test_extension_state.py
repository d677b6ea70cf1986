"""The three states of an extension a migration asks for, from what the server says."""

from __future__ import annotations

from ticktide_common.extension_state import (
    ExtensionState,
    classify_extension,
    not_preloaded_warning,
    preloaded_libraries,
)


def test_preload_setting_is_read_as_library_names() -> None:
    assert preloaded_libraries("") == frozenset()
    assert preloaded_libraries("timescaledb") == {"timescaledb"}
    assert preloaded_libraries("'pg_stat_statements', \"$libdir/timescaledb.so\"") == {
        "pg_stat_statements",
        "timescaledb",
    }


def test_timescaledb_needs_the_preload_or_an_existing_extension() -> None:
    def state(**kwargs: object) -> ExtensionState:
        args = {"available": True, "created": False, "preloaded": frozenset()} | kwargs
        return classify_extension("timescaledb", **args)  # type: ignore[arg-type]

    assert state(preloaded=frozenset({"timescaledb"})) is ExtensionState.USABLE
    assert state() is ExtensionState.NOT_PRELOADED
    assert state(created=True) is ExtensionState.USABLE
    assert state(available=False) is ExtensionState.ABSENT


def test_other_extensions_need_only_be_available() -> None:
    none: frozenset[str] = frozenset()
    usable = classify_extension("pg_trgm", available=True, created=False, preloaded=none)
    absent = classify_extension("pg_trgm", available=False, created=False, preloaded=none)
    assert usable is ExtensionState.USABLE
    assert absent is ExtensionState.ABSENT


def test_warning_is_one_line_with_the_postgresql_conf_line() -> None:
    warning = not_preloaded_warning("timescaledb", ["0002_a.sql", "0007_b.sql"])
    assert "\n" not in warning
    assert "shared_preload_libraries = 'timescaledb'" in warning
    assert "postgresql.conf" in warning and "0002_a.sql, 0007_b.sql" in warning
