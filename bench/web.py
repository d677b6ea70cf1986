"""Bench: the web pages in headless Chromium against a warm `make up` stack behind
nginx (HTTPS, HTTP/2, gzip): for every page of CONTRACT §3, the bytes transferred
on a first visit (a fresh browser context: empty cache) and on a repeat visit (the
same context, the page opened again), the time to first contentful paint, and the
time to the page's data being shown; then `/crypto` with 5 years of 1h candles
(43,800 bars) until its chart is drawn and the page says `N candles`.

"Data shown" is, on every page, the moment (performance.now(), from the start of
the navigation; never earlier than the first contentful paint) when its `<h1>` is
there, every chart figure has drawn (a canvas; the price and weather charts mark
themselves ready), no status says "Loading", and the page's own data is in the
document (named per page below: the prices table's rows, the `N candles` text, the
Results table's rows, the trades marked on a result's chart, ...). Bytes are
Chromium's own count of what crossed the network (CDP `encodedDataLength`: headers
and compressed bodies; cache hits count nothing).

The stack runs on a database of its own, on free ports and prefixes of its own, with
fake Binance / Nasdaq / Open-Meteo upstreams: its data is loaded the way the browser
tests load it (admin backfills through nginx), plus the 5 years of candles with
COPY. Everything is removed afterwards (`make down`, database dropped, queues and
Redis keys deleted). Five runs of each page; the table shows the medians, all runs'
figures are printed above it. Targets (issue 9): first visit < 500 KB, repeat < 50 KB,
data shown < 300 ms; the 5-year chart interactive < 1 s.

    uv run python bench/web.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # the browser tests' stack helpers
    sys.path.insert(0, str(REPO_ROOT))

from playwright.async_api import Browser, BrowserContext, Page, async_playwright  # noqa: E402

from tests.browser.helpers import (  # noqa: E402
    REAL_SYMBOL,
    BrowserStack,
    MarketData,
    api_session,
    batch_body,
    load_market_data,
    make_admin,
    make_down,
    make_up,
    register,
    run_batch,
    sign_in,
    stack_environment,
    unique,
)
from ticktide_common.messages import CandleBatchV1, CandleV1  # noqa: E402
from ticktide_common.migrate import apply_migrations  # noqa: E402
from ticktide_common.testing.users import bearer, create_test_token, create_test_user  # noqa: E402
from ticktide_gateway.settings import GatewaySettings  # noqa: E402
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance  # noqa: E402
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq  # noqa: E402
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo  # noqa: E402
from ticktide_writer.candle_batches import DeliveredBatch  # noqa: E402
from ticktide_writer.repository import PRICE_COLUMNS  # noqa: E402
from ticktide_writer.service import copy_text  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
LONG_SYMBOL = "BENCHWEBUSDT"
LONG_HOURS = 5 * 365 * 24  # 43,800 candles
TARGET_FIRST_KB = 500.0
TARGET_REPEAT_KB = 50.0
TARGET_DATA_MS = 300.0
TARGET_LONG_MS = 1000.0
DATA_TIMEOUT_MS = 20_000

# Shown on every page: the heading, drawn charts, nothing still loading.
GENERIC_READY = """
(() => {
  const main = document.querySelector("main");
  if (!main || !main.querySelector("h1")) return false;
  for (const figure of main.querySelectorAll("figure[aria-label]")) {
    if (!/chart/i.test(figure.getAttribute("aria-label"))) continue;
    if (!figure.querySelector("canvas")) return false;
    const marks = figure.matches("[data-price-chart], [data-weather-chart]");
    if (marks && figure.dataset.ready !== "true") return false;
  }
  for (const status of main.querySelectorAll('[role="status"]')) {
    if (/loading/i.test(status.textContent)) return false;
  }
  return true;
})()
"""


def _rows(label: str, at_least: int = 1) -> str:
    return (
        f"document.querySelectorAll('table[aria-label=\"{label}\"] tbody tr').length >= {at_least}"
    )


CANDLES_TEXT = "/\\d[\\d,]* candles/.test(document.querySelector('main').textContent)"
TRADES_TEXT = "/\\d[\\d,]* trades?/.test(document.querySelector('main').textContent)"
MARKED_TEXT = "/[\\d,]+ trades marked/.test(document.querySelector('main').textContent)"

# (name, path template, signed in, what shows its data)
PAGES: tuple[tuple[str, str, bool, str], ...] = (
    ("login", "/login", False, "!!document.querySelector('form input[name=password]')"),
    ("register", "/register", False, "!!document.querySelector('form input[name=email]')"),
    ("dashboard", "/", True, _rows("Crypto prices") + " && " + _rows("Stock prices")),
    ("account", "/account", True, "!!document.querySelector('main form')"),
    ("crypto", f"/crypto?symbol={REAL_SYMBOL}", True, CANDLES_TEXT),
    ("stocks", "/stocks?symbol=AAPL", True, "/\\d[\\d,]* bars/.test(document.body.textContent)"),
    ("weather", "/weather?location=Helsinki", True, "!!document.querySelector('article')"),
    ("backtests", "/backtests", True, _rows("Batches")),
    ("batch", "/backtests/{batch}", True, _rows("Results")),
    ("result", "{result}", True, TRADES_TEXT + " && " + MARKED_TEXT),
    ("performance", "/performance", True, _rows("Endpoints")),
    ("services", "/services", True, "document.querySelectorAll('main table tbody tr').length > 0"),
    ("admin users", "/admin/users", True, _rows("Users")),
    ("admin add user", "/admin/users/add", True, "!!document.querySelector('main form')"),
    ("admin edit user", "/admin/users/{user}/edit", True, "!!document.querySelector('main form')"),
    ("admin database", "/admin/database", True, "!!document.querySelector('main table tbody tr')"),
    ("admin security", "/admin/security", True, "!!document.querySelector('main table')"),
)


def _ready_function(condition: str) -> str:
    return f"() => ({GENERIC_READY}) && ({condition}) ? performance.now() : false"


def _replace_database(dsn: str, database: str) -> str:
    base, _, rest = dsn.rpartition("/")
    _, _, query = rest.partition("?")
    return f"{base}/{database}" + (f"?{query}" if query else "")


def _long_series(end: datetime, seed: int = 11) -> list[CandleV1]:
    rng = random.Random(seed)
    price = 9000.0
    start = end - timedelta(hours=LONG_HOURS)
    candles = []
    for i in range(LONG_HOURS):
        open_ = price
        close = max(1.0, open_ * (1 + rng.gauss(0, 0.004)))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.002)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.002)))
        volume = abs(rng.gauss(1200, 400))
        o, h, lo, c, v = (str(Decimal(f"{x:.8f}")) for x in (open_, high, low, close, volume))
        candles.append(
            CandleV1.model_construct(t=start + timedelta(hours=i), o=o, h=h, l=lo, c=c, v=v)
        )
        price = close
    return candles


async def _seed_long_series(dsn: str, end: datetime) -> None:
    """Five years of 1h candles, stored as the writer stores a fresh batch (COPY)."""
    connection = await asyncpg.connect(dsn)
    try:
        crypto_id = await connection.fetchval(
            "INSERT INTO cryptocurrencies (symbol, name, binance_symbol)"
            " VALUES ('BENCHWEB', 'Bench five years', $1) RETURNING id",
            LONG_SYMBOL,
        )
        batch = CandleBatchV1.model_construct(
            batch_id=uuid.uuid4(),
            job_id=None,
            symbol=LONG_SYMBOL,
            interval="1h",
            source="binance",
            candles=_long_series(end),
        )
        rendered = copy_text(crypto_id, DeliveredBatch.from_message(batch))
        assert rendered is not None
        await connection.copy_to_table(
            "crypto_prices",
            source=io.BytesIO(rendered[0].encode()),
            columns=PRICE_COLUMNS,
            format="text",
        )
        await connection.execute("ANALYZE crypto_prices")
    finally:
        await connection.close()


class Meter:
    """Chromium's count of the bytes one page received over the network, and
    whether any request (but an event stream) is still in flight."""

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0
        self.inflight: set[str] = set()
        self.last_event = time.monotonic()

    def reset(self) -> None:
        self.bytes = 0
        self.requests = 0
        self.last_event = time.monotonic()

    def sent(self, event: dict[str, Any]) -> None:
        if event.get("type") != "EventSource":
            self.inflight.add(str(event.get("requestId")))
        self.last_event = time.monotonic()

    def finished(self, event: dict[str, Any]) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))
        self.requests += 1
        self.done(event)

    def done(self, event: dict[str, Any]) -> None:
        self.inflight.discard(str(event.get("requestId")))
        self.last_event = time.monotonic()

    async def quiet(self, ms: float = 300, timeout: float = 15.0) -> None:
        """Until nothing is in flight and nothing happened for `ms`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.inflight and (time.monotonic() - self.last_event) * 1000 >= ms:
                return
            await asyncio.sleep(0.05)


