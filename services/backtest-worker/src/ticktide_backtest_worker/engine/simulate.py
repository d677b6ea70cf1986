"""The compiled bar loop: signals → fills → equity, trades and running statistics.

One loop serves every strategy. A strategy reduces to a *rule* over three arrays
(`x`, `lo`, `hi`) evaluated at bar `t`'s close; the loop evaluates it inline, so a
grid needs no per-combination signal arrays:

- RULE_ENTER_ONCE: enter at the first opportunity, never exit (buy and hold).
- RULE_CROSS: enter when `x` crosses above `lo`, exit when it crosses below
  (`x[t-1] < lo[t-1] and x[t] > lo[t]`, and the mirror image).
- RULE_REVERSION: enter when `x < lo`, exit when `x > hi`.
- RULE_BREAKOUT: enter when `x > hi`, exit when `x < lo`.

Comparisons with NaN are false, so indicator warm-up gives no signal. When flat only
the entry rule is looked at, when long only the exit rule. Semantics (CONTRACT
"Backtest semantics"): a signal at bar t fills at bar t+1's open, a signal on the
last bar is dropped, all-in fractional long-only, equity marked at each close, an
open position is closed at the last close with fee and slippage.
"""

from __future__ import annotations

import numpy as np
from numba import njit

RULE_ENTER_ONCE = 0
RULE_CROSS = 1
RULE_REVERSION = 2
RULE_BREAKOUT = 3

# Indices into the statistics array the loop fills.
STAT_TRADES = 0
STAT_FINAL_EQUITY = 1
STAT_SUM_RETURN = 2
STAT_SUM_RETURN_SQ = 3
STAT_SUM_DOWNSIDE_SQ = 4
STAT_RETURNS = 5
STAT_MAX_DRAWDOWN = 6
STAT_MAX_DRAWDOWN_BARS = 7
STAT_BARS_IN_POSITION = 8
STAT_WINS = 9
STAT_GROSS_PROFIT = 10
STAT_GROSS_LOSS = 11
STAT_COUNT = 12

# Columns of the trade table the loop fills when recording.
TRADE_ENTRY_BAR = 0
TRADE_EXIT_BAR = 1
TRADE_ENTRY_PRICE = 2
TRADE_EXIT_PRICE = 3
TRADE_UNITS = 4
TRADE_ENTRY_CASH = 5
TRADE_EXIT_CASH = 6
TRADE_COLUMNS = 7


