"""Backtests at the gateway: request models and planning, SQL, submission, SSE."""
