"""The backtest pages over HTTP through the gateway (no JavaScript): the form
generated from the strategies' schemas, a grid submitted as a plain form and
run by two workers to the batch page's Results, a bad grid value kept with its
error beside the field, the API's rejections on the page, one result in detail
(the trades of the same metrics), comparing, walk-forward windows, cancelling,
and another user's batch answered with the Not found page."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, admin_headers, backfill_and_wait, stack_env, start_stack
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "correct horse battery"
SYMBOL = "WBTKUSDT"  # a pair of its own: the e2e tests share one database
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 3, 1, tzinfo=UTC)  # 1440 hourly bars
COOKIE = "__Host-ticktide_session"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
async def bt_stack(
    service_env: dict[str, str], log_dir: Path, db_pool: asyncpg.Pool
) -> AsyncIterator[CryptoStack]:
    with FakeBinance() as binance:
        env = stack_env(
            service_env, binance.url, CRYPTO_SCHEDULER_ENABLED="0", REGISTRATION_MAX_PER_IP="1000"
        )
        stack = await start_stack(binance, env, log_dir, backtest_workers=2, ingesters=("web",))
        try:
            binance.add_series(SYMBOL, "1h", START, END)
            async with httpx.AsyncClient(
                base_url=stack.api, timeout=60, headers=await admin_headers(db_pool)
            ) as admin:
                await backfill_and_wait(admin, SYMBOL, START, END)
            yield stack
        finally:
            await stack.close()


async def signed_in(stack: CryptoStack) -> httpx.AsyncClient:
    """A client of a new user's session (the cookie sent by hand: it is `Secure`)."""
    name = f"bt{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as anonymous:
        answer = await anonymous.post(
            "/register",
            data={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
    assert answer.status_code == 303, answer.text
    cookie = next(
        h.split(";", 1)[0].split("=", 1)[1]
        for h in answer.headers.get_list("set-cookie")
        if h.startswith(f"{COOKIE}=")
    )
    return httpx.AsyncClient(
        base_url=stack.api, timeout=60, headers={"cookie": f"{COOKIE}={cookie}"}
    )


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def field_value(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page)
    assert found, f"no {name} field in the page"
    return html.unescape(found.group(1))


def form(token: str, **overrides: str) -> dict[str, str]:
    values = {
        "csrf_token": token,
        "strategy": "sma_cross",
        "symbols": SYMBOL,
        "interval": "1h",
        "start": "2024-01-01",
        "end": "2024-03-01",
        "fee": "0.001",
        "slippage_bps": "5",
        "initial_cash": "10000",
        "rank_by": "sharpe",
        "p_fast": "5:15:5",
        "p_slow": "20,30",
        "train_bars": "",
        "test_bars": "",
    }
    values.update(overrides)
    return values


async def submitted(client: httpx.AsyncClient, **overrides: str) -> str:
    page = await client.get("/backtests")
    assert page.status_code == 200, page.text
    answer = await client.post("/backtests", data=form(csrf(page.text), **overrides))
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert re.fullmatch(rf"/backtests/{UUID}", location), location
    return location


async def finished(client: httpx.AsyncClient, path: str, timeout: float = 90) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        page = await client.get(path)
        assert page.status_code == 200, page.text
        if 'data-running="0"' in page.text:
            return page.text
        assert asyncio.get_running_loop().time() < deadline, f"{path} did not finish"
        await asyncio.sleep(0.5)


def result_rows(page: str) -> list[str]:
    table = re.search(r'<table[^>]*aria-label="Results".*?</table>', page, re.S)
    assert table, page
    return re.findall(r"<tr data-job=.*?</tr>", table.group(0), re.S)


async def test_the_form_is_generated_from_the_strategies_schemas(bt_stack: CryptoStack) -> None:
    async with await signed_in(bt_stack) as client:
        page = (await client.get("/backtests")).text
        strategies = (await client.get("/api/crypto/backtest/strategies")).json()
        for name in strategies:
            assert f'<option value="{name}"' in page
        for label in ("Strategy", "Symbol", "Interval", "Start", "End", "Fee"):
            assert re.search(rf'<label class="form-label" for="[^"]+">{label}</label>', page)
        assert '<label class="form-label" for="f-slippage_bps">Slippage (bps)</label>' in page
        assert '<label class="form-label" for="f-initial_cash">Initial cash</label>' in page
        # sma_cross is the default: one field per parameter, labelled by its name
        assert '<label class="form-label" for="f-p_fast">fast</label>' in page
        assert '<label class="form-label" for="f-p_slow">slow</label>' in page
        assert field_value(page, "p_fast") == "10"
        assert "(bars). Whole number, from 1 up to 5000; default 10" in page
        assert "start:stop:step (5:50:5; the stop is included)" in page
        assert re.search(r'<button type="submit"[^>]*>Run</button>', page)
        assert '<table class="table table-sm align-middle" aria-label="Batches">' in page
        assert f'<option value="{SYMBOL}">' in page
        assert field_value(page, "symbols")  # a stored pair is filled in
        # the schemas travel to the script in a data block, not executable code
        assert '<script type="application/json" id="bt-form-data">' in page
        assert "<script>" not in page and "style=" not in page

        # without JavaScript, switching the strategy shows its fields, nothing is submitted
        switched = await client.post(
            "/backtests",
            data=form(csrf(page), strategy="rsi_reversion", action="switch", p_fast="7"),
        )
        assert switched.status_code == 200
        for name in ("period", "lower", "upper"):
            assert f'<label class="form-label" for="f-p_{name}">{name}</label>' in switched.text
        assert 'for="f-p_fast"' not in switched.text
        assert field_value(switched.text, "p_period") == "14"
        assert field_value(switched.text, "symbols") == SYMBOL
        assert "No batches yet" in switched.text


async def test_a_grid_posted_as_a_form_lists_its_six_results(bt_stack: CryptoStack) -> None:
    async with await signed_in(bt_stack) as client:
        path = await submitted(client)
        page = await finished(client, path)
        rows = result_rows(page)
        assert len(rows) == 6
        assert re.search(
            r'role="progressbar"[^>]*aria-valuemin="0" aria-valuemax="1" aria-valuenow="1"', page
        )
        assert "<strong data-progress-text>1/1</strong> jobs" in page
        assert re.search(r"data-summary>Finished in [^:]+: 6 results\. Best by sharpe: ", page)
        assert "fast = 5:15:5; slow = 20,30" in page
        params = {re.search(r'class="bt-params">([^<]*)<', r).group(1) for r in rows}  # type: ignore[union-attr]
        assert params == {f"fast={f}, slow={s}" for f in (5, 10, 15) for s in (20, 30)}
        for name in ("total_return", "sharpe", "max_drawdown", "profit_factor", "final_equity"):
            assert f'data-column="{name}">{name}</button>' in page
        assert 'aria-sort="descending"' in page  # ranked by sharpe, best first

        # the batch's results as the API has them, in the same (rank) order
        batch_id = path.rsplit("/", 1)[1]
        api = (await client.get(f"/api/crypto/backtest/batch/{batch_id}")).json()
        assert [r["params"] for r in api["results"]] == [_row_params(r) for r in rows], (
            "the page lists the results best first by sharpe"
        )

        # sorting without JavaScript: the header buttons submit ?sort=column:order
        by_return = (await client.get(path, params={"sort": "total_return:asc"})).text
        returns = [r["metrics"]["total_return"] for r in api["results"]]
        first = html.unescape(
            re.search(r'class="bt-params">([^<]*)<', result_rows(by_return)[0]).group(1)
        )  # type: ignore[union-attr]
        lowest = min(api["results"], key=lambda r: r["metrics"]["total_return"])
        assert first == f"fast={lowest['params']['fast']}, slow={lowest['params']['slow']}"
        assert 'aria-sort="ascending"' in by_return and len(returns) == 6

        listing = (await client.get("/backtests")).text
        assert f'href="/backtests/{batch_id}"' in listing
        assert re.search(r"<td class=\"tt-num\">1/1</td>", listing)

        # "Use these settings" fills the form in with the batch's request
        again = (await client.get("/backtests", params={"use": batch_id})).text
        assert field_value(again, "p_fast") == "5:15:5"
        assert field_value(again, "p_slow") == "20,30"
        assert field_value(again, "slippage_bps") == "5"


def _row_params(row: str) -> dict[str, int]:
    found = re.search(r'data-params="([^"]*)"', row)
    assert found
    import json

    return json.loads(html.unescape(found.group(1)))  # type: ignore[no-any-return]


async def test_a_result_shows_its_trades_and_the_same_metrics(bt_stack: CryptoStack) -> None:
    async with await signed_in(bt_stack) as client:
        path = await submitted(client, p_fast="5,10", p_slow="30")
        page = await finished(client, path)
        link = html.unescape(
            re.search(r'<a href="(/backtests/[^"]+/result\?[^"]+)">View', page).group(1)
        )  # type: ignore[union-attr]
        query = parse_qs(urlsplit(link).query)
        batch_id = path.rsplit("/", 1)[1]
        best = (await client.get(f"/api/crypto/backtest/batch/{batch_id}")).json()["results"][0]
        assert query["params"] == [f'{{"fast":{best["params"]["fast"]},"slow":30}}']

        result = await client.get(link)
        assert result.status_code == 200, result.text
        text = result.text
        trades = best["metrics"]["trades"]
        assert f"<strong data-trade-count>{trades} trades</strong>" in text
        assert re.search(r'<figure class="bt-figure" aria-label="Price chart"', text)
        assert f'data-trades="{trades}"' in text
        assert 'aria-label="Equity curve"' in text and 'aria-label="Drawdown"' in text
        table = re.search(r'<table[^>]*aria-label="Trades".*?</table>', text, re.S)
        assert table
        assert len(re.findall(r"<tr>\s*<td class=\"tt-num\">\d+</td>", table.group(0))) == trades
        assert '<script type="application/json" id="bt-chart-data">' in text
        # the detailed run is the batch's result again: the metrics shown are the batch's
        sharpe = f"{best['metrics']['sharpe']:.2f}"
        assert f'<dt>sharpe</dt>\n    <dd class="">{sharpe}</dd>' in text

        # two results side by side
        rows = result_rows(page)
        keys = [html.unescape(re.search(r'name="r" value="([^"]+)"', r).group(1)) for r in rows]  # type: ignore[union-attr]
        compared = await client.get(f"{path}/compare", params=[("r", k) for k in keys])
        assert compared.status_code == 200, compared.text
        assert 'aria-label="Comparison"' in compared.text
        assert 'aria-label="Equity curves"' in compared.text
        assert compared.text.count('<th scope="row">') == 13
        one = await client.get(f"{path}/compare", params=[("r", keys[0])])
        assert one.status_code == 422
        assert 'role="alert">Choose between 2 and 4 results' in one.text


async def test_a_bad_grid_value_keeps_the_form_and_shows_the_error_beside_it(
    bt_stack: CryptoStack,
) -> None:
    async with await signed_in(bt_stack) as client:
        page = (await client.get("/backtests")).text
        answer = await client.post(
            "/backtests", data=form(csrf(page), p_fast="5:x:5", fee="0.002", p_slow="20,30")
        )
        assert answer.status_code == 422
        text = answer.text
        assert 'role="alert">The batch was not submitted' in text
        assert re.search(
            r'id="f-p_fast"[^>]*aria-describedby="f-p_fast-help f-p_fast-error"'
            r'[^>]*aria-invalid="true"',
            text,
        )
        assert (
            '<div class="invalid-feedback" id="f-p_fast-error">fast: &#39;x&#39; is not a number'
            in text
        )
        assert field_value(text, "p_fast") == "5:x:5"
        assert field_value(text, "p_slow") == "20,30"
        assert field_value(text, "fee") == "0.002"
        assert field_value(text, "symbols") == SYMBOL
        assert "f-p_slow-error" not in text

        several = await client.post(
            "/backtests",
            data=form(csrf(page), p_slow="10:5:1", end="2023-12-01", initial_cash="0", p_fast=""),
        )
        assert several.status_code == 422
        assert "slow: in &#39;10:5:1&#39; the stop 5 is below the start" in several.text
        assert "fast: enter a number (10)" in several.text
        assert 'id="f-end-error">End must be after Start' in several.text
        assert 'id="f-initial_cash-error">Initial cash must be above 0' in several.text
        assert field_value(several.text, "end") == "2023-12-01"

        # the API's own rejection (no candles in the range) is on the page too
        empty = await client.post(
            "/backtests", data=form(csrf(page), start="2020-01-01", end="2020-02-01")
        )
        assert empty.status_code == 422
        assert re.search(r'role="alert">The batch was not submitted: no candles stored', empty.text)
        assert 'id="f-start-error">no candles stored' in empty.text
        assert field_value(empty.text, "start") == "2020-01-01"

        unknown = await client.post("/backtests", data=form(csrf(page), symbols="NOSUCHPAIR"))
        assert unknown.status_code == 404
        assert 'id="f-symbols-error">unknown symbol &#39;NOSUCHPAIR&#39;' in unknown.text
        assert "<h1>Backtests</h1>" in unknown.text  # the form, not the Not found page

        infeasible = await client.post(
            "/backtests", data=form(csrf(page), p_fast="50", p_slow="20")
        )
        assert infeasible.status_code == 422
        assert "no valid" in infeasible.text


async def test_walk_forward_windows_show_their_choice_and_out_of_sample_result(
    bt_stack: CryptoStack,
) -> None:
    async with await signed_in(bt_stack) as client:
        path = await submitted(client, train_bars="480", test_bars="240")
        page = await finished(client, path)
        assert len(result_rows(page)) == 2  # the out-of-sample run and the in-sample best
        windows = re.search(
            rf'<table[^>]*aria-label="Walk-forward windows {SYMBOL} 1h".*?</table>', page, re.S
        )
        assert windows, page
        assert len(re.findall(r"<tr>", windows.group(0))) == 1 + 4  # header + (1440-480)/240
        assert "walk-forward out-of-sample (4 windows)" in page
        assert "in-sample best: fast=" in page
        oos = html.unescape(
            re.search(
                r'<a href="(/backtests/[^"]+/result\?[^"]*out_of_sample[^"]*)">View', page
            ).group(1)  # type: ignore[union-attr]
        )
        detail = await client.get(oos)
        assert detail.status_code == 200, detail.text
        assert "Walk-forward windows" in detail.text


async def test_cancel_and_someone_elses_batch(bt_stack: CryptoStack) -> None:
    async with await signed_in(bt_stack) as owner, await signed_in(bt_stack) as other:
        path = await submitted(owner, p_fast="2:40:1", p_slow="50:120:10")
        page = (await owner.get(path)).text
        cancelled = await owner.post(f"{path}/cancel", data={"csrf_token": csrf(page)})
        assert cancelled.status_code == 303 and cancelled.headers["location"] == path
        after = await finished(owner, path)
        assert re.search(r"data-state-badge>(cancelled|done)<", after)

        for url in (
            path,
            f"{path}/result?job=0&symbol={SYMBOL}&interval=1h&params=%7B%7D",
            f"{path}/compare?r=a&r=b",
        ):
            denied = await other.get(url)
            assert denied.status_code == 404, (url, denied.status_code)
            assert "<h1>Not found</h1>" in denied.text
            assert SYMBOL not in denied.text
        assert (await other.post(f"{path}/cancel", data={"csrf_token": "x"})).status_code in (
            403,
            404,
        )
        malformed = await owner.get("/backtests/not-a-batch")
        assert malformed.status_code == 404 and "<h1>Not found</h1>" in malformed.text

    async with httpx.AsyncClient(base_url=bt_stack.api) as anonymous:
        answer = await anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
