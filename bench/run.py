"""`make bench`: run every bench in bench/ and print one results table.

The convention a bench follows to be picked up:

- it is a module `bench/<name>.py` (a name not starting with `_`, and not
  this file), runnable on its own as `uv run python bench/<name>.py`;
- it defines `main()` which, called without arguments, runs the bench with
  its defaults against the configured servers (creating and removing its own
  database, bus and Redis names), may print its own details, and returns its
  results as a list of flat dicts — one per measured case. A key `ok`
  (bool), where present, says whether that case met its target.

This runner imports each bench by file path (alphabetically), calls `main()`,
and prints each bench's rows as a table whose columns are the rows' keys. A
bench that raises is reported as failed and the others still run. Exit code:
1 if a bench failed, 0 otherwise (a missed target is reported, not fatal:
figures from a shared 2-core machine vary).

    uv run python bench/run.py              # every bench
    uv run python bench/run.py ingest       # only the named ones
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent

Rows = list[dict[str, Any]]


def discover(names: list[str]) -> list[Path]:
    """The bench modules to run: all of bench/, or those named."""
    found = sorted(
        p
        for p in BENCH_DIR.glob("*.py")
        if not p.name.startswith("_") and p.name != Path(__file__).name
    )
    if not names:
        return found
    wanted = {name.removesuffix(".py") for name in names}
    unknown = wanted - {p.stem for p in found}
    if unknown:
        raise SystemExit(
            f"unknown bench(es): {', '.join(sorted(unknown))}; "
            f"available: {', '.join(p.stem for p in found)}"
        )
    return [p for p in found if p.stem in wanted]


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"ticktide_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(path: Path) -> tuple[Rows | None, float, str | None]:
    """(rows, seconds, error) of one bench."""
    started = time.perf_counter()
    try:
        module = load(path)
        entry = getattr(module, "main", None)
        if not callable(entry):
            return None, 0.0, "defines no main()"
        rows = entry()
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return None, time.perf_counter() - started, "main() did not return a list of dicts"
        return rows, time.perf_counter() - started, None
    except Exception as exc:  # one broken bench must not hide the others' figures
        traceback.print_exc()
        return None, time.perf_counter() - started, repr(exc)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def table(rows: Rows) -> str:
    """Rows as an aligned text table; columns in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    cells = [[format_value(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)
    ]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(
            c.rjust(w) if c[:1].isdigit() else c.ljust(w) for c, w in zip(line, widths, strict=True)
        )
        for line in cells
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    benches = discover(argv)
    results: list[tuple[str, Rows | None, float, str | None]] = []
    for path in benches:
        print(f"\n=== bench {path.stem} ===", flush=True)
        results.append((path.stem, *run_one(path)))

    print("\n\n=== results ===")
    failed = missed = 0
    for name, rows, seconds, error in results:
        print(f"\n{name} ({seconds:.1f} s)")
        if error is not None:
            failed += 1
            print(f"  FAILED: {error}")
            continue
        assert rows is not None
        missed += sum(1 for row in rows if row.get("ok") is False)
        print(table(rows) if rows else "  (no rows)")
    print(f"\n{len(results)} bench(es), {failed} failed, {missed} case(s) below target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
