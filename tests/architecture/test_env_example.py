"""`.env.example` lists the variables by who reads them (issue 12): every variable
in a section headed `(read by: a, b)` is a field of each of those services'
settings classes, and every variable a section names exists somewhere. Variables
read by the launcher and the CLI are checked against their own lists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_CLASSES = {
    "gateway": ("ticktide_gateway.settings", "GatewaySettings"),
    "auth": ("ticktide_auth.settings", "AuthSettings"),
    "writer": ("ticktide_writer.settings", "WriterSettings"),
    "backtest-worker": ("ticktide_backtest_worker.settings", "WorkerSettings"),
    "web": ("ticktide_web.settings", "WebSettings"),
    "ingest-crypto": ("ticktide_ingest_crypto.settings", "IngestCryptoSettings"),
    "ingest-stocks": ("ticktide_ingest_stocks.settings", "IngestStocksSettings"),
    "ingest-weather": ("ticktide_ingest_weather.settings", "IngestWeatherSettings"),
}
# What no service class reads: the launcher's and the CLI's own variables.
OTHER_READERS = {
    "scripts/lib.sh": {
        "TICKTIDE_HTTPS_PORT",
        "TICKTIDE_HTTP_PORT",
        "WORKERS",
        "TICKTIDE_RUN_DIR",
        "PGADMIN",
        "PGADMIN_PORT",
    },  # fmt: skip
    "ticktide": {"TICKTIDE_URL", "TICKTIDE_TOKEN", "TICKTIDE_CA_BUNDLE"},
}
HEADER = re.compile(r"^# === .* \(read by: (?P<readers>[^)]*)\) ===$")
VARIABLE = re.compile(r"^#? ?(?P<name>[A-Z][A-Z0-9_]+)=")


def sections(text: str) -> list[tuple[list[str], list[str]]]:
    """(readers, variables) of each section, in order; a variable before any
    header is a section with no readers (refused by the test)."""
    found: list[tuple[list[str], list[str]]] = [([], [])]
    for line in text.splitlines():
        header = HEADER.match(line)
        if header:
            found.append(([r.strip() for r in header["readers"].split(",")], []))
        elif variable := VARIABLE.match(line):
            found[-1][1].append(variable["name"])
    return [section for section in found if section[1] or section[0]]


def fields_of(service: str) -> set[str]:
    module, name = SETTINGS_CLASSES[service]
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, BaseSettings)
    return {field.upper() for field in cls.model_fields}


def test_every_variable_is_read_by_each_service_its_section_names() -> None:
    problems: list[str] = []
    parsed = sections((ROOT / ".env.example").read_text())
    assert len(parsed) > 10, "the sections' headers were not recognised"
    for readers, variables in parsed:
        if not readers:
            problems += [f"{name}: before any '(read by: ...)' header" for name in variables]
        for reader in readers:
            known = OTHER_READERS.get(reader)
            if known is None and reader not in SETTINGS_CLASSES:
                problems.append(f"unknown reader {reader!r}")
                continue
            names = known if known is not None else fields_of(reader)
            problems += [f"{name}: not read by {reader}" for name in variables if name not in names]
    assert problems == []


def test_each_variable_is_listed_once() -> None:
    names = [
        name for _, variables in sections((ROOT / ".env.example").read_text()) for name in variables
    ]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_the_parser_sees_a_misplaced_variable() -> None:
    text = "# === w (read by: writer) ===\nWRITER_PORT=1\n# GATEWAY_PORT=2\n"
    assert sections(text) == [(["writer"], ["WRITER_PORT", "GATEWAY_PORT"])]
    assert "GATEWAY_PORT" not in fields_of("writer")