async def _metered_page(context: BrowserContext) -> tuple[Page, Meter]:
    page = await context.new_page()
    meter = Meter()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    cdp.on("Network.requestWillBeSent", meter.sent)
    cdp.on("Network.loadingFinished", meter.finished)
    cdp.on("Network.loadingFailed", meter.done)
    return page, meter


async def _visit(
    page: Page, meter: Meter, path: str, condition: str, probe: str | None = None
) -> dict[str, Any]:
    meter.reset()
    await page.goto(path, wait_until="commit")
    handle = await page.wait_for_function(
        _ready_function(condition), polling="raf", timeout=DATA_TIMEOUT_MS
    )
    data_ms = float(await handle.json_value())
    await page.wait_for_load_state("load")
    await meter.quiet()
    fcp = await page.evaluate(
        "() => { const e = performance.getEntriesByName('first-contentful-paint')[0];"
        " return e ? e.startTime : null; }"
    )
    # Where the first byte's time went: connection (TCP + TLS), then the server.
    timing = await page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return { connect: n.connectEnd - n.connectStart, ttfb: n.responseStart }; }"
    )
    fcp_ms = float(fcp) if fcp is not None else None
    return {
        "kb": meter.bytes / 1024,
        "requests": meter.requests,
        "fcp_ms": fcp_ms,
        # In the document is not yet on the screen: never before the first paint.
        "data_ms": max(data_ms, fcp_ms or 0.0),
        "probe": await page.evaluate(probe) if probe else None,
        "connect_ms": float(timing["connect"]),
        "ttfb_ms": float(timing["ttfb"]),
    }


