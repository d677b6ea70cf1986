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


# Stop kinds (a language strategy's stop_loss / take_profit; built-ins have none).
STOP_NONE = 0
STOP_PCT = 1  # the level is `amount` × the entry price away from it
STOP_ATR = 2  # the level is `amount` × ATR (as of the signal bar) away from the entry price

# A language strategy's flags per bar (`flag_signal`).
FLAG_ENTRY = 1  # the entry rule holds at this bar's close
FLAG_EXIT = 2  # the exit rule holds at this bar's close


@njit(cache=True)
def builtin_signal(args, t: int, in_position: bool) -> int:
    """A built-in strategy's rule (RULE_*) at bar t: +1 buy, -1 sell, 0 nothing."""
    rule, x, lo, hi = args
    if in_position:
        if rule == RULE_CROSS:
            if t > 0 and x[t - 1] > lo[t - 1] and x[t] < lo[t]:
                return -1
        elif rule == RULE_REVERSION:
            if x[t] > hi[t]:
                return -1
        elif rule == RULE_BREAKOUT:
            if x[t] < lo[t]:
                return -1
        return 0
    if rule == RULE_CROSS:
        if t > 0 and x[t - 1] < lo[t - 1] and x[t] > lo[t]:
            return 1
        return 0
    if rule == RULE_REVERSION:
        return 1 if x[t] < lo[t] else 0
    if rule == RULE_BREAKOUT:
        return 1 if x[t] > hi[t] else 0
    return 1


@njit(cache=True)
def flag_signal(flags, t: int, in_position: bool) -> int:  # type: ignore[no-untyped-def]
    """A language strategy's rules at bar t, read from flags its compiled kernel
    wrote for every bar beforehand (`FLAG_ENTRY`, `FLAG_EXIT`): +1 buy, -1 sell, 0."""
    if in_position:
        return -1 if flags[t] & FLAG_EXIT else 0
    return 1 if flags[t] & FLAG_ENTRY else 0


@njit(cache=True)
def _record_trade(trades_out, row, entry_bar, t, entry_price, exit_price, units, entry_cash, cash):  # type: ignore[no-untyped-def]  # noqa: E501
    trades_out[row, TRADE_ENTRY_BAR] = entry_bar
    trades_out[row, TRADE_EXIT_BAR] = t
    trades_out[row, TRADE_ENTRY_PRICE] = entry_price
    trades_out[row, TRADE_EXIT_PRICE] = exit_price
    trades_out[row, TRADE_UNITS] = units
    trades_out[row, TRADE_ENTRY_CASH] = entry_cash
    trades_out[row, TRADE_EXIT_CASH] = cash


@njit(cache=True)
def run_bars(
    signal,  # type: ignore[no-untyped-def]
    signal_args,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    fee: float,
    slippage_bps: float,
    initial_cash: float,
    first_bar: int,
    record: bool,
    stop_kind: int,
    stop_amount: float,
    stop_atr: np.ndarray,
    target_kind: int,
    target_amount: float,
    target_atr: np.ndarray,
    equity_out: np.ndarray,
    trades_out: np.ndarray,
    stats_out: np.ndarray,
) -> None:
    """The bar loop. `signal(signal_args, t, in_position)` is the strategy (a
    compiled function: numba makes one copy of this loop per signal function).

    Stops (STOP_*): the stop-loss level below and the take-profit level above the
    entry price are fixed when the position is entered, from the entry price and
    (STOP_ATR) the ATR of the signal bar; from the entry bar on, each bar while
    long is checked: an open through a level fills at that open (a gap), else a
    low at or below the stop fills at the stop, else a high at or above the
    target fills at the target; when a bar touches both, the stop-loss wins. A
    stop fill pays slippage and fee as a signal's sell does; a signal to sell on
    that bar is then moot, and the next bar may enter again."""
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
    stop_level = -np.inf
    target_level = np.inf
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
            if stop_kind == STOP_PCT:
                stop_level = entry_price * (1.0 - stop_amount)
            elif stop_kind == STOP_ATR:
                stop_level = entry_price - stop_amount * stop_atr[t - 1]
            if target_kind == STOP_PCT:
                target_level = entry_price * (1.0 + target_amount)
            elif target_kind == STOP_ATR:
                target_level = entry_price + target_amount * target_atr[t - 1]
        exit_price = np.nan  # this bar's sell, if any: one of three, in this order
        if pending == -1:  # a signal's, at the open
            exit_price = open_[t] * sell_factor
        pending = 0
        if in_position and np.isnan(exit_price):
            if stop_kind != STOP_NONE or target_kind != STOP_NONE:  # a stop's, in the bar
                level = np.nan
                if open_[t] <= stop_level or open_[t] >= target_level:
                    level = open_[t]
                elif low[t] <= stop_level:
                    level = stop_level
                elif high[t] >= target_level:
                    level = target_level
                if not np.isnan(level):
                    exit_price = level * sell_factor
                    stop_level = -np.inf
                    target_level = np.inf
            if np.isnan(exit_price) and t == n - 1:  # the end's, at the last close
                exit_price = close[t] * sell_factor
            bars_in_position += 1  # held through this bar, or up to its stop or close
        if not np.isnan(exit_price):
            cash = units * exit_price * (1.0 - fee)
            pnl = cash - entry_cash
            if pnl > 0.0:
                wins += 1
                gross_profit += pnl
            else:
                gross_loss -= pnl
            if record:
                _record_trade(
                    trades_out, trades, entry_bar, t, entry_price, exit_price, units, entry_cash,
                    cash,
                )  # fmt: skip
            trades += 1
            units = 0.0
            in_position = False
        equity = units * close[t] if in_position else cash
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
            pending = signal(signal_args, t, in_position)
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


_NO_ATR = np.zeros(1)


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
    """Run one built-in backtest over bars [first_bar, n). Fills `stats_out`; when
    `record`, also `equity_out` (one value per bar from first_bar) and `trades_out`
    (TRADE_* rows).

    Bars before `first_bar` only warm indicators up (walk-forward test windows): no
    signal is taken on them; the first signal is taken at first_bar's close."""
    run_bars(
        builtin_signal, (rule, x, lo, hi), open_, close, close, close, fee, slippage_bps,
        initial_cash, first_bar, record, STOP_NONE, 0.0, _NO_ATR, STOP_NONE, 0.0, _NO_ATR,
        equity_out, trades_out, stats_out,
    )  # fmt: skip


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
