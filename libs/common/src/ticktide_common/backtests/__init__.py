"""The backtests contract between the gateway and the backtest workers, importable
without the engine (no numpy, numba or pandas here): the strategy catalogue
(`catalogue`), parameter grids (`grid`), walk-forward window counts
(`walk_forward`) and a batch's event stream (`events`)."""
