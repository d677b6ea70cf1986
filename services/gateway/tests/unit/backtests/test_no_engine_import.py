"""The gateway is a client of the backtests contract, not of the engine: importing
its app loads neither numpy nor numba (nor llvmlite), which only the workers need."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "numba", "llvmlite")


def test_importing_the_gateway_loads_no_engine_library() -> None:
    code = (
        "import sys, ticktide_gateway.app; "
        f"print(sorted({{m for m in sys.modules if m.split('.')[0] in {HEAVY!r}}}))"
    )
    found = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert found.stdout.strip() == "[]", f"loaded: {found.stdout.strip()}"
    # -X importtime writes one line per imported module: "import time: self | cumulative | name"
    imported = [line.rsplit("|", 1)[-1].strip() for line in found.stderr.splitlines()]
    assert imported, "no -X importtime output"
    heavy = [name for name in imported if name.split(".")[0] in HEAVY]
    assert heavy == [], f"imported: {heavy[:10]}"
