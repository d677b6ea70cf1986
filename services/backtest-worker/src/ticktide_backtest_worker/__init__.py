"""Ticktide backtest worker: the engine (pure) and the queue consumer that runs it."""
