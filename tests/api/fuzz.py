"""One schemathesis run against the live gateway, as `st run --checks all` would
do it (the same engine, phases examples, coverage, fuzzing and stateful), with
the run's identity, seeded values and guards; every failed check comes back as
a `Finding` (see `findings.py`), with the run's figures."""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import Failure
from schemathesis.engine import events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER, HookContext

from tests.api.findings import Finding, RunFigures
from tests.api.guards import NOT_FUZZED, UNUSED_ID, redirected


def _zip_of(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


# The archive upload's body (`application/zip`): bytes that are not a zip, and
# zips whose CSV is not a kline archive's: each must be a 4xx, never a 5xx.
schemathesis.openapi.media_type(
    "application/zip",
    st.binary(min_size=1, max_size=512)
    | st.builds(_zip_of, st.just("BTCUSDT-1h-2024-01.csv"), st.sampled_from(["", "x", "1,2,3"])),
)

__all__ = ["FuzzRun", "run_schemathesis"]

load_all_checks()

# The checks that hold the answers to the document (issue 12): every 2xx body is its
# declared model (the gateway's response models forbid extra fields), every status
# and content type is documented. "all" includes them; naming them here makes a
# schemathesis upgrade that renames or drops one fail loudly instead of checking less.
RESPONSE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
_MISSING = set(RESPONSE_CHECKS) - set(CHECKS.get_all_names())
assert not _MISSING, f"schemathesis no longer has the checks {sorted(_MISSING)}"

NEGATIVE_DATA_REFUSALS = [
    *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"),
    "5xx",  # schemathesis' default list and 413; a 5xx is still a server error (ST101)
]

# Fixed, so each `make test` draws the same examples (what the server's state makes
# of them may still differ); TICKTIDE_FUZZ_SEED explores others.
DEFAULT_SEED = 20261202


@dataclass(frozen=True)
class FuzzRun:
    """What to run: where, as whom, how much."""

    role: str
    base_url: str
    headers: dict[str, str]
    own_ids: dict[str, int]  # path parameter name -> the run's own id
    # "path.batch_id", "query.symbol", "body.symbols[*]" -> values offered half the time
    dictionaries: dict[str, list[str | int]]
    max_examples: int = 25
    workers: int = 2
    request_timeout: float = 20.0


def _dictionary_name(binding: str) -> str:
    return re.sub(r"\W", "_", binding)


def _config(run: FuzzRun) -> schemathesis.Config:
    seed = int(os.environ.get("TICKTIDE_FUZZ_SEED", DEFAULT_SEED))
    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            "base-url": run.base_url,
            "headers": run.headers,
            "workers": run.workers,
            "request-timeout": run.request_timeout,
            "generation": {
                "max-examples": run.max_examples,
                # The run's credentials are the headers; generated ones would stand
                # beside them (a random cookie next to a valid token) and prove nothing.
                "with-security-parameters": False,
            },
            "dictionaries": {
                _dictionary_name(name): {"values": values}
                for name, values in run.dictionaries.items()
            },
            "parameters": {
                name: {"dictionary": _dictionary_name(name), "probability": 0.5}
                for name in run.dictionaries
            },
            "operations": [{"include-path": path, "enabled": False} for path in NOT_FUZZED],
            # A body over the route's limit refused with 413 (documented) is refused.
            "checks": {
                "negative_data_rejection": {"expected-statuses": NEGATIVE_DATA_REFUSALS},
            },
        }
    )
    config.projects.override.checks.update(included_check_names=["all", *RESPONSE_CHECKS])
    return config


def _finding(role: str, failure: Failure, case: Any, response: Any) -> Finding:
    status = getattr(response, "status_code", None)
    try:
        body = response.content.decode(errors="replace") if response is not None else ""
    except AttributeError:
        body = ""
    try:
        request = case.as_curl_command()
    except Exception as exc:  # a case schemathesis cannot render still gets reported
        request = f"(no curl: {exc!r})"
    return Finding(
        role=role,
        code=type(failure).code,
        title=failure.title,
        operation=case.operation.label,
        status=status,
        body=" ".join(body.split())[:500],
        message=failure.message,
        request=request,
    )


_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


def _fill_missing_path_parameters(
    path: str, case: Any, dictionaries: dict[str, list[str | int]]
) -> None:
    """schemathesis sometimes sends a case whose path parameter is missing or is the
    template's own placeholder (the URL then holds the literal "{batch_id}"), which
    tests the template, not the API: each such parameter gets the run's seeded value.
    (Some such cases are built after this hook runs: findings.py excuses those.)"""
    given = case.path_parameters or {}
    missing = [
        name
        for name in _PATH_PARAMETER.findall(path)
        if name not in given or str(given[name]).strip() == f"{{{name}}}"
    ]
    if not missing:
        return
    if case.path_parameters is None:
        case.path_parameters = {}
    for name in missing:
        seeded = dictionaries.get(f"path.{name}")
        case.path_parameters[name] = seeded[0] if seeded else UNUSED_ID


@contextmanager
def _guard_own_ids(
    own_ids: dict[str, int], dictionaries: dict[str, list[str | int]]
) -> Iterator[None]:
    """A `before_call` hook (global in schemathesis: registered for this run only)
    that turns a request aimed at the run's own account or token to UNUSED_ID,
    and fills path parameters schemathesis left out."""

    def before_call(context: HookContext, case: Any, **kwargs: Any) -> None:
        operation = context.operation
        if operation is None:
            return
        _fill_missing_path_parameters(operation.path, case, dictionaries)
        name = redirected(operation.method, operation.path, case.path_parameters, own_ids)
        if name is not None:
            case.path_parameters[name] = UNUSED_ID

    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


def run_schemathesis(run: FuzzRun) -> tuple[list[Finding], RunFigures, list[str]]:
    """Every failed check of the run, its figures, and errors the engine reported
    (an operation it could not test, a request that got no answer)."""
    findings: list[Finding] = []
    errors: list[str] = []
    figures = RunFigures(run.role)
    schema = schemathesis.openapi.from_url(f"{run.base_url}/api/openapi.json", config=_config(run))

    @schema.hook
    def filter_failure(context: HookContext, failure: Failure, case: Any, response: Any) -> bool:
        # Keep every failure in schemathesis' own run; collect it here to sort.
        findings.append(_finding(run.role, failure, case, response))
        return True

    with _guard_own_ids(run.own_ids, run.dictionaries):
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
                figures.examples += len(event.recorder.cases)
                label = event.recorder.label
                if " /" not in label:  # "Stateful tests", not one operation
                    continue
                figures.operations.add(label)
                answered = [i.response for i in event.recorder.interactions.values()]
                if any(r is not None and 200 <= r.status_code < 300 for r in answered):
                    figures.succeeded.add(label)
            elif isinstance(event, events.NonFatalError):
                errors.append(
                    f"[{run.role}] {event.label}: {event.info.title}: {event.info.message}"
                )
            elif isinstance(event, events.FatalError):
                raise AssertionError(f"schemathesis stopped: {event.exception!r}")
            elif isinstance(event, events.EngineFinished):
                figures.seconds = event.running_time
    return findings, figures, errors
