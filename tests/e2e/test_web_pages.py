"""The web service's pages through the gateway, over plain HTTP (the browser
tests in tests/browser drive them in Chromium behind nginx): the gateway's
session check in front of every page, sign-in and back, the Forbidden page,
static files with hashed names, and the API's own 404 untouched by pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.stack import CryptoStack, stack_env, start_stack
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
async def web_stack(service_env: dict[str, str], log_dir: Path) -> AsyncIterator[CryptoStack]:
    with FakeBinance() as binance:
        env = stack_env(
            service_env, binance.url, CRYPTO_SCHEDULER_ENABLED="0", REGISTRATION_MAX_PER_IP="1000"
        )
        stack = await start_stack(binance, env, log_dir, ingesters=("web",))
        try:
            yield stack
        finally:
            await stack.close()


async def register(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post(
        "/register",
        data={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )


def _client(stack: CryptoStack) -> httpx.AsyncClient:
    # The session cookie is `Secure` + `__Host-`: httpx keeps it only for https URLs,
    # so the test client speaks to the gateway as if through TLS (nginx's part).
    return httpx.AsyncClient(base_url=stack.api, timeout=15.0)


def session_cookie(response: httpx.Response) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("__Host-ticktide_session="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no session cookie in {response.headers}")


async def test_anonymous_page_redirects_to_login_and_back_after_sign_in(
    web_stack: CryptoStack,
) -> None:
    async with _client(web_stack) as client:
        page = await client.get("/account?tab=tokens")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/account%3Ftab%3Dtokens"

        form = await client.get(page.headers["location"])
        assert form.status_code == 200
        assert "<title>Sign in · Ticktide</title>" in form.text
        assert 'name="next" value="/account?tab=tokens"' in form.text

        registered = await register(client, "pageuser1")
        assert registered.status_code == 303, registered.text
        login = await client.post(
            "/login",
            data={"username": "pageuser1", "password": PASSWORD, "next": "/account?tab=tokens"},
        )
        assert login.status_code == 303, login.text
        assert login.headers["location"] == "/account?tab=tokens"
        cookie = session_cookie(login)

        account = await client.get("/account", cookies={"__Host-ticktide_session": cookie})
        assert account.status_code == 200, account.text
        assert "pageuser1" in account.text
        assert account.headers["cache-control"] == "no-store"
        assert re.search(r'<nav[^>]*aria-label="Main"', account.text)
        assert ">Admin<" not in account.text


async def test_wrong_password_shows_an_alert_and_keeps_the_username(
    web_stack: CryptoStack,
) -> None:
    async with _client(web_stack) as client:
        answer = await client.post(
            "/login", data={"username": "nobody-at-all", "password": "wrong password", "next": "/"}
        )
        assert answer.status_code == 401
        assert 'role="alert">Wrong username or password.' in answer.text
        assert 'value="nobody-at-all"' in answer.text
        assert "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
async def test_sign_in_never_redirects_off_site(web_stack: CryptoStack, target: str) -> None:
    async with _client(web_stack) as client:
        await register(client, f"redir{abs(hash(target)) % 10**6}")
        login = await client.post(
            "/login",
            data={
                "username": f"redir{abs(hash(target)) % 10**6}",
                "password": PASSWORD,
                "next": target,
            },
        )
        assert login.status_code == 303
        assert login.headers["location"] == "/"


async def test_admin_pages_answer_403_forbidden_to_a_user(web_stack: CryptoStack) -> None:
    async with _client(web_stack) as client:
        await register(client, "pageuser2")
        login = await client.post(
            "/login", data={"username": "pageuser2", "password": PASSWORD, "next": "/"}
        )
        cookies = {"__Host-ticktide_session": session_cookie(login)}
        for path in ("/admin/users", "/admin/users/add", "/admin/database", "/admin/security"):
            page = await client.get(path, cookies=cookies)
            assert page.status_code == 403, (path, page.status_code)
            assert "<h1>Forbidden</h1>" in page.text
            assert 'href="/admin' not in page.text


async def test_static_files_are_hashed_immutable_and_gzipped(web_stack: CryptoStack) -> None:
    async with _client(web_stack) as client:
        form = await client.get("/login")
        css = re.search(r'href="(/static/vendor/bootstrap\.min\.[0-9a-f]{10}\.css)"', form.text)
        assert css, form.text
        plain = await client.get(css.group(1), headers={"accept-encoding": "identity"})
        assert plain.status_code == 200
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert plain.headers["content-type"].startswith("text/css")
        assert "content-encoding" not in plain.headers
        zipped = await client.get(css.group(1), headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == plain.content  # httpx decoded it
        assert (await client.get("/static/%2e%2e/app.py")).status_code == 404
        assert (await client.get("/static/vendor/bootstrap.min.css")).status_code == 404


async def test_api_paths_keep_their_json_answers(web_stack: CryptoStack) -> None:
    async with _client(web_stack) as client:
        missing = await client.get("/api/no-such-endpoint")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Not Found"}
        anonymous = await client.get("/api/crypto/symbols")
        assert anonymous.status_code == 401
        health = await client.get("/health")
        assert health.json()["service"] == "gateway"


async def test_unknown_page_is_a_404_page_for_a_signed_in_user(web_stack: CryptoStack) -> None:
    async with _client(web_stack) as client:
        await register(client, "pageuser3")
        login = await client.post(
            "/login", data={"username": "pageuser3", "password": PASSWORD, "next": "/"}
        )
        cookies = {"__Host-ticktide_session": session_cookie(login)}
        page = await client.get("/no/such/page", cookies=cookies)
        assert page.status_code == 404
        assert "<h1>Not found</h1>" in page.text
        assert "Traceback" not in page.text


async def test_account_tokens_need_the_password_and_show_expiry_and_last_use(
    web_stack: CryptoStack,
) -> None:
    """Issue 10: the account page asks for the current password and offers an
    expiry when creating a token, and lists each token's expiry and last use."""
    async with _client(web_stack) as client:
        registered = await register(client, "pageuser4")
        cookies = {"__Host-ticktide_session": session_cookie(registered)}
        account = await client.get("/account", cookies=cookies)
        assert 'name="password"' in account.text and 'name="expires_in_days"' in account.text
        assert 'max="365"' in account.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', account.text)
        assert csrf, account.text
        form = {"csrf_token": csrf.group(1), "name": "laptop", "expires_in_days": "7"}
        wrong = await client.post(
            "/account/tokens", data={**form, "password": "not my password"}, cookies=cookies
        )
        assert wrong.status_code == 403 and "current password is wrong" in wrong.text
        assert 'value="laptop"' in wrong.text  # what was typed stays
        made = await client.post(
            "/account/tokens", data={**form, "password": PASSWORD}, cookies=cookies
        )
        assert made.status_code == 201, made.text
        token = re.search(r'id="new-token" readonly value="(ttk_[^"]+)"', made.text)
        assert token, made.text
        used = await client.get(
            "/api/crypto/symbols", headers={"Authorization": f"Bearer {token.group(1)}"}
        )
        assert used.status_code == 200
        listed = await client.get("/account", cookies=cookies)
        table = listed.text[listed.text.index('aria-label="API tokens"') :]
        assert '<th scope="col">Expires</th>' in table and '<th scope="col">Last used</th>' in table
        row = table[table.index("<td>laptop</td>") :].split("</tr>", 1)[0]
        assert row.count(" UTC") == 3, row  # created, expires and last used


async def test_registering_a_taken_name_says_so_without_saying_which(
    web_stack: CryptoStack,
) -> None:
    async with _client(web_stack) as client:
        await register(client, "pageuser5")
    async with _client(web_stack) as client:
        again = await client.post(
            "/register",
            data={
                "username": "pageuser5",
                "email": "someone-else@example.com",
                "password": "a different passphrase",
            },
        )
        assert again.status_code == 409
        assert "may be registered already" in again.text
        assert "set-cookie" not in again.headers
        weak = await client.post(
            "/register",
            data={"username": "pageuser6", "email": "p6@example.com", "password": "12345678"},
        )
        assert weak.status_code == 422 and "passphrase" in weak.text
