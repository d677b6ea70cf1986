"""How `ticktide import binance-archive` packs many archive files into few
uploads (pure: names, sizes and bytes in, plans and zip bytes out).

Each upload is a bundle (`POST /api/admin/ingest/crypto/archive/bundle`): a zip
that stores the archives' own zips unchanged (no second compression) and, for
each that has one, its `.CHECKSUM` file, which the server verifies. A bundle
holds files of one series (symbol and interval, read from the file name) in
name order, at most `MAX_FILES` of them and `MAX_BYTES` in all, so that one job
covers them and their candles travel in a few large batches. Files whose name
the server may refuse still go in a bundle: when a bundle is refused, the CLI
sends its files one at a time, for a verdict per file.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_BYTES", "MAX_FILES", "BundleFile", "build_bundle", "plan_bundles", "series_of"]

MAX_FILES = 16  # the server takes up to 64 archives per bundle
MAX_BYTES = 4 * 1024 * 1024  # the server takes up to 8 MiB per bundle


@dataclass(frozen=True)
class BundleFile:
    """One archive file to send: its name, its bytes and its checksum line."""

    name: str
    data: bytes
    checksum: str | None = None  # the hex SHA-256 from its .CHECKSUM file


def series_of(name: str) -> str:
    """`BTCUSDT-1h-2024-01.zip` → `BTCUSDT-1h` (the part before the date)."""
    return "-".join(name.split("-")[:2])


def plan_bundles(
    sizes: Sequence[tuple[str, int]], *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES
) -> list[list[int]]:
    """Positions (in `sizes`, a list of (file name, byte size)) of the files of
    each bundle: one series per bundle, in name order, within both caps (a file
    larger than `max_bytes` goes alone)."""
    by_series: dict[str, list[int]] = {}
    for position, (name, _) in enumerate(sizes):
        by_series.setdefault(series_of(name), []).append(position)
    bundles: list[list[int]] = []
    for positions in by_series.values():
        positions.sort(key=lambda p: sizes[p][0])
        current: list[int] = []
        current_bytes = 0
        for position in positions:
            size = sizes[position][1]
            if current and (len(current) >= max_files or current_bytes + size > max_bytes):
                bundles.append(current)
                current, current_bytes = [], 0
            current.append(position)
            current_bytes += size
        if current:
            bundles.append(current)
    return bundles


def build_bundle(files: Sequence[BundleFile]) -> bytes:
    """The bundle's zip bytes: each archive stored as it is, with its checksum."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
        for file in files:
            bundle.writestr(file.name, file.data)
            if file.checksum is not None:
                bundle.writestr(f"{file.name}.CHECKSUM", f"{file.checksum}  {file.name}\n")
    return buffer.getvalue()
