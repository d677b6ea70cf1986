"""HTTP content codings of the gateway's cached bodies: which coding a client
takes (`Accept-Encoding`, RFC 9110 §12.5.3) and the compressed forms a body is
stored in, made once when the body is built and served to every later request.

Pure: no I/O. Every coding here is deterministic (a gzip member carries no
modification time), so the same body always compresses to the same bytes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import brotli

__all__ = [
    "CODINGS",
    "IDENTITY",
    "choose_coding",
    "gzip_bytes",
    "brotli_bytes",
    "brotli_refined",
    "decode",
    "encode",
]

IDENTITY = "identity"
# The codings bodies are stored in, the server's preference first (smaller first).
CODINGS = ("br", "gzip")
GZIP_LEVEL = 6
BROTLI_QUALITY = 5
# A body's brotli form is made twice: at BROTLI_QUALITY at once (tens of ms for a
# megabyte), then again at REFINED_BROTLI_QUALITY with a 16 MiB window, which
# takes about 0.6 s per megabyte and saves a fifth of the bytes (a year of 1h
# candles: 213 KB -> 168 KB), for bodies up to REFINED_MAX_BYTES: every client
# after that downloads the smaller bytes, and decompressing them costs the same.
REFINED_BROTLI_QUALITY = 10
REFINED_BROTLI_WINDOW = 24
REFINED_MAX_BYTES = 2 * 1024 * 1024
_MAX_HEADER = 1024  # a longer Accept-Encoding is read as its first 1,024 characters


def _weights(header: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in header[:_MAX_HEADER].split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value.strip())))
                except ValueError:
                    q = 0.0
                if q != q:  # NaN
                    q = 0.0
        weights[name] = max(q, weights.get(name, 0.0))
    return weights


def choose_coding(accept_encoding: str | None, offered: Iterable[str] = CODINGS) -> str:
    """The coding to answer in: the acceptable one of `offered` with the highest
    q-value (ties go to the order of `offered`), else `identity`. No header means
    identity (RFC 9110: any coding is acceptable, but an old client that sends
    none is safest served plain); `x-gzip` counts as `gzip`."""
    if not accept_encoding:
        return IDENTITY
    weights = _weights(accept_encoding)
    if "x-gzip" in weights:
        weights["gzip"] = max(weights.get("gzip", 0.0), weights.pop("x-gzip"))
    star = weights.get("*")
    best, best_q = IDENTITY, 0.0
    for coding in offered:
        q = weights.get(coding, star if star is not None else 0.0)
        if q > best_q:
            best, best_q = coding, q
    return best


def gzip_bytes(body: bytes, level: int = GZIP_LEVEL) -> bytes:
    """One gzip member of `body`, modification time 0."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


def brotli_bytes(body: bytes, quality: int = BROTLI_QUALITY) -> bytes:
    return brotli.compress(body, mode=brotli.MODE_TEXT, quality=quality)


def brotli_refined(body: bytes) -> bytes:
    """The smaller, slower brotli form of `body` (see REFINED_BROTLI_QUALITY)."""
    return brotli.compress(
        body, mode=brotli.MODE_TEXT, quality=REFINED_BROTLI_QUALITY, lgwin=REFINED_BROTLI_WINDOW
    )


def encode(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip_bytes(body)
    if coding == "br":
        return brotli_bytes(body)
    if coding == IDENTITY:
        return body
    raise ValueError(f"unknown content coding {coding!r}")


def decode(data: bytes, coding: str) -> bytes:
    """The identity bytes of `data` in `coding` (what a client does)."""
    if coding == "gzip":
        return zlib.decompress(data, 47)
    if coding == "br":
        return brotli.decompress(data)
    if coding == IDENTITY:
        return data
    raise ValueError(f"unknown content coding {coding!r}")
