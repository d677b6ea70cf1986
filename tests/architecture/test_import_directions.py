"""The allowed import directions between Ticktide's packages (issue 12).

A service imports `libs/` and never another service; `libs/common` imports only
itself; the CLI is a client of the API and imports only `ticktide_common`. The
check reads every source file's syntax tree (so a comment never counts, and an
import hidden inside a function does), and every package's declared runtime
dependencies. Tests and benches are outside it: the ingesters' integration tests
run the real writer in-process on purpose.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE_NAMES = re.compile(r"ticktide_(gateway|auth|ingest|writer|backtest_worker|web\b)")


@dataclass(frozen=True)
class Package:
    """One installable package of the workspace: where its sources are, and what it may import."""

    directory: Path  # the project directory (holds pyproject.toml)
    module: str  # its top-level import name
    may_import: frozenset[str]  # top-level ticktide_* modules it may import besides itself

    @property
    def sources(self) -> Path:
        return self.directory / "src" / self.module


def workspace_packages() -> list[Package]:
    packages = [
        Package(ROOT / "libs" / "common", "ticktide_common", frozenset()),
        Package(ROOT / "libs" / "cli", "ticktide_cli", frozenset({"ticktide_common"})),
    ]
    for directory in sorted((ROOT / "services").iterdir()):
        if not (directory / "pyproject.toml").is_file():
            continue
        module = "ticktide_" + directory.name.replace("-", "_")
        packages.append(Package(directory, module, frozenset({"ticktide_common"})))
    return packages


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def forbidden_imports(package: Package, base: Path = ROOT) -> list[str]:
    """`file:line imports module` for every ticktide_* import the package may not make."""
    allowed = package.may_import | {package.module}
    return [
        f"{path.relative_to(base)}:{line} imports {module}"
        for path in sorted(package.sources.rglob("*.py"))
        for line, module in imported_modules(path)
        if module.startswith("ticktide_") and module not in allowed
    ]


def declared_dependencies(package: Package) -> list[str]:
    project = tomllib.loads((package.directory / "pyproject.toml").read_text())["project"]
    names = [
        re.split(r"[\s<>=!~\[;]", dep, maxsplit=1)[0] for dep in project.get("dependencies", [])
    ]
    return [name for name in names if name.startswith("ticktide-")]


PACKAGES = workspace_packages()


def test_every_workspace_package_is_checked() -> None:
    modules = {package.module for package in PACKAGES}
    assert {"ticktide_common", "ticktide_cli", "ticktide_gateway", "ticktide_writer"} <= modules
    for package in PACKAGES:
        assert package.sources.is_dir(), f"{package.sources} is missing: is the layout still true?"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.module)
def test_imports_go_only_where_allowed(package: Package) -> None:
    assert forbidden_imports(package) == []


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.module)
def test_runtime_dependencies_name_no_other_service(package: Package) -> None:
    allowed = {name.replace("_", "-") for name in package.may_import}
    assert [name for name in declared_dependencies(package) if name not in allowed] == []


def test_libs_mention_services_only_in_comments() -> None:
    """`grep -rn "ticktide_gateway\\|ticktide_auth\\|..." libs/` finds nothing but comments."""
    mentions: list[str] = []
    for path in sorted((ROOT / "libs").rglob("*")):
        if not path.is_file() or path.suffix not in {".py", ".toml", ".md", ".cfg", ".txt"}:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = SERVICE_NAMES.search(line)
            if match and "#" not in line[: match.start()]:
                mentions.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert mentions == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The check itself: a service module importing another service is reported, a
    comment or a string naming one is not."""
    sources = tmp_path / "src" / "ticktide_writer"
    sources.mkdir(parents=True)
    (sources / "bad.py").write_text(
        "# from ticktide_gateway import app\n"
        "NAME = 'ticktide_auth'\n"
        "def f():\n    from ticktide_gateway.app import create_app\n    return create_app\n"
    )
    package = Package(tmp_path, "ticktide_writer", frozenset({"ticktide_common"}))
    assert forbidden_imports(package, tmp_path) == [
        "src/ticktide_writer/bad.py:4 imports ticktide_gateway"
    ]
