"""The web service's static files: built once at set-up, served from memory.

`python -m ticktide_web.assets` (run by `make up` / `make test` after `npm ci`)
copies our own files (`static/`) and the pinned front-end libraries from
`services/web/node_modules` (`VENDOR`) into `build/static/`, each under a name
that carries a hash of its content (`js/price_chart.3fa2b1c4.js`), plus a
gzip copy and `manifest.json` (logical name → hashed name). Relative imports
between our ES modules are rewritten to the hashed names, dependencies first,
so a module's hash changes when anything it imports changes.

At run time `AssetManifest` reads that folder once; templates ask it for
URLs (`asset('js/app.js')`), and `/static/<hashed name>` answers from memory
with `Cache-Control: immutable`. Nothing else on disk is reachable.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AssetManifest",
    "BuiltAsset",
    "MissingBuild",
    "build_assets",
    "PACKAGE_DIR",
    "DEFAULT_BUILD_DIR",
    "VENDOR",
]

PACKAGE_DIR = Path(__file__).resolve().parent
WEB_ROOT = PACKAGE_DIR.parents[1]  # services/web
SOURCE_DIR = PACKAGE_DIR / "static"
NODE_MODULES = WEB_ROOT / "node_modules"
DEFAULT_BUILD_DIR = WEB_ROOT / "build"
STATIC_PREFIX = "/static/"

# logical name under vendor/ → file inside node_modules (versions: package-lock.json)
VENDOR: dict[str, str] = {
    "vendor/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "vendor/lightweight-charts.mjs": (
        "lightweight-charts/dist/lightweight-charts.standalone.production.mjs"
    ),
    "vendor/uplot.mjs": "uplot/dist/uPlot.esm.js",
    "vendor/uplot.min.css": "uplot/dist/uPlot.min.css",
}

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
COMPRESSIBLE = {".js", ".mjs", ".css", ".svg", ".txt"}

_IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.{1,2}/[^"']+)\2""")
_SOURCE_MAP = re.compile(rb"\n?/[/*][#@] sourceMappingURL=[^\n]*")


class MissingBuild(RuntimeError):
    """The static folder has not been built (run the set-up)."""


def _hashed_name(logical: str, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()[:10]
    path = Path(logical)
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def _resolve(importer: str, specifier: str) -> str:
    parts = Path(importer).parent.parts
    stack = list(parts)
    for piece in specifier.split("/"):
        if piece == "..":
            if not stack:
                raise ValueError(f"{importer}: import {specifier!r} leaves the static folder")
            stack.pop()
        elif piece not in ("", "."):
            stack.append(piece)
    return "/".join(stack)


def _relative(importer: str, target: str) -> str:
    depth = len(Path(importer).parent.parts)
    return ("../" * depth if depth else "./") + target


def _collect_sources(node_modules: Path) -> dict[str, bytes]:
    sources: dict[str, bytes] = {}
    for path in sorted(SOURCE_DIR.rglob("*")):
        if path.is_file():
            sources[path.relative_to(SOURCE_DIR).as_posix()] = path.read_bytes()
    for logical, inside in VENDOR.items():
        path = node_modules / inside
        if not path.is_file():
            raise MissingBuild(
                f"{path} is missing: install the front-end libraries first "
                f"(cd {WEB_ROOT} && npm ci)"
            )
        # Source maps are not shipped; a dangling reference would make DevTools ask for one.
        sources[logical] = _SOURCE_MAP.sub(b"", path.read_bytes())
    return sources


def _write_once(target: Path, content: bytes) -> None:
    if target.is_file() and target.stat().st_size == len(content):
        return
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, target)


def build_assets(build_dir: Path = DEFAULT_BUILD_DIR, node_modules: Path = NODE_MODULES) -> dict:
    """Build `build_dir/static` and its manifest; answers the manifest."""
    sources = _collect_sources(node_modules)
    hashed: dict[str, str] = {}
    contents: dict[str, bytes] = {}

    def visit(logical: str, trail: tuple[str, ...]) -> None:
        if logical in hashed:
            return
        if logical in trail:
            raise ValueError(f"import cycle: {' -> '.join((*trail, logical))}")
        content = sources[logical]
        if logical.endswith((".js", ".mjs")) and not logical.startswith("vendor/"):
            text = content.decode("utf-8")

            def rewrite(match: re.Match[str]) -> str:
                target = _resolve(logical, match.group(3))
                if target not in sources:
                    raise ValueError(f"{logical}: imports {match.group(3)!r}, which is not built")
                visit(target, (*trail, logical))
                return f"{match.group(1)}{match.group(2)}{_relative(logical, hashed[target])}" + (
                    match.group(2)
                )

            content = _IMPORT.sub(rewrite, text).encode("utf-8")
        hashed[logical] = _hashed_name(logical, content)
        contents[logical] = content

    for logical in sources:
        visit(logical, ())

    # Safe while another build or a running web service reads the folder: names are
    # content hashes, so a file is written once (through a temporary name) and never
    # changed, and the manifest is replaced in one rename. Files of older builds stay.
    static = build_dir / "static"
    for logical, name in hashed.items():
        target = static / name
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_once(target, contents[logical])
        if target.suffix in COMPRESSIBLE:
            _write_once(
                target.with_name(target.name + ".gz"),
                gzip.compress(contents[logical], compresslevel=9, mtime=0),
            )
    manifest = {"files": dict(sorted(hashed.items()))}
    temporary = build_dir / f"manifest.json.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(temporary, build_dir / "manifest.json")
    return manifest


@dataclass(frozen=True)
class BuiltAsset:
    content: bytes
    gzipped: bytes | None
    content_type: str


class AssetManifest:
    """The built static folder, in memory: URLs for templates, bytes for `/static`."""

    def __init__(self, urls: dict[str, str], files: dict[str, BuiltAsset]) -> None:
        self._urls = urls
        self._files = files

    @classmethod
    def load(cls, build_dir: Path = DEFAULT_BUILD_DIR) -> AssetManifest:
        manifest_path = build_dir / "manifest.json"
        if not manifest_path.is_file():
            raise MissingBuild(
                f"{manifest_path} not found: build the static files first "
                "(python -m ticktide_web.assets, which make up runs)"
            )
        hashed: dict[str, str] = json.loads(manifest_path.read_text())["files"]
        files: dict[str, BuiltAsset] = {}
        for name in hashed.values():
            path = build_dir / "static" / name
            gz = path.with_name(path.name + ".gz")
            files[name] = BuiltAsset(
                content=path.read_bytes(),
                gzipped=gz.read_bytes() if gz.is_file() else None,
                content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            )
        return cls({k: STATIC_PREFIX + v for k, v in hashed.items()}, files)

    def url(self, logical: str) -> str:
        """`/static/<hashed name>` of a logical name; a typo fails the page render."""
        try:
            return self._urls[logical]
        except KeyError:
            raise KeyError(f"no built static file {logical!r}") from None

    def get(self, hashed_name: str) -> BuiltAsset | None:
        return self._files.get(hashed_name)


def main() -> None:
    build_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_BUILD_DIR
    try:
        manifest = build_assets(build_dir)
    except (MissingBuild, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    size = sum((build_dir / "static" / n).stat().st_size for n in manifest["files"].values())
    print(f"built {len(manifest['files'])} static files ({size / 1024:.0f} KiB) in {build_dir}")


if __name__ == "__main__":
    main()
