"""The seven built-in strategies written in the language: read-only system
strategies, with the catalogue's parameter names, bounds and defaults
(`ticktide_common.backtests.catalogue`). The engine's tests run each beside its
hand-written kernel and require the same trades, equity and metrics, bit for bit.
(Bollinger's k is > 0 in the catalogue; the language's bounds are inclusive, so
here it starts at 0.)"""

from __future__ import annotations

from typing import Any

from .limits import LANGUAGE

__all__ = ["SYSTEM_STRATEGIES"]


def _int(low: int, high: int, default: int) -> dict[str, Any]:
    return {"type": "int", "min": low, "max": high, "default": default}


def _float(low: float, high: float, default: float) -> dict[str, Any]:
    return {"type": "float", "min": low, "max": high, "default": default}


def _cross(average: str) -> dict[str, Any]:
    fast, slow = f"{average}(close, fast)", f"{average}(close, slow)"
    return {
        "language": LANGUAGE,
        "params": {"fast": _int(1, 5000, 10), "slow": _int(2, 10000, 30)},
        "constraints": ["fast < slow"],
        "entry": f"crosses_above({fast}, {slow})",
        "exit": f"crosses_below({fast}, {slow})",
    }


_MACD_LINE = "ema(close, fast) - ema(close, slow)"

SYSTEM_STRATEGIES: dict[str, dict[str, Any]] = {
    "buy_and_hold": {"language": LANGUAGE, "params": {}, "entry": "true", "exit": "false"},
    "sma_cross": _cross("sma"),
    "ema_cross": _cross("ema"),
    "rsi_reversion": {
        "language": LANGUAGE,
        "params": {
            "period": _int(2, 1000, 14),
            "lower": _float(0, 100, 30.0),
            "upper": _float(0, 100, 70.0),
        },
        "constraints": ["lower < upper"],
        "entry": "rsi(close, period) < lower",
        "exit": "rsi(close, period) > upper",
    },
    "macd": {
        "language": LANGUAGE,
        "params": {
            "fast": _int(1, 5000, 12),
            "slow": _int(2, 10000, 26),
            "signal": _int(1, 5000, 9),
        },  # noqa: E501
        "constraints": ["fast < slow"],
        "entry": f"crosses_above({_MACD_LINE}, ema({_MACD_LINE}, signal))",
        "exit": f"crosses_below({_MACD_LINE}, ema({_MACD_LINE}, signal))",
    },
    "bollinger_reversion": {
        "language": LANGUAGE,
        "params": {"period": _int(2, 5000, 20), "k": _float(0, 10, 2.0)},
        "entry": "close < sma(close, period) - k * stdev(close, period)",
        "exit": "close > sma(close, period)",
    },
    "donchian_breakout": {
        "language": LANGUAGE,
        "params": {"entry": _int(1, 5000, 20), "exit": _int(1, 5000, 10)},
        "entry": "close > highest(high, entry)[1]",
        "exit": "close < lowest(low, exit)[1]",
    },
}
