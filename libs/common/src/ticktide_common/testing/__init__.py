"""Pytest fixtures and helpers shared by every package's tests (a pytest plugin)."""
