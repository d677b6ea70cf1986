"""Test helpers other packages may import: the fake NASDAQ / Nasdaq Nordic server."""
