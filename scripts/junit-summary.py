#!/usr/bin/env python3
"""junit-summary.py LABEL=FILE.xml ...: one line of pass counts per pytest leg of
`make test` ("plain PostgreSQL: 1234 passed, 2 skipped; TimescaleDB: ..."). A leg
whose file is missing (the run died before writing it) says so. Standard library only."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path


def leg_summary(label: str, path: Path) -> str:
    if not path.is_file():
        return f"{label}: no report ({path.name} missing)"
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    parts = [f"{passed} passed"]
    if counts["failures"]:
        parts.append(f"{counts['failures']} failed")
    if counts["errors"]:
        parts.append(f"{counts['errors']} errors")
    if counts["skipped"]:
        parts.append(f"{counts['skipped']} skipped")
    return f"{label}: " + ", ".join(parts)


def main(arguments: list[str]) -> int:
    lines = []
    for argument in arguments:
        label, _, file = argument.partition("=")
        lines.append(leg_summary(label, Path(file)) if file else label)
    print("; ".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
