"""An independent, deliberately plain bar-by-bar backtester for checking the engine.

Written from CONTRACT.md's "Backtest semantics" and the strategy definitions alone:
lists of floats, Python loops, its own indicators, no numpy and no engine imports.
"""

from __future__ import annotations

import math

NAN = float("nan")


def mean_of(values):
    total = 0.0
    for v in values:
        total += v
    return total / len(values)


def ref_sma(xs, w):
    return [mean_of(xs[t - w + 1 : t + 1]) if t >= w - 1 else NAN for t in range(len(xs))]


def ref_ema(xs, w):
    out = [NAN] * len(xs)
    valid = [t for t in range(len(xs)) if not math.isnan(xs[t])]
    if not valid:
        return out
    first = valid[0]
    seed = first + w - 1
    if seed >= len(xs):
        return out
    prev = mean_of(xs[first : seed + 1])
    out[seed] = prev
    a = 2.0 / (w + 1.0)
    for t in range(seed + 1, len(xs)):
        prev = prev + a * (xs[t] - prev)
        out[t] = prev
    return out


def ref_rsi(close, p):
    out = [NAN] * len(close)
    if len(close) <= p:
        return out
    ups = [max(close[i] - close[i - 1], 0.0) for i in range(1, len(close))]
    downs = [max(close[i - 1] - close[i], 0.0) for i in range(1, len(close))]
    avg_up = mean_of(ups[:p])
    avg_down = mean_of(downs[:p])
    for t in range(p, len(close)):
        if t > p:
            avg_up = (avg_up * (p - 1) + ups[t - 1]) / p
            avg_down = (avg_down * (p - 1) + downs[t - 1]) / p
        if avg_down == 0.0:
            out[t] = 100.0 if avg_up > 0.0 else 50.0
        else:
            out[t] = 100.0 - 100.0 / (1.0 + avg_up / avg_down)
    return out


def ref_std(xs, w):
    out = [NAN] * len(xs)
    for t in range(w - 1, len(xs)):
        window = xs[t - w + 1 : t + 1]
        m = mean_of(window)
        out[t] = math.sqrt(mean_of([(v - m) ** 2 for v in window]))
    return out


def crosses_up(a, b, t):
    return t >= 1 and a[t - 1] < b[t - 1] and a[t] > b[t]


def crosses_down(a, b, t):
    return t >= 1 and a[t - 1] > b[t - 1] and a[t] < b[t]


def signals(strategy, params, o, h, l, c):
    """(enter[t], leave[t]) booleans from data up to and including bar t."""
    n = len(c)
    if strategy == "buy_and_hold":
        return [True] * n, [False] * n
    if strategy in ("sma_cross", "ema_cross"):
        ma = ref_sma if strategy == "sma_cross" else ref_ema
        fast, slow = ma(c, params["fast"]), ma(c, params["slow"])
        return (
            [crosses_up(fast, slow, t) for t in range(n)],
            [crosses_down(fast, slow, t) for t in range(n)],
        )
    if strategy == "macd":
        fast, slow = ref_ema(c, params["fast"]), ref_ema(c, params["slow"])
        line = [f - s for f, s in zip(fast, slow, strict=True)]
        sig = ref_ema(line, params["signal"])
        return (
            [crosses_up(line, sig, t) for t in range(n)],
            [crosses_down(line, sig, t) for t in range(n)],
        )
    if strategy == "rsi_reversion":
        r = ref_rsi(c, params["period"])
        return [v < params["lower"] for v in r], [v > params["upper"] for v in r]
    if strategy == "bollinger_reversion":
        mid, sd = ref_sma(c, params["period"]), ref_std(c, params["period"])
        enter = [c[t] < mid[t] - params["k"] * sd[t] for t in range(n)]
        return enter, [c[t] > mid[t] for t in range(n)]
    if strategy == "donchian_breakout":
        e, x = params["entry"], params["exit"]
        enter = [t >= e and c[t] > max(h[t - e : t]) for t in range(n)]
        leave = [t >= x and c[t] < min(l[t - x : t]) for t in range(n)]
        return enter, leave
    raise ValueError(strategy)


def backtest(strategy, params, times, o, h, l, c, *, fee, slippage_bps, cash, start=0):
    """(trades, equity) where trades are dicts like the engine's and equity per bar.

    Bars before `start` only feed the indicators: trading begins at bar `start`."""
    enter, leave = signals(strategy, params, o, h, l, c)
    n = len(c)
    up, down = 1 + slippage_bps / 10000, 1 - slippage_bps / 10000
    holding = None  # (entry index, fill, units, cash spent)
    order = None
    trades, equity = [], []

    def close_out(t, price):
        nonlocal cash, holding
        i, fill, units, spent = holding
        cash = units * price * (1 - fee)
        trades.append(
            {
                "entry_time": times[i],
                "exit_time": times[t],
                "entry_price": fill,
                "exit_price": price,
                "units": units,
                "pnl": cash - spent,
                "return": cash / spent - 1,
            }
        )
        holding = None

    for t in range(start, n):
        if order == "buy":
            fill = o[t] * up
            holding = (t, fill, cash / (fill * (1 + fee)), cash)
            cash = 0.0
        elif order == "sell":
            close_out(t, o[t] * down)
        order = None
        if holding is not None and t == n - 1:
            close_out(t, c[t] * down)
        equity.append(cash if holding is None else holding[2] * c[t])
        if t + 1 < n:
            if holding is None and enter[t]:
                order = "buy"
            elif holding is not None and leave[t]:
                order = "sell"
    return trades, equity
