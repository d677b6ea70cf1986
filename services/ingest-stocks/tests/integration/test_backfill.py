"""StocksIngester against real RabbitMQ and PostgreSQL, with FakeNasdaq serving
both providers and the real writer: bars are stored exactly as served, error
blocks fail the job with the provider's words and publish nothing, 5xx and
empty pages are retried, an unreachable provider falls back to simulated bars
(or fails), and holes become gaps — weekends and holidays do not."""

from __future__ import annotations

from datetime import date

import asyncpg

from ticktide_common.jobs import get_job_progress
from ticktide_common.testing.market import forget_stock_rows
from ticktide_common.testing.processes import free_port
from ticktide_ingest_stocks.nasdaq_format import optional_decimal, plain_decimal
from ticktide_ingest_stocks.simulated import simulated_bars
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq

START, END = date(2024, 9, 1), date(2024, 12, 1)


async def _stored(pool: asyncpg.Pool, symbol: str) -> list[tuple]:
    rows = await pool.fetch(
        """SELECT (p.datetime AT TIME ZONE 'UTC')::date, p.open_price::text, p.high_price::text,
                  p.low_price::text, p.close_price::text, p.volume::text, p.average_price::text,
                  p.turnover::text, p.source
           FROM stock_prices p JOIN stocks s ON s.id = p.stock_id
           WHERE s.symbol = $1 ORDER BY p.datetime""",
        symbol,
    )
    return [tuple(row) for row in rows]


async def _gaps(pool: asyncpg.Pool, symbol: str) -> list[tuple]:
    rows = await pool.fetch(
        """SELECT g.gap_start, g.gap_end, g.sessions, g.status
           FROM stock_gaps g JOIN stocks s ON s.id = g.stock_id
           WHERE s.symbol = $1 ORDER BY g.gap_start""",
        symbol,
    )
    return [tuple(row) for row in rows]


def _us_expected(fake: FakeNasdaq, symbol: str) -> list[tuple]:
    def day(text: str) -> date:
        month, dom, year = text.split("/")
        return date(int(year), int(month), int(dom))

    return [
        (
            day(r["date"]),
            plain_decimal(r["open"]),
            plain_decimal(r["high"]),
            plain_decimal(r["low"]),
            plain_decimal(r["close"]),
            plain_decimal(r["volume"]),
            None,
            None,
            "nasdaq",
        )
        for r in fake.served_us_rows(symbol)
    ]


def _fi_expected(fake: FakeNasdaq, provider_symbol: str) -> list[tuple]:
    return [
        (
            date.fromisoformat(r["dateTime"]),
            None,
            plain_decimal(r["high"]),
            plain_decimal(r["low"]),
            plain_decimal(r["close"]),
            plain_decimal(r["totalVolume"]),
            optional_decimal(r["average"]),
            optional_decimal(r["turnover"]),
            "nasdaq-nordic",
        )
        for r in fake.served_nordic_rows(provider_symbol)
    ]


async def test_aapl_and_nokia_are_stored_as_served(pipeline, fake_nasdaq: FakeNasdaq) -> None:
    await forget_stock_rows(pipeline.pool, "AAPL", "NOKIA")
    assert fake_nasdaq.add_us_series("AAPL", START, END) > 60
    assert fake_nasdaq.add_nordic_series("NOKIA", START, END, full_name="Nokia Oyj") > 60
    us_job = await pipeline.backfill("AAPL", "NASDAQ", START, END)
    fi_job = await pipeline.backfill("NOKIA", "OMXH", START, END)
    assert await pipeline.finished(us_job) == "done"
    assert await pipeline.finished(fi_job) == "done"

    assert await _stored(pipeline.pool, "AAPL") == _us_expected(fake_nasdaq, "AAPL")
    nokia = await _stored(pipeline.pool, "NOKIA")
    assert nokia == _fi_expected(fake_nasdaq, "NOKIA")
    assert all(row[1] is None for row in nokia)  # Helsinki publishes no open
    assert any("," in r["close"] or "," in r["volume"] for r in fake_nasdaq.served_us_rows("AAPL"))

    orderbook = await pipeline.pool.fetchval(
        "SELECT orderbook_id FROM stocks WHERE symbol = 'NOKIA'"
    )
    assert orderbook == fake_nasdaq.orderbook_id("NOKIA")
    assert await _gaps(pipeline.pool, "AAPL") == [] and await _gaps(pipeline.pool, "NOKIA") == []
    progress = await get_job_progress(pipeline.pool, us_job)
    assert progress is not None and progress.candles_stored == len(
        _us_expected(fake_nasdaq, "AAPL")
    )

    for request in fake_nasdaq.requests():
        assert request.headers["user-agent"].startswith("Mozilla/5.0")
        assert request.headers["origin"] == "https://www.nasdaq.com"
        assert request.headers["referer"].startswith("https://www.nasdaq.com")
        assert "application/json" in request.headers["accept"]
    history = [r for r in fake_nasdaq.requests() if r.path.endswith("/historical")]
    assert history[0].params["assetclass"] == "stocks"
    assert history[0].params["todate"] <= "2024-11-30"  # never past the range's last day


