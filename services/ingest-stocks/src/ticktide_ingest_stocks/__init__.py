"""ticktide_ingest_stocks: the NASDAQ and Nasdaq Helsinki (OMXH) daily-bar ingester.

Other packages use `ticktide_ingest_stocks.testing.fake_nasdaq.FakeNasdaq` (the
fake upstream for both providers) and the pure modules (`nasdaq`, `nordic`,
`calendar`, `gaps`, `simulated`).
"""
