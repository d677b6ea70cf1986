"""A bundle of Binance kline archives in one upload, and the series it holds.

A bundle is a zip whose members are the archives' own zips, byte for byte
(stored, not compressed again), each optionally with its checksum file beside
it (`BTCUSDT-1h-2024-01.zip` and `BTCUSDT-1h-2024-01.zip.CHECKSUM`). It is what
`ticktide import binance-archive` sends to `POST
/api/admin/ingest/crypto/archive/bundle`: one request for many files, so the
work done per request (the admin check, the forwarding, the job, the batches
and their acknowledgements) is shared by the files instead of repeated for
each one.

- `read_bundle(data)`: every member archive, read and checked as a single
  upload is (`archive.read_archive_bytes`: the name, the size caps against zip
  bombs, the checksum when one is given, every row). The first problem is an
  `ArchiveError` that names the member. The bundle has its own caps: at most
  `MAX_BUNDLE_ARCHIVES` archives, no other members, no names given twice, no
  directories.
- `merge_series(archives)`: one `ArchiveContents` per series (symbol and
  interval), holding the candles of all its files in time order. If two files
  hold the same open time, the later file's candle comes last, and the writer
  keeps the last one.

Nothing here does network or database I/O.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from ticktide_ingest_crypto.archive import (
    MAX_ZIP_BYTES,
    ArchiveContents,
    ArchiveError,
    bounded_member_bytes,
    read_archive_bytes,
)

__all__ = [
    "INLINE_BUNDLE_ARCHIVES",
    "MAX_BUNDLE_ARCHIVES",
    "MAX_BUNDLE_BYTES",
    "BundledArchive",
    "archives_in",
    "read_bundle",
    "merge_series",
]

MAX_BUNDLE_ARCHIVES = 64
# Up to this many archives (what the CLI sends) are read on the caller's thread:
# each holds at most one row per open time of its period (archive.py), so 16
# monthly 1h files are about 12,000 rows, some 30 ms. Handing so little to a
# worker thread cost more CPU than it saved (the GIL passed back and forth).
INLINE_BUNDLE_ARCHIVES = 16
# The whole bundle: the gateway's body limit for the archive routes is the same.
MAX_BUNDLE_BYTES = 8 * 1024 * 1024
_MAX_CHECKSUM_BYTES = 1024
_CHECKSUM_SUFFIX = ".CHECKSUM"


@dataclass(frozen=True)
class BundledArchive:
    """One archive of a bundle: its member name and what it holds."""

    name: str
    contents: ArchiveContents


def read_bundle(data: bytes) -> list[BundledArchive]:
    """The archives of a bundle, in member order; ArchiveError on any problem."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise ArchiveError(f"the bundle is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            archives, checksums = _members(bundle)
            found = {
                name: bounded_member_bytes(bundle, info, "the bundle", MAX_ZIP_BYTES)
                for name, info in archives.items()
            }
            sums = {
                name: bounded_member_bytes(bundle, info, "the bundle", _MAX_CHECKSUM_BYTES).decode(
                    errors="replace"
                )
                for name, info in checksums.items()
            }
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise ArchiveError(f"the bundle is not a valid zip file ({exc})") from None
    except (OSError, ValueError, RuntimeError) as exc:  # zlib errors, encrypted members
        raise ArchiveError(f"the bundle has an unreadable member ({exc})") from None
    return [
        BundledArchive(name, read_archive_bytes(name, zip_bytes, sums.get(name)))
        for name, zip_bytes in found.items()
    ]


def archives_in(data: bytes) -> int:
    """How many archives the bundle's directory lists (more than any bound for
    something that is not a zip: its reading then fails with the reason)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            return sum(1 for info in bundle.infolist() if info.filename.endswith(".zip"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        return MAX_BUNDLE_ARCHIVES + 1


def merge_series(archives: list[BundledArchive]) -> list[ArchiveContents]:
    """One ArchiveContents per series, in the order the series first appear."""
    by_series: dict[tuple[str, str], list[ArchiveContents]] = {}
    for archive in archives:
        contents = archive.contents
        by_series.setdefault((contents.symbol, contents.interval), []).append(contents)
    merged: list[ArchiveContents] = []
    for (symbol, interval), parts in by_series.items():
        candles = [candle for part in parts for candle in part.candles]
        candles.sort(key=lambda candle: candle.t)  # stable: a later file's twin comes last
        merged.append(
            ArchiveContents(
                symbol=symbol,
                interval=interval,
                candles=candles,
                period_start=min(part.period_start for part in parts),
                period_end=max(part.period_end for part in parts),
                checksum_verified=all(part.checksum_verified for part in parts),
            )
        )
    return merged


def _members(
    bundle: zipfile.ZipFile,
) -> tuple[dict[str, zipfile.ZipInfo], dict[str, zipfile.ZipInfo]]:
    """(archive name → member, archive name → its checksum member)."""
    archives: dict[str, zipfile.ZipInfo] = {}
    checksums: dict[str, zipfile.ZipInfo] = {}
    seen: set[str] = set()
    for info in bundle.infolist():
        name = info.filename
        if name in seen:
            raise ArchiveError(f"the bundle holds {name!r} twice")
        seen.add(name)
        if info.is_dir() or "/" in name or "\\" in name:
            raise ArchiveError(f"the bundle may hold only archive files, not {name!r}")
        if name.endswith(_CHECKSUM_SUFFIX):
            checksums[name.removesuffix(_CHECKSUM_SUFFIX)] = info
        elif name.endswith(".zip"):
            archives[name] = info
        else:
            raise ArchiveError(
                f"the bundle may hold only kline zips and their .CHECKSUM files, not {name!r}"
            )
    if not archives:
        raise ArchiveError("the bundle holds no archive")
    if len(archives) > MAX_BUNDLE_ARCHIVES:
        raise ArchiveError(
            f"the bundle holds {len(archives)} archives; at most {MAX_BUNDLE_ARCHIVES} at once"
        )
    orphans = sorted(set(checksums) - set(archives))
    if orphans:
        raise ArchiveError(f"{orphans[0]}{_CHECKSUM_SUFFIX}: no such archive in the bundle")
    return archives, checksums