async def _measure_page(
    browser: Browser,
    stack: BrowserStack,
    user: str,
    path: str,
    signed_in: bool,
    condition: str,
    probe: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    context = await browser.new_context(
        ignore_https_errors=True,
        viewport=VIEWPORT,  # type: ignore[arg-type]
        base_url=stack.base_url,
    )
    try:
        if signed_in:
            await sign_in(context, stack, user)
        page, meter = await _metered_page(context)
        first = await _visit(page, meter, path, condition, probe)
        repeat = await _visit(page, meter, path, condition, probe)
        return first, repeat
    finally:
        await context.close()


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


async def _prepare(stack: BrowserStack, dsn: str) -> dict[str, Any]:
    """The users, data, a finished batch and the paths the pages need."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=3)
    assert pool is not None
    try:
        admin_id, _ = await create_test_user(pool, role="admin")
        token = await create_test_token(pool, admin_id, name="bench-web")
        market: MarketData = await load_market_data(stack, pool, bearer(token))
        user = unique("benchweb")
        await register(stack, user)
        await make_admin(pool, user)
        target = unique("benchedit")
        await register(stack, target)
        target_id = int(await pool.fetchval("SELECT id FROM users WHERE username = $1", target))
    finally:
        await pool.close()
    client = await api_session(stack, user)
    try:
        found = await run_batch(client, batch_body(market, {"fast": [10, 20], "slow": [50]}))
    finally:
        await client.aclose()
    batch_id = found["batch_id"]
    return {"user": user, "batch": batch_id, "target": target_id}


async def _result_path(browser: Browser, stack: BrowserStack, user: str, batch: str) -> str:
    context = await browser.new_context(ignore_https_errors=True, base_url=stack.base_url)
    try:
        await sign_in(context, stack, user)
        page = await context.new_page()
        await page.goto(f"/backtests/{batch}")
        link = page.get_by_role("table", name="Results").get_by_role("link").first
        href = await link.get_attribute("href", timeout=DATA_TIMEOUT_MS)
        assert href, "the batch page links no result"
        return href
    finally:
        await context.close()


async def _drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def run(runs: int = 5) -> list[dict[str, Any]]:
    load_before = os.getloadavg()
    base = GatewaySettings()
    run_id = f"benchweb{uuid.uuid4().hex[:8]}"
    admin_dsn = _replace_database(base.database_url, "postgres")
    database = f"ticktide_bench_{run_id}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    dsn = _replace_database(base.database_url, database)
    rows: list[dict[str, Any]] = []
    temp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    env_file = temp / "empty.env"
    env_file.write_text("")
    service_env = {
        "TICKTIDE_ENV": "test",
        "DATABASE_URL": dsn,
        "REDIS_URL": base.redis_url,
        "AMQP_URL": base.amqp_url,
        "TICKTIDE_BUS_PREFIX": run_id,
        "TICKTIDE_REDIS_PREFIX": f"{run_id}:",
        "CRYPTO_SCHEDULER_ENABLED": "0",
        "STOCKS_SCHEDULER_ENABLED": "0",
        "TICKTIDE_SIMULATED_FALLBACK": "0",
        "LOG_LEVEL": "WARNING",
    }
    stack: BrowserStack | None = None
    try:
        await apply_migrations(dsn)
        long_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        await _seed_long_series(dsn, long_end)
        with (
            FakeBinance() as binance,
            FakeNasdaq() as nasdaq,
            FakeOpenMeteo(archive_lag=timedelta(0)) as meteo,
        ):
            env = stack_environment(
                service_env, temp / "run", env_file, binance, nasdaq, meteo, LOG_LEVEL="WARNING"
            )
            env["TICKTIDE_BUS_PREFIX"] = run_id  # the bench's own names: deleted after
            env["TICKTIDE_REDIS_PREFIX"] = f"{run_id}:"
            stack = BrowserStack(
                base_url=f"https://localhost:{env['TICKTIDE_HTTPS_PORT']}",
                env=env,
                run_dir=temp / "run",
                binance=binance,
                nasdaq=nasdaq,
                meteo=meteo,
            )
            await make_up(stack, REPO_ROOT)
            print(f"make up: {stack.up_seconds:.1f} s; {stack.base_url}/", flush=True)
            facts = await _prepare(stack, dsn)
            rows = await _bench_pages(stack, facts, runs)
    finally:
        if stack is not None:
            await make_down(stack, REPO_ROOT)
        redis = Redis.from_url(base.redis_url)
        try:
            async for key in redis.scan_iter(match=f"{run_id}:*", count=500):
                await redis.delete(key)
        finally:
            await redis.aclose()
        await _drop_database(admin_dsn, database)
        shutil.rmtree(temp, ignore_errors=True)
    load_after = os.getloadavg()
    print(
        f"\nload average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f}"
        f" {load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f}"
        f" {load_after[2]:.2f}; {os.cpu_count()} CPUs"
    )
    for row in rows:
        row["load_before"] = round(load_before[0], 2)
        row["load_after"] = round(load_after[0], 2)
    return rows


async def _bench_pages(
    stack: BrowserStack, facts: dict[str, Any], runs: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            user = facts["user"]
            result = await _result_path(browser, stack, user, facts["batch"])
            # Warm: every page once (server caches, the browser's compiled code).
            paths = [
                (name, t.format(batch=facts["batch"], user=facts["target"], result=result), s, c)
                for name, t, s, c in PAGES
            ]
            broken: dict[str, str] = {}
            for name, path, signed_in, condition in paths:
                try:
                    await _measure_page(browser, stack, user, path, signed_in, condition)
                except Exception as exc:  # one broken page must not hide the others
                    broken[name] = " ".join(str(exc).split())[:160]
                    print(f"{name}: {path} shows no data: {broken[name]}", flush=True)
            print(
                f"\n{'page':<16} run  first KB  repeat KB  connect ms  TTFB ms  FCP ms  data ms"
                "  (first visit; then the repeat visit's FCP and data ms)"
            )
            for name, path, signed_in, condition in paths:
                if name in broken:
                    rows.append({"bench": "web", "page": name, "error": broken[name], "ok": False})
                    continue
                firsts: list[dict[str, Any]] = []
                repeats: list[dict[str, Any]] = []
                for index in range(runs):
                    first, repeat = await _measure_page(
                        browser, stack, user, path, signed_in, condition
                    )
                    firsts.append(first)
                    repeats.append(repeat)
                    print(
                        f"{name:<16} {index + 1:>3}  {first['kb']:>8.1f}  {repeat['kb']:>9.1f}"
                        f"  {first['connect_ms']:>10.1f}  {first['ttfb_ms']:>7.1f}"
                        f"  {_fmt(first['fcp_ms']):>6}  {first['data_ms']:>7.1f}"
                        f"  / {_fmt(repeat['fcp_ms'])} {repeat['data_ms']:.1f}",
                        flush=True,
                    )
                rows.append(_page_row(name, path, firsts, repeats))
            rows.append(await _long_chart(browser, stack, user, runs))
        finally:
            await browser.close()
    return rows


def _page_row(
    name: str, path: str, firsts: list[dict[str, Any]], repeats: list[dict[str, Any]]
) -> dict[str, Any]:
    first_kb = _median([f["kb"] for f in firsts]) or 0.0
    repeat_kb = _median([r["kb"] for r in repeats]) or 0.0
    data_ms = _median([f["data_ms"] for f in firsts]) or 0.0
    repeat_data_ms = _median([r["data_ms"] for r in repeats]) or 0.0
    return {
        "bench": "web",
        "page": name,
        "first_kb": round(first_kb, 1),
        "repeat_kb": round(repeat_kb, 1),
        "requests": int(_median([f["requests"] for f in firsts]) or 0),
        "connect_ms": round(_median([f["connect_ms"] for f in firsts]) or 0.0, 1),
        "ttfb_ms": round(_median([f["ttfb_ms"] for f in firsts]) or 0.0, 1),
        "fcp_ms": round(_median([f["fcp_ms"] for f in firsts]) or 0.0, 1),
        "data_ms": round(data_ms, 1),
        "repeat_fcp_ms": round(_median([r["fcp_ms"] for r in repeats]) or 0.0, 1),
        "repeat_data_ms": round(repeat_data_ms, 1),
        "targets": f"<{TARGET_FIRST_KB:g}/<{TARGET_REPEAT_KB:g} KB, <{TARGET_DATA_MS:g} ms",
        "ok": first_kb < TARGET_FIRST_KB
        and repeat_kb < TARGET_REPEAT_KB
        and data_ms < TARGET_DATA_MS,
    }


async def _long_chart(
    browser: Browser, stack: BrowserStack, user: str, runs: int
) -> dict[str, Any]:
    """/crypto with five years of 1h candles: until the chart has drawn them all
    and the page says `N candles` (N within a day of 43,800)."""
    path = f"/crypto?symbol={LONG_SYMBOL}&interval=1h&range=5y"
    condition = (
        "(() => { const m = document.querySelector('main').textContent"
        ".match(/(\\d[\\d,]*) candles/);"
        " return !!m && Number(m[1].replace(/,/g, '')) > 43700; })()"
    )
    probe = "() => document.querySelector('main').textContent.match(/\\d[\\d,]* candles/)[0]"
    timings: list[dict[str, Any]] = []
    await _measure_page(browser, stack, user, path, True, condition, probe)  # warm
    for index in range(runs):
        first, _ = await _measure_page(browser, stack, user, path, True, condition, probe)
        timings.append(first)
        print(
            f"crypto 5 years   {index + 1:>3}  {first['kb']:>8.1f}  TTFB {first['ttfb_ms']:.1f}"
            f"  FCP {_fmt(first['fcp_ms'])}"
            f"  interactive {first['data_ms']:.1f} ms  ({first['probe']})",
            flush=True,
        )
    data_ms = _median([t["data_ms"] for t in timings]) or 0.0
    return {
        "bench": "web",
        "page": "crypto 5y 1h",
        "first_kb": round(_median([t["kb"] for t in timings]) or 0.0, 1),
        "repeat_kb": None,
        "requests": int(_median([t["requests"] for t in timings]) or 0),
        "connect_ms": round(_median([t["connect_ms"] for t in timings]) or 0.0, 1),
        "ttfb_ms": round(_median([t["ttfb_ms"] for t in timings]) or 0.0, 1),
        "fcp_ms": round(_median([t["fcp_ms"] for t in timings]) or 0.0, 1),
        "data_ms": round(data_ms, 1),
        "repeat_fcp_ms": None,
        "repeat_data_ms": None,
        "targets": f"interactive <{TARGET_LONG_MS:g} ms",
        "ok": data_ms < TARGET_LONG_MS,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\nmedians of the runs")
    header = ("page", "first KB", "repeat KB", "reqs", "TTFB ms", "FCP ms", "data ms")
    print(f"{header[0]:<16}" + "".join(f"{h:>11}" for h in header[1:]) + f"  {'targets':<28} ok")
    for row in rows:
        if "error" in row:
            print(f"{row['page']:<16} FAILED: {row['error']}")
            continue
        print(
            f"{row['page']:<16}{_fmt(row['first_kb']):>11}{_fmt(row['repeat_kb']):>11}"
            f"{row['requests']:>11}{_fmt(row.get('ttfb_ms')):>11}"
            f"{_fmt(row['fcp_ms']):>11}{_fmt(row['data_ms']):>11}"
            f"  {row['targets']:<28} {'yes' if row['ok'] else 'NO'}"
        )


def main(runs: int = 5) -> list[dict[str, Any]]:
    """Run the bench, print its table, return its rows (for bench/run.py)."""
    rows = asyncio.run(run(runs))
    print_table(rows)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="visits of each page")
    main(parser.parse_args().runs)