@njit(cache=True)
def simulate(
    rule: int,
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    open_: np.ndarray,
    close: np.ndarray,
    fee: float,
    slippage_bps: float,
    initial_cash: float,
    first_bar: int,
    record: bool,
    equity_out: np.ndarray,
    trades_out: np.ndarray,
    stats_out: np.ndarray,
) -> None:
    """Run one backtest over bars [first_bar, n). Fills `stats_out`; when `record`, also
    `equity_out` (one value per bar from first_bar) and `trades_out` (TRADE_* rows).

    Bars before `first_bar` only warm indicators up (walk-forward test windows): no
    signal is taken on them; the first signal is taken at first_bar's close."""
    n = close.shape[0]
    buy_factor = 1.0 + slippage_bps / 1e4
    sell_factor = 1.0 - slippage_bps / 1e4
    cash = initial_cash
    units = 0.0
    in_position = False
    pending = 0  # +1 buy at next open, -1 sell at next open
    entry_bar = 0
    entry_price = 0.0
    entry_cash = 0.0
    trades = 0
    wins = 0
    gross_profit = 0.0
    gross_loss = 0.0
    previous = initial_cash
    peak = initial_cash
    peak_bar = first_bar
    max_drawdown = 0.0
    max_drawdown_bars = 0
    sum_return = 0.0
    sum_return_sq = 0.0
    sum_downside_sq = 0.0
    bars_in_position = 0
    equity = initial_cash
    for t in range(first_bar, n):
        if pending == 1:
            entry_price = open_[t] * buy_factor
            entry_cash = cash
            units = cash / (entry_price * (1.0 + fee))
            cash = 0.0
            entry_bar = t
            in_position = True
        elif pending == -1:
            exit_price = open_[t] * sell_factor
            cash = units * exit_price * (1.0 - fee)
            pnl = cash - entry_cash
            if pnl > 0.0:
                wins += 1
                gross_profit += pnl
            else:
                gross_loss -= pnl
            if record:
                trades_out[trades, TRADE_ENTRY_BAR] = entry_bar
                trades_out[trades, TRADE_EXIT_BAR] = t
                trades_out[trades, TRADE_ENTRY_PRICE] = entry_price
                trades_out[trades, TRADE_EXIT_PRICE] = exit_price
                trades_out[trades, TRADE_UNITS] = units
                trades_out[trades, TRADE_ENTRY_CASH] = entry_cash
                trades_out[trades, TRADE_EXIT_CASH] = cash
            trades += 1
            units = 0.0
            in_position = False
        pending = 0
        if in_position:
            bars_in_position += 1
            if t == n - 1:
                exit_price = close[t] * sell_factor
                cash = units * exit_price * (1.0 - fee)
                pnl = cash - entry_cash
                if pnl > 0.0:
                    wins += 1
                    gross_profit += pnl
                else:
                    gross_loss -= pnl
                if record:
                    trades_out[trades, TRADE_ENTRY_BAR] = entry_bar
                    trades_out[trades, TRADE_EXIT_BAR] = t
                    trades_out[trades, TRADE_ENTRY_PRICE] = entry_price
                    trades_out[trades, TRADE_EXIT_PRICE] = exit_price
                    trades_out[trades, TRADE_UNITS] = units
                    trades_out[trades, TRADE_ENTRY_CASH] = entry_cash
                    trades_out[trades, TRADE_EXIT_CASH] = cash
                trades += 1
                units = 0.0
                equity = cash
            else:
                equity = units * close[t]
        else:
            equity = cash
        if record:
            equity_out[t] = equity
        if t > first_bar:
            step = equity / previous - 1.0 if previous != 0.0 else 0.0
            sum_return += step
            sum_return_sq += step * step
            down = min(step, 0.0)  # branch-free: the sign of a return is a coin flip
            sum_downside_sq += down * down
        previous = equity
        if equity >= peak:
            peak = equity
            peak_bar = t
        else:
            drawdown = 1.0 - equity / peak if peak > 0.0 else 0.0
            if drawdown > max_drawdown:
                max_drawdown = drawdown
            if t - peak_bar > max_drawdown_bars:
                max_drawdown_bars = t - peak_bar
        if t < n - 1:
            if in_position:
                if rule == RULE_CROSS:
                    if t > 0 and x[t - 1] > lo[t - 1] and x[t] < lo[t]:
                        pending = -1
                elif rule == RULE_REVERSION:
                    if x[t] > hi[t]:
                        pending = -1
                elif rule == RULE_BREAKOUT:
                    if x[t] < lo[t]:
                        pending = -1
            elif rule == RULE_CROSS:
                if t > 0 and x[t - 1] < lo[t - 1] and x[t] > lo[t]:
                    pending = 1
            elif rule == RULE_REVERSION:
                if x[t] < lo[t]:
                    pending = 1
            elif rule == RULE_BREAKOUT:
                if x[t] > hi[t]:
                    pending = 1
            else:
                pending = 1
    stats_out[STAT_TRADES] = trades
    stats_out[STAT_FINAL_EQUITY] = equity
    stats_out[STAT_SUM_RETURN] = sum_return
    stats_out[STAT_SUM_RETURN_SQ] = sum_return_sq
    stats_out[STAT_SUM_DOWNSIDE_SQ] = sum_downside_sq
    stats_out[STAT_RETURNS] = max(n - 1 - first_bar, 0)
    stats_out[STAT_MAX_DRAWDOWN] = max_drawdown
    stats_out[STAT_MAX_DRAWDOWN_BARS] = max_drawdown_bars
    stats_out[STAT_BARS_IN_POSITION] = bars_in_position
    stats_out[STAT_WINS] = wins
    stats_out[STAT_GROSS_PROFIT] = gross_profit
    stats_out[STAT_GROSS_LOSS] = gross_loss


@njit(cache=True)
def equity_stats(equity: np.ndarray, stats_out: np.ndarray) -> None:
    """The return and drawdown STAT_* entries of a given equity curve, computed as
    simulate() computes them (used for stitched walk-forward curves)."""
    n = equity.shape[0]
    previous = equity[0] if n else 0.0
    peak = previous
    peak_bar = 0
    sum_return = 0.0
    sum_return_sq = 0.0
    sum_downside_sq = 0.0
    max_drawdown = 0.0
    max_drawdown_bars = 0
    for t in range(n):
        value = equity[t]
        if t > 0:
            step = value / previous - 1.0 if previous != 0.0 else 0.0
            sum_return += step
            sum_return_sq += step * step
            down = min(step, 0.0)
            sum_downside_sq += down * down
        previous = value
        if value >= peak:
            peak = value
            peak_bar = t
        else:
            drawdown = 1.0 - value / peak if peak > 0.0 else 0.0
            if drawdown > max_drawdown:
                max_drawdown = drawdown
            if t - peak_bar > max_drawdown_bars:
                max_drawdown_bars = t - peak_bar
    stats_out[STAT_FINAL_EQUITY] = previous
    stats_out[STAT_SUM_RETURN] = sum_return
    stats_out[STAT_SUM_RETURN_SQ] = sum_return_sq
    stats_out[STAT_SUM_DOWNSIDE_SQ] = sum_downside_sq
    stats_out[STAT_RETURNS] = max(n - 1, 0)
    stats_out[STAT_MAX_DRAWDOWN] = max_drawdown
    stats_out[STAT_MAX_DRAWDOWN_BARS] = max_drawdown_bars
