"""Wait until every given health URL answers 200 with a JSON status of "ok".

`wait-healthy.py [--timeout S] [--watch-pid PID] [--log FILE] URL...`; exit 0 when all
are healthy, 1 otherwise (printing which are not and the tail of FILE). With
--watch-pid it gives up as soon as that process (the process manager) has exited.
Runs in the project's virtual environment (httpx); TLS is not verified: the local
certificate is self-signed. A URL written `plain+http://...` is healthy on any 200
(pgAdmin's /misc/ping answers the text PING).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import httpx


def problem(client: httpx.Client, url: str) -> str | None:
    """None when `url` is healthy, else what is wrong with it."""
    plain = url.startswith("plain+")
    try:
        response = client.get(url.removeprefix("plain+"))
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if plain:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]}"
    status = body.get("status") if isinstance(body, dict) else None
    if status not in ("ok", None):
        return f"status {status!r}: {response.text[:300]}"
    return None


# honcho's own lines: "12:00:00 system            | writer.1 stopped (rc=1)".
_STOPPED = re.compile(r"\|\s*(?P<process>[\w.-]+) stopped \(rc=(?P<rc>-?\d+)\)")
_SIGTERM = "-15"


def first_to_stop(lines: list[str]) -> tuple[str, str] | None:
    """(process, return code) of the process whose exit brought the others down:
    the first to stop other than by the SIGTERM honcho sends the rest."""
    stopped = [(m["process"], m["rc"]) for line in lines if (m := _STOPPED.search(line))]
    for process, rc in stopped:
        if rc != _SIGTERM:
            return process, rc
    return stopped[0] if stopped else None


def culprit_report(lines: list[str]) -> list[str]:
    """Which process stopped first and its last lines of output, when known."""
    found = first_to_stop(lines)
    if found is None:
        return []
    process, rc = found
    own = [line for line in lines if re.search(rf"\s{re.escape(process)}\s+\|", line)]
    return [f"--- {process} stopped first (rc={rc}); its last lines ---", *own[-25:]]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--watch-pid", type=int)
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    problems: dict[str, str] = {}
    with httpx.Client(timeout=3.0, verify=False) as client:  # noqa: S501 - self-signed, local
        while True:
            problems = {url: p for url in args.urls if (p := problem(client, url)) is not None}
            if not problems:
                return 0
            stopped = args.watch_pid is not None and not alive(args.watch_pid)
            if stopped or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    reason = "the process manager exited" if stopped else f"not healthy after {args.timeout:g}s"
    print(f"error: {reason}:", file=sys.stderr)
    for url, what in problems.items():
        print(f"  {url}: {what}", file=sys.stderr)
    if args.log and args.log.exists():
        lines = args.log.read_text(errors="replace").splitlines()
        if stopped:
            print("\n".join(culprit_report(lines)), file=sys.stderr)
        print(f"--- last lines of {args.log} ---", file=sys.stderr)
        print("\n".join(lines[-40:]), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
