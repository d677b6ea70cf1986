"""The engine's version: recorded with every result (so a result names the code
that computed it) and part of every compiled language kernel's cache key. Bump
it whenever the bar loop, an indicator, a metric or the code generator changes
what a backtest computes."""

ENGINE_VERSION = "2026.12.1"
