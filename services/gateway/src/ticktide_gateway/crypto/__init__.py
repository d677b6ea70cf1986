"""Crypto: `/api/crypto/symbols`, `/prices`, `/aggregates` (routes), their inputs and
response models (schemas), SQL (repository), pre-built JSON bodies (bodies) and the
quality report of a series (quality)."""
