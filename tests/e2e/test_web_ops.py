"""The operations pages through the gateway (HTTP, server-rendered HTML): the
dashboard with prices loaded through the fake Binance and their 24 h change,
the `simulated` badge only on simulated data, weather and the user's batches;
/performance with its window, endpoint table and an invalid window shown as an
alert; /services with the stack's running instances and its queues."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers, backfill_and_wait, stack_env, start_stack
from ticktide_common.testing.processes import wait_until
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
REAL = "OPSWEBUSDT"  # backfilled through the fake Binance
SIMULATED = "OPSSIMUSDT"  # stored with source 'simulated'
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 1, 3, tzinfo=UTC)  # 48 hourly candles
COOKIE = "__Host-ticktide_session"


@pytest.fixture(scope="module")
async def ops_stack(
    service_env: dict[str, str], log_dir: Path, db_pool: asyncpg.Pool
) -> AsyncIterator[CryptoStack]:
    with FakeBinance() as binance:
        binance.add_series(REAL, "1h", START, END)
        env = stack_env(
            service_env,
            binance.url,
            CRYPTO_SCHEDULER_ENABLED="0",
            REGISTRATION_MAX_PER_IP="1000",
            HEARTBEAT_SECONDS="1",
            METRICS_FLUSH_SECONDS="0.5",
        )
        await _add_pairs(db_pool)
        stack = await start_stack(binance, env, log_dir, ingesters=("web",))
        try:
            yield stack
        finally:
            await stack.close()
            await _forget_pairs(db_pool)


async def _add_pairs(pool: asyncpg.Pool) -> None:
    for symbol in (REAL, SIMULATED):
        await pool.execute(
            """INSERT INTO cryptocurrencies (symbol, name, binance_symbol) VALUES ($1, $2, $3)
               ON CONFLICT (binance_symbol) DO UPDATE SET is_active = true""",
            symbol.removesuffix("USDT"),
            f"{symbol} test pair",
            symbol,
        )


async def _forget_pairs(pool: asyncpg.Pool) -> None:
    """Other tests of the run share the database: leave no rows and no active pair behind."""
    ids = [
        r["id"]
        for r in await pool.fetch(
            "SELECT id FROM cryptocurrencies WHERE binance_symbol = ANY($1::text[])",
            [REAL, SIMULATED],
        )
    ]
    await pool.execute("DELETE FROM crypto_prices WHERE crypto_id = ANY($1::int[])", ids)
    await pool.execute(
        "UPDATE cryptocurrencies SET is_active = false WHERE id = ANY($1::int[])", ids
    )


async def _store_simulated(pool: asyncpg.Pool) -> None:
    """30 simulated hourly candles ending before the real series' newest one."""
    crypto_id = await pool.fetchval(
        "SELECT id FROM cryptocurrencies WHERE binance_symbol = $1", SIMULATED
    )
    rows = []
    for hour in range(30):
        close = Decimal(100 + hour)
        rows.append(
            (
                crypto_id,
                START + timedelta(hours=hour),
                "1h",
                close,
                close + 1,
                close - 1,
                close,
                Decimal("10"),
                "simulated",
            )
        )
    await pool.executemany(
        """INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price, high_price,
                                      low_price, close_price, volume, source)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (crypto_id, interval_type, datetime) DO NOTHING""",
        rows,
    )


def _client(stack: CryptoStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.api, timeout=30.0)


