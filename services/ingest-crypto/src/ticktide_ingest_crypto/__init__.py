"""ticktide_ingest_crypto: the Binance candle ingester.

Public entry points for other packages (the CLI, end-to-end tests):
`read_archive` (Binance public-archive zips → candles) and, in
`ticktide_ingest_crypto.testing.fake_binance`, the fake Binance server.
"""

from ticktide_ingest_crypto.archive import ArchiveContents, ArchiveError, read_archive

__all__ = ["ArchiveContents", "ArchiveError", "read_archive"]
