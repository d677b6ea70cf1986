"""Compiled signal functions, one per rule shape: the generated source
(`codegen`) compiled by numba, kept in this process by the hash of its text and
the engine's version, so that every parameter set of a grid, and every strategy
of the same shape, runs in one kernel.

A kernel does not get its own copy of the bar loop: `fill_flags` (small, so
quick to specialise for each signal function) writes what both rules say at
every bar (`simulate.FLAG_*`), and the engine's one bar loop
(`simulate.run_bars` with `simulate.flag_signal`, compiled once and kept in
numba's disk cache) reads them. The rules read only the bars, never the
position, so this is the same signal as calling them from inside the loop, and
a new rule shape costs a small compile, not the whole loop's.

The generated text is compiled in a namespace holding only `nan` and the
min/max helpers: it reads its arguments and nothing else.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from numba import njit

from ..simulate import FLAG_ENTRY, FLAG_EXIT
from ..version import ENGINE_VERSION
from .codegen import Layout, signal_source

__all__ = ["ENGINE_VERSION", "Kernel", "KernelCache", "fill_flags", "kernel_for"]


# Not cached on disk: they are compiled into each kernel, which is never cached.
@njit
def _min(a: float, b: float) -> float:
    if a != a or b != b:
        return math.nan
    return a if a < b else b


@njit
def _max(a: float, b: float) -> float:
    if a != a or b != b:
        return math.nan
    return a if a > b else b


# Specialised for each signal function it is given (never cached on disk, as they are not).
@njit
def fill_flags(signal, args, n: int, flags_out) -> None:  # type: ignore[no-untyped-def]
    """flags_out[t] for t < n: FLAG_ENTRY if the entry rule holds at bar t, plus
    FLAG_EXIT if the exit rule does."""
    for t in range(n):
        flag = 0
        if signal(args, t, False) == 1:
            flag |= FLAG_ENTRY
        if signal(args, t, True) == -1:
            flag |= FLAG_EXIT
        flags_out[t] = flag


@dataclass(frozen=True)
class Kernel:
    key: str
    source: str
    signal: Callable[..., int]


class KernelCache:
    """Kernels by key; counts hits and misses (bench/backtest prints the rate)."""

    def __init__(self) -> None:
        self._kernels: dict[str, Kernel] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, source: str) -> Kernel:
        key = hashlib.sha256(f"{ENGINE_VERSION}\n{source}".encode()).hexdigest()[:32]
        with self._lock:
            found = self._kernels.get(key)
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
            namespace: dict[str, Any] = {"nan": math.nan, "_min": _min, "_max": _max}
            exec(compile(source, f"<ticktide-kernel {key}>", "exec"), namespace)  # noqa: S102
            kernel = Kernel(key, source, njit(error_model="numpy")(namespace["signal"]))
            self._kernels[key] = kernel
            return kernel


KERNELS = KernelCache()


def kernel_for(entry: Any, exit_: Any, cache: KernelCache = KERNELS) -> tuple[Kernel, Layout]:
    """The compiled kernel of these rules, and its slots' layout."""
    source, layout = signal_source(entry, exit_)
    return cache.get(source), layout
