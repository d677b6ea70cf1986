"""Test helpers other packages reuse (the fake Binance server)."""