async def test_error_block_fails_the_job_and_publishes_nothing(
    pipeline, fake_nasdaq: FakeNasdaq, us_symbol: str, fi_symbol: str
) -> None:
    job = await pipeline.backfill(us_symbol, "NASDAQ", START, END)  # unknown to the provider
    assert await pipeline.finished(job) == "failed"
    progress = await get_job_progress(pipeline.pool, job)
    assert progress is not None and "Symbol not exists." in (progress.error or "")
    assert pipeline.published(job) == []
    assert (
        await pipeline.pool.fetchval("SELECT count(*) FROM stocks WHERE symbol = $1", us_symbol)
        == 0
    )

    fake_nasdaq.add_nordic_series("OTHER FI", START, END)
    job = await pipeline.backfill(fi_symbol, "OMXH", START, END)
    assert await pipeline.finished(job) == "failed"
    progress = await get_job_progress(pipeline.pool, job)
    assert progress is not None and "not listed" in (progress.error or "")

    # An error block in the middle of a known series: nothing of it is published.
    fake_nasdaq.add_us_series(us_symbol, START, END)
    fake_nasdaq.error_block_next(message="Provided date is less than from date", code=1011)
    job = await pipeline.backfill(us_symbol, "NASDAQ", START, END)
    assert await pipeline.finished(job) == "failed"
    progress = await get_job_progress(pipeline.pool, job)
    assert progress is not None and "Provided date is less than from date" in (progress.error or "")
    assert pipeline.published(job) == []


async def test_5xx_and_empty_pages_are_retried(
    pipeline, fake_nasdaq: FakeNasdaq, us_symbol: str, fi_symbol: str
) -> None:
    fake_nasdaq.add_us_series(us_symbol, START, END)
    fake_nasdaq.fail_next(503)
    job = await pipeline.backfill(us_symbol, "NASDAQ", START, END)
    assert await pipeline.finished(job) == "done"
    assert [r.status for r in fake_nasdaq.requests()] == [503, 200]
    assert await _stored(pipeline.pool, us_symbol) == _us_expected(fake_nasdaq, us_symbol)

    provider = fi_symbol.replace("-", " ")
    fake_nasdaq.add_nordic_series(provider, START, END)
    fake_nasdaq.empty_next()
    job = await pipeline.backfill(fi_symbol, "OMXH", START, END)
    assert await pipeline.finished(job) == "done"
    assert await _stored(pipeline.pool, fi_symbol) == _fi_expected(fake_nasdaq, provider)


async def test_empty_pages_for_closed_sessions_fail_the_job(
    make_pipeline, fake_nasdaq: FakeNasdaq, us_symbol: str
) -> None:
    built = await make_pipeline(ingest_fetch_max_attempts=1)
    fake_nasdaq.add_us_series(us_symbol, START, END)
    fake_nasdaq.empty_next(times=2)  # every try of the one window
    job = await built.backfill(us_symbol, "NASDAQ", START, END)
    assert await built.finished(job) == "failed"
    progress = await get_job_progress(built.pool, job)
    assert progress is not None
    assert f"provider returned no rows for {us_symbol} 2024-09-03..2024-11-29" in (
        progress.error or ""
    )
    assert built.published(job) == []
    # A range without sessions (a weekend) is legitimately empty: done, 0 bars.
    job = await built.backfill(us_symbol, "NASDAQ", date(2024, 9, 7), date(2024, 9, 9))
    assert await built.finished(job) == "done"
    progress = await get_job_progress(built.pool, job)
    assert progress is not None and progress.batches_expected == 0