async def signed_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Register and sign in through the pages; the client sends the session from now on."""
    registered = await client.post(
        "/register",
        data={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert registered.status_code == 303, registered.text
    login = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "next": "/"}
    )
    assert login.status_code == 303, login.text
    for header in login.headers.get_list("set-cookie"):
        if header.startswith(f"{COOKIE}="):
            # The cookie is Secure and the test speaks plain HTTP to the gateway (nginx
            # terminates TLS): keep it on the client for every request of this test.
            value = header.split(";", 1)[0].split("=", 1)[1]
            client.cookies.set(COOKIE, value)
            return {COOKIE: value}
    raise AssertionError("no session cookie")


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def table(page: str, name: str) -> list[tuple[str, list[str]]]:
    """The body rows of the table named `name`: (the row's HTML, its cells' texts)."""
    found = re.search(rf'<table[^>]*aria-label="{re.escape(name)}"[^>]*>(.*?)</table>', page, re.S)
    assert found, f"no table {name!r}"
    body = found.group(1).split("</thead>", 1)[-1]
    rows = re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)
    return [
        (row, [_text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)])
        for row in rows
    ]


def row_of(rows: list[tuple[str, list[str]]], first_cell_start: str) -> tuple[str, list[str]]:
    matches = [r for r in rows if r[1] and r[1][0].startswith(first_cell_start)]
    assert len(matches) == 1, (first_cell_start, [r[1] for r in rows])
    return matches[0]


def _change_text(pct: float) -> str:
    return f"{pct:+.2f} %"


async def test_dashboard_shows_prices_changes_and_simulated_badge_only_where_simulated(
    ops_stack: CryptoStack, db_pool: asyncpg.Pool
) -> None:
    async with _client(ops_stack) as client:
        client.headers.update(await admin_headers(db_pool))
        await backfill_and_wait(client, REAL, START, END)
        await _store_simulated(db_pool)
        del client.headers["authorization"]

        await signed_in(client, "opsdash1")
        page = await client.get("/")
        assert page.status_code == 200, page.text
        assert "<title>Dashboard · Ticktide</title>" in page.text
        assert page.text.count("<h1") == 1
        api = (await client.get("/api/dashboard")).json()

    served = ops_stack.binance.served_klines(REAL, "1h")
    last, day_before = float(served[-1][4]), float(served[-25][4])
    expected_change = (last - day_before) / day_before * 100

    crypto = table(page.text, "Crypto prices")
    real_html, real_cells = row_of(crypto, REAL)
    assert real_cells[1] == f"{last:,.2f}" if last >= 100 else f"{last:,.4f}"
    assert _change_text(expected_change) in real_cells[2]
    assert ("tt-up" if expected_change > 0 else "tt-down") in real_html
    assert real_cells[3] == "2024-01-02 23:00 UTC"
    assert "binance" in real_cells[4] and "simulated" not in real_html

    sim_html, sim_cells = row_of(crypto, SIMULATED)
    assert sim_cells[1] == "129.00"  # the 30th close
    assert _change_text((129 - 105) / 105 * 100) in sim_cells[2]
    assert "simulated" in sim_cells[4] and "tt-simulated" in sim_html

    # Every row: the badge exactly where the API says the data is simulated.
    by_symbol = {q["symbol"]: q for q in api["crypto"]}
    for row_html, cells in crypto:
        symbol = cells[0].split()[0]
        assert ("tt-simulated" in row_html) == (by_symbol[symbol]["source"] == "simulated"), cells
    for row_html, cells in table(page.text, "Stock prices"):
        assert ("tt-simulated" in row_html) == ("simulated" in cells[-1]), cells
    assert len(table(page.text, "Stock prices")) == max(len(api["stocks"]), 1)

    # Freshness: the newest candle, how long ago, simulated only when the API says so.
    fresh = re.search(r'<li[^>]*data-source="crypto"[^>]*>(.*?)</li>', page.text, re.S)
    assert fresh
    assert re.search(
        r"last candle \d{4}-\d\d-\d\d \d\d:\d\d UTC, \d+ \w+ ago", _text(fresh.group(1))
    )
    assert ("simulated" in fresh.group(1)) == api["freshness"]["crypto"]["simulated"]
    assert 'href="/services"' in page.text and "Service health" in page.text


async def test_dashboard_shows_weather_and_the_users_batches(
    ops_stack: CryptoStack, db_pool: asyncpg.Pool
) -> None:
    observed = datetime.now(UTC).replace(microsecond=0)
    row_id = await db_pool.fetchval(
        """INSERT INTO weather_current (location, datetime, temperature, humidity, pressure,
                                        wind_speed, description, source)
           VALUES ('Helsinki', $1, -7.25, 81, 1012, 4.5, 'light snow', 'open-meteo')
           RETURNING id""",
        observed + timedelta(days=3650),  # newer than any other test's observation
    )
    try:
        async with _client(ops_stack) as client:
            await signed_in(client, "opsdash2")
            client.headers["x-csrf-token"] = (await client.get("/api/auth/me")).json()["csrf_token"]
            batch = await client.post(
                "/api/crypto/backtest/batch",
                json={
                    "symbols": [REAL],
                    "intervals": ["1h"],
                    "start": START.isoformat(),
                    "end": END.isoformat(),
                    "strategy": "sma_cross",
                    "grid": {"fast": [3, 4], "slow": [10]},
                    "fee": 0.001,
                    "slippage_bps": 0,
                    "initial_cash": 1000,
                    "rank_by": "sharpe",
                    "walk_forward": None,
                },
            )
            if batch.status_code == 422 and "candles" in batch.text:
                pytest.fail(f"the batch needs the backfill of the first test: {batch.text}")
            assert batch.status_code == 202, batch.text
            batch_id = batch.json()["batch_id"]
            page = await client.get("/")
    finally:
        await db_pool.execute("DELETE FROM weather_current WHERE id = $1", row_id)

    assert page.status_code == 200
    card = re.search(
        r"<article[^>]*tt-weather-card[^>]*>((?:(?!</article>).)*Helsinki.*?)</article>",
        page.text,
        re.S,
    )
    assert card, page.text
    text = _text(card.group(1))
    assert "-7.2 °C" in text or "-7.3 °C" in text
    assert "light snow" in text and "81 %" in text and "1,012 hPa" in text and "4.5 m/s" in text
    assert "open-meteo" in text and "simulated" not in text

    # No worker runs in this stack: the batch stays queued, with its progress shown.
    short = batch_id[:8]
    assert f'href="/backtests/{batch_id}"' in page.text
    assert re.search(
        rf'<progress value="0" max="1" aria-label="Progress of batch {short}">', page.text
    ), page.text
    assert "0 / 1 jobs · 2 backtests" in _text(page.text)  # one series, a grid of two
    recent = table(page.text, "Recent backtests")
    assert recent[0][1][0] == f"Batch {short}" and recent[0][1][4] == "0 / 1"
    assert recent[0][1][5] == "queued"


async def test_performance_shows_endpoints_and_an_invalid_window_as_an_alert(
    ops_stack: CryptoStack,
) -> None:
    async with _client(ops_stack) as client:
        await signed_in(client, "opsperf1")
        for _ in range(3):
            assert (await client.get("/api/crypto/symbols")).status_code == 200

        async def measured() -> bool:
            body = (await client.get("/api/performance")).json()
            return any(e["endpoint"] == "/api/crypto/symbols" for e in body["endpoints"])

        await wait_until(measured, timeout=20, what="the requests to be measured")

        page = await client.get("/performance")
        assert page.status_code == 200, page.text
        assert '<label class="form-label mb-0" for="f-window">Window</label>' in page.text
        assert '<option value="1h" selected>' in page.text
        endpoints = table(page.text, "Endpoints")
        symbols = [cells for _, cells in endpoints if cells[0] == "GET /api/crypto/symbols"]
        assert symbols and int(symbols[0][1]) >= 3
        requests = [int(cells[1].replace(",", "")) for _, cells in endpoints]
        assert requests == sorted(requests, reverse=True)  # most requested first
        for name in ("Request rate chart", "Error rate chart", "p95 latency chart"):
            assert f'<figure class="tt-figure" aria-label="{name}">' in page.text
        assert len(table(page.text, "Requests over time")) == 61  # 1 min buckets of an hour
        assert (
            'id="performance-data"' in page.text and '<script type="application/json"' in page.text
        )
        ingest = {cells[0].split()[0]: cells for _, cells in table(page.text, "Ingest")}
        assert set(ingest) == {"crypto", "stocks", "weather"}
        assert "Backtest throughput" in page.text

        day = await client.get("/performance?window=24h&sort=p95")
        assert day.status_code == 200
        assert '<option value="24h" selected>' in day.text
        assert re.search(
            r'<th scope="col" class="tt-num" aria-sort="descending">\s*p95 ms', day.text
        )
        assert len(table(day.text, "Requests over time")) in (96, 97)

        bogus = await client.get("/performance?window=bogus")
        assert 400 <= bogus.status_code < 500, bogus.status_code
        alert = re.search(r'role="alert">([^<]*)<', bogus.text)
        assert alert and "window" in alert.group(1), bogus.text
        assert (
            '<select class="form-select form-select-sm" id="f-window" name="window">' in bogus.text
        )
        assert "Traceback" not in bogus.text


async def test_services_lists_the_running_instances_and_queues(ops_stack: CryptoStack) -> None:
    async with _client(ops_stack) as client:
        await signed_in(client, "opssvc1")
        wanted = {"gateway", "auth", "writer", "ingest-crypto", "web"}

        async def all_beating() -> bool:
            body = (await client.get("/api/services")).json()
            return wanted <= {i["service"] for i in body["instances"] if not i["stale"]}

        await wait_until(all_beating, timeout=30, what="every service's heartbeat")
        page = await client.get("/services")
        api = (await client.get("/api/services")).json()

    assert page.status_code == 200, page.text
    assert "<title>Services · Ticktide</title>" in page.text
    instances = table(page.text, "Instances")
    services = {cells[0] for _, cells in instances}
    assert wanted <= services, services
    gateway_html, gateway = row_of(instances, "gateway")
    beat = next(i for i in api["instances"] if i["service"] == "gateway")
    assert gateway[1] == beat["instance"][:8]
    assert ops_stack.gateway.process is not None
    assert gateway[3] == str(ops_stack.gateway.process.pid)
    assert "ready" in gateway[7] and "not ready" not in gateway[7]
    assert "stale" not in gateway[8]
    web_html, web = row_of(instances, "web")
    assert "(probe)" in web[6]

    queues = table(page.text, "Queues")
    prefix = ops_stack.env["TICKTIDE_BUS_PREFIX"] + "."
    assert f'begins with <code class="tt-queue-name">{prefix}</code>' in page.text
    assert [prefix + cells[0] for _, cells in queues] == [q["name"] for q in api["queues"]]
    # Rows with dead letters, no consumers or no queue at all are highlighted, with words.
    for row_html, cells in queues:
        dead, consumers, attention = cells[4], cells[3], cells[5]
        missing = "missing" in attention
        flagged = dead not in ("0", "—") or consumers == "0" or missing
        assert ("table-danger" in row_html or "table-warning" in row_html) == flagged, cells
        assert ("no consumers" in attention) == (consumers == "0" and not missing), cells
        assert ("dead letters" in attention) == (dead not in ("0", "—")), cells
    # The stack's consumers are running: its writer's queues have one.
    writer_queues = [cells for _, cells in queues if cells[0].startswith("writer.")]
    assert writer_queues and all(cells[3] not in ("0", "—") for cells in writer_queues), queues
    source = {"management": "management API", "declare": "passive queue declarations"}
    assert source[api["source"]] in page.text


async def test_ops_pages_send_a_signed_out_visitor_to_sign_in(ops_stack: CryptoStack) -> None:
    async with _client(ops_stack) as client:
        for path in ("/", "/performance?window=7d", "/services"):
            answer = await client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=/")
