"""scripts/wait-healthy.py names the process whose exit stopped the stack (what
`make up` prints when the process manager exits), from honcho's own log lines."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wait_healthy", ROOT / "scripts/wait-healthy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOG = """\
07:36:10 system            | gateway.1 started (pid=5990)
07:36:10 system            | nginx.1 started (pid=5991)
07:36:11 gateway.1         | {"event": "Application startup complete."}
07:36:11 nginx.1           | nginx: [emerg] bind() to 127.0.0.1:42625 failed (98: Address in use)
07:36:11 system            | nginx.1 stopped (rc=1)
07:36:11 system            | sending SIGTERMs to gateway.1
07:36:12 gateway.1         | {"event": "Application shutdown complete."}
07:36:12 system            | gateway.1 stopped (rc=-15)
""".splitlines()


def test_the_first_process_to_stop_by_itself_is_named_with_its_output() -> None:
    script = _script()
    assert script.first_to_stop(LOG) == ("nginx.1", "1")
    report = script.culprit_report(LOG)
    assert report[0] == "--- nginx.1 stopped first (rc=1); its last lines ---"
    assert report[1:] == [LOG[3]]


def test_when_all_were_terminated_the_first_is_named_and_without_a_stop_nothing() -> None:
    script = _script()
    terminated = [line for line in LOG if "nginx.1 stopped" not in line]
    assert script.first_to_stop(terminated) == ("gateway.1", "-15")
    assert script.culprit_report(LOG[:3]) == []