async def test_unreachable_provider_falls_back_to_simulated_or_fails(
    make_pipeline, db_pool, us_symbol: str, fi_symbol: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    built = await make_pipeline(
        nasdaq_base_url=dead, nasdaq_nordic_base_url=dead, ticktide_simulated_fallback=True
    )
    job = await built.backfill(fi_symbol, "OMXH", START, date(2024, 10, 1))
    assert await built.finished(job) == "done"
    expected = [
        (b.date, b.o, b.h, b.l, b.c, b.v, None, None, "simulated")
        for b in simulated_bars(fi_symbol, "OMXH", START, date(2024, 10, 1))
    ]
    assert len(expected) == 21 and await _stored(db_pool, fi_symbol) == expected
    assert all(row[1] is None for row in expected)
    assert (
        await db_pool.fetchval("SELECT source FROM ingest_jobs WHERE id = $1", job) == "simulated"
    )


async def test_unreachable_provider_without_fallback_fails(
    make_pipeline, db_pool, us_symbol: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    built = await make_pipeline(nasdaq_base_url=dead)
    job = await built.backfill(us_symbol, "NASDAQ", START, END)
    assert await built.finished(job, timeout=60) == "failed"
    progress = await get_job_progress(db_pool, job)
    assert progress is not None and progress.error is not None
    assert "gave up after 2 attempts" in progress.error and "unreachable" in progress.error
    assert built.published(job) == []


async def test_holes_become_gaps_but_weekends_and_holidays_do_not(
    pipeline, fake_nasdaq: FakeNasdaq, us_symbol: str
) -> None:
    start, end = date(2024, 6, 17), date(2024, 7, 20)
    holes = [date(2024, 7, 2), date(2024, 7, 3), date(2024, 7, 10)]
    fake_nasdaq.add_us_series(us_symbol, start, end, holes=holes)
    job = await pipeline.backfill(us_symbol, "NASDAQ", start, end)
    assert await pipeline.finished(job) == "done"
    # 2024-07-04 (Independence Day) and the weekends are not gaps.
    assert await _gaps(pipeline.pool, us_symbol) == [
        (date(2024, 7, 2), date(2024, 7, 3), 2, "open"),
        (date(2024, 7, 10), date(2024, 7, 10), 1, "open"),
    ]
    # The refill requests cover exactly the missing sessions.
    refills = await pipeline.ingester.request_refills()
    # Other tests' symbols may have open gaps in the run's database: only ours count.
    mine = [
        p
        for p in [await get_job_progress(pipeline.pool, j) for j in refills]
        if p is not None and p.symbol == us_symbol
    ]
    refills = [p.id for p in mine]
    ranges = sorted((p.start.date(), p.end.date()) for p in mine if p.start and p.end)
    assert ranges == [(date(2024, 7, 2), date(2024, 7, 4)), (date(2024, 7, 10), date(2024, 7, 11))]
    again_due = [
        p
        for p in [
            await get_job_progress(pipeline.pool, j)
            for j in await pipeline.ingester.request_refills()
        ]
        if p is not None and p.symbol == us_symbol
    ]
    assert again_due == []  # at most once an hour
    for refill in refills:  # the source still lacks them: the refill fails, the gap stays open
        assert await pipeline.finished(refill) == "failed"

    fake_nasdaq.heal(us_symbol)
    again = await pipeline.backfill(us_symbol, "NASDAQ", start, end)
    assert await pipeline.finished(again) == "done"
    assert [g[3] for g in await _gaps(pipeline.pool, us_symbol)] == ["refilled", "refilled"]
    assert await _stored(pipeline.pool, us_symbol) == _us_expected(fake_nasdaq, us_symbol)
