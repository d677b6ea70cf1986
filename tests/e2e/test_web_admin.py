"""The admin pages through the gateway (HTTP level; tests/browser drives them in
Chromium): /admin/users with search, filters and pages, add (values kept and
each error beside its field), edit, disable and delete behind a confirmation
page, a disabled user's open session ending, the API's refusals shown as it
says them; /admin/security's two logs filtered and paged; /admin/database's
tables, ANALYZE and refresh; and a plain user refused every admin page."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.stack import CryptoStack, stack_env, start_stack
from ticktide_common.testing.processes import wait_until
from ticktide_common.testing.users import create_test_user
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
COOKIE = "__Host-ticktide_session"


@pytest.fixture(scope="module")
async def web_stack(service_env: dict[str, str], log_dir: Path) -> AsyncIterator[CryptoStack]:
    with FakeBinance() as binance:
        env = stack_env(
            service_env,
            binance.url,
            CRYPTO_SCHEDULER_ENABLED="0",
            REGISTRATION_MAX_PER_IP="1000",
        )
        stack = await start_stack(binance, env, log_dir, ingesters=("web",))
        try:
            yield stack
        finally:
            await stack.close()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass
class Visitor:
    """One browser: the gateway's address and, once signed in, the session cookie
    (`Secure` and `__Host-`, so httpx would not keep it over plain HTTP)."""

    http: httpx.AsyncClient
    cookie: str | None = None

    def headers(self) -> dict[str, str]:
        return {"cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.http.get(path, params=params or None, headers=self.headers())

    async def post(self, path: str, data: dict[str, str], *, csrf: bool = True) -> httpx.Response:
        form = dict(data)
        if csrf:
            form["csrf_token"] = await self.csrf_token()
        return await self.http.post(path, data=form, headers=self.headers())

    async def csrf_token(self) -> str:
        me = await self.http.get("/api/auth/me", headers=self.headers())
        assert me.status_code == 200, me.text
        return str(me.json()["csrf_token"])

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        answer = await self.http.post(
            "/login", data={"username": username, "password": password, "next": "/"}
        )
        for header in answer.headers.get_list("set-cookie"):
            if header.startswith(f"{COOKIE}="):
                self.cookie = header.split(";", 1)[0].split("=", 1)[1]
        return answer


@pytest.fixture
async def browser(web_stack: CryptoStack) -> AsyncIterator[Visitor]:
    async with httpx.AsyncClient(base_url=web_stack.api, timeout=20.0) as http:
        yield Visitor(http)


@pytest.fixture
async def other_browser(web_stack: CryptoStack) -> AsyncIterator[Visitor]:
    async with httpx.AsyncClient(base_url=web_stack.api, timeout=20.0) as http:
        yield Visitor(http)


async def register(visitor: Visitor, username: str) -> None:
    answer = await visitor.http.post(
        "/register",
        data={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture
async def admin(browser: Visitor, db_pool: asyncpg.Pool) -> Visitor:
    """A browser signed in as a new administrator (registered, then promoted)."""
    name = unique("webadmin")
    await register(browser, name)
    await db_pool.execute("UPDATE users SET user_level = 'admin' WHERE username = $1", name)
    assert (await browser.sign_in(name)).status_code == 303
    return browser


def alert(page: httpx.Response) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</div>', page.text, re.S)
    return html.unescape(found.group(1).strip()) if found else ""


def status_notice(page: httpx.Response) -> str:
    found = re.search(r'role="status"[^>]*>(.*?)</div>', page.text, re.S)
    return html.unescape(found.group(1).strip()) if found else ""


def field_error(page: httpx.Response, name: str) -> str:
    found = re.search(rf'id="f-{name}-error">(.*?)</div>', page.text, re.S)
    return html.unescape(found.group(1).strip()) if found else ""


def table(page: httpx.Response, name: str) -> str:
    found = re.search(rf'<table[^>]*aria-label="{name}"[^>]*>(.*?)</table>', page.text, re.S)
    assert found, f"no table named {name!r}"
    return found.group(1)


def body_rows(table_html: str) -> list[str]:
    body = table_html.split("<tbody>", 1)[1]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)


async def add_user(
    admin: Visitor, username: str, *, role: str = "user", email: str | None = None
) -> int:
    answer = await admin.post(
        "/admin/users/add",
        {
            "username": username,
            "email": email or f"{username}@example.com",
            "password": PASSWORD,
            "role": role,
        },
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    found = re.fullmatch(r"/admin/users\?created=(\d+)", location)
    assert found, location
    return int(found.group(1))


async def test_an_admin_adds_a_user_who_can_then_sign_in(
    admin: Visitor, other_browser: Visitor
) -> None:
    form = await admin.get("/admin/users/add")
    assert form.status_code == 200, form.text
    assert "<title>Add user · Ticktide</title>" in form.text
    for label in ("Username", "Email", "Password", "Role"):
        assert re.search(rf'<label class="form-label" for="f-\w+">{label}</label>', form.text)
    assert re.search(r'<select[^>]*id="f-role"', form.text)
    assert '<option value="user" selected>' in form.text and '<option value="admin"' in form.text
    assert ">Create user</button>" in form.text

    name = unique("added")
    user_id = await add_user(admin, name)
    # Searched: the run's database holds every test's users, more than one page.
    listing = await admin.get("/admin/users", created=str(user_id), search=name)
    assert listing.status_code == 200
    assert status_notice(listing) == f"User {name} was created."
    assert name in table(listing, "Users")
    assert 'href="/admin/users/add"' in listing.text and ">Add user</a>" in listing.text

    signed_in = await other_browser.sign_in(name)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    account = await other_browser.get("/account")
    assert account.status_code == 200 and name in account.text


async def test_a_duplicate_username_is_shown_beside_its_field_with_the_values_kept(
    admin: Visitor,
) -> None:
    name = unique("dup")
    await add_user(admin, name)
    again = await admin.post(
        "/admin/users/add",
        {
            "username": name.upper(),
            "email": "someone.else@example.com",
            "password": "a secret of mine",
            "role": "admin",
        },
    )
    assert again.status_code == 409, again.text
    assert field_error(again, "username") == "A user with this username already exists."
    assert field_error(again, "email") == ""
    assert f'value="{name.upper()}"' in again.text
    assert 'value="someone.else@example.com"' in again.text
    assert '<option value="admin" selected>' in again.text
    assert "a secret of mine" not in again.text  # a password is never sent back
    assert alert(again) == "Please correct the fields marked below."

    email_taken = await admin.post(
        "/admin/users/add",
        {"username": unique("other"), "email": f"{name}@example.com", "password": PASSWORD},
    )
    assert email_taken.status_code == 409
    assert field_error(email_taken, "email") == "A user with this email address already exists."

    invalid = await admin.post(
        "/admin/users/add",
        {"username": "x", "email": "not-an-address", "password": "short", "role": "user"},
    )
    assert invalid.status_code == 422
    assert field_error(invalid, "username").startswith("username must be 3-32 characters")
    assert 'value="not-an-address"' in invalid.text


async def test_disabling_a_user_asks_first_and_ends_their_open_session(
    admin: Visitor, other_browser: Visitor, db_pool: asyncpg.Pool
) -> None:
    name = unique("todisable")
    user_id = await add_user(admin, name)
    assert (await other_browser.sign_in(name)).status_code == 303
    assert (await other_browser.get("/account")).status_code == 200

    listing = await admin.get("/admin/users", search=name)
    row = body_rows(table(listing, "Users"))[0]
    assert f'action="/admin/users/{user_id}/disable"' in row
    assert f'Disable<span class="visually-hidden"> {name}</span></button>' in row
    confirm = await admin.get(f"/admin/users/{user_id}/disable")
    assert confirm.status_code == 200
    assert f"<h1>Disable user {name}?</h1>" in confirm.text
    assert ">Disable user</button>" in confirm.text
    assert await db_pool.fetchval("SELECT is_active FROM users WHERE id = $1", user_id)
    assert (await other_browser.get("/account")).status_code == 200  # nothing happened yet

    done = await admin.post(f"/admin/users/{user_id}/disable", {})
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/users?disabled={user_id}"
    after = await admin.get("/admin/users", disabled=str(user_id), search=name)
    assert status_notice(after) == f"User {name} was disabled; their sessions ended."
    assert ">disabled</span>" in body_rows(table(after, "Users"))[0]
    assert f'Enable<span class="visually-hidden"> {name}</span>' in after.text

    ended = await other_browser.get("/account")
    assert ended.status_code == 303 and ended.headers["location"] == "/login?next=/account"
    assert (await other_browser.sign_in(name)).status_code == 401

    enabled = await admin.post(f"/admin/users/{user_id}/enable", {})
    assert enabled.headers["location"] == f"/admin/users?enabled={user_id}"
    assert (await other_browser.sign_in(name)).status_code == 303


async def test_search_filters_and_pages_of_users(admin: Visitor, db_pool: asyncpg.Pool) -> None:
    tag = unique("pg")
    ids = [(await create_test_user(db_pool, username=f"{tag}-{i:02d}"))[0] for i in range(53)]
    await db_pool.execute("UPDATE users SET user_level = 'admin' WHERE id = $1", ids[3])
    await db_pool.execute("UPDATE users SET is_active = false WHERE id = $1", ids[7])

    found = await admin.get("/admin/users", search=tag.upper())
    assert found.status_code == 200
    assert 'for="f-search">Search users</label>' in found.text
    assert f'value="{tag.upper()}"' in found.text
    rows = body_rows(table(found, "Users"))
    assert len(rows) == 50 and f"{tag}-00" in rows[0] and f"{tag}-49" in rows[49]
    next_page = re.search(
        r'<a class="btn btn-sm btn-outline-secondary" href="([^"]+)">Next page', found.text
    )
    assert next_page, found.text
    second = await admin.get(html.unescape(next_page.group(1)))
    rows = body_rows(table(second, "Users"))
    assert [r for r in rows if tag in r] == rows and len(rows) == 3
    assert f"{tag}-50" in rows[0] and ">First page</a>" in second.text
    assert ">Next page</a>" not in second.text

    one = await admin.get("/admin/users", search=f"{tag}-42")
    assert len(body_rows(table(one, "Users"))) == 1
    admins = await admin.get("/admin/users", search=tag, role="admin")
    rows = body_rows(table(admins, "Users"))
    assert len(rows) == 1 and f"{tag}-03" in rows[0]
    assert '<option value="admin" selected>' in admins.text
    disabled = await admin.get("/admin/users", search=tag, active="0")
    rows = body_rows(table(disabled, "Users"))
    assert len(rows) == 1 and f"{tag}-07" in rows[0]
    none = await admin.get("/admin/users", search=f"{tag}-nobody")
    assert "No users match these filters" in none.text
    # Nonsense filters are ignored, not errors.
    assert (await admin.get("/admin/users", role="root", after="x", active="2")).status_code == 200


async def test_delete_asks_for_confirmation_first(admin: Visitor, db_pool: asyncpg.Pool) -> None:
    name = unique("todelete")
    user_id = await add_user(admin, name)
    listing = await admin.get("/admin/users", search=name)
    assert f'Delete<span class="visually-hidden"> {name}</span></button>' in listing.text
    assert f'<form method="get" action="/admin/users/{user_id}/delete">' in listing.text

    confirm = await admin.get(f"/admin/users/{user_id}/delete")
    assert confirm.status_code == 200
    assert f"<h1>Delete user {name}?</h1>" in confirm.text
    assert ">Delete user</button>" in confirm.text and ">Cancel</a>" in confirm.text
    assert await db_pool.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 1

    deleted = await admin.post(f"/admin/users/{user_id}/delete", {})
    assert deleted.status_code == 303
    after = await admin.get(deleted.headers["location"])
    assert status_notice(after) == f"User {name} was deleted; their sessions ended."
    assert await db_pool.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 0
    gone = await admin.get(f"/admin/users/{user_id}/edit")
    assert gone.status_code == 404 and "<h1>Not found</h1>" in gone.text
    assert (await admin.get(f"/admin/users/{user_id}/delete")).status_code == 404
    # Issue 10: the security log still names the deleted user (unlinked).
    log = await admin.get("/admin/security", user=name)
    events = body_rows(table(log, "Security events"))
    assert any("user_deleted" in row for row in events), events
    assert all(f'{name} <span class="text-body-secondary">(deleted)</span>' in r for r in events)


async def test_a_form_without_its_csrf_token_changes_nothing(
    admin: Visitor, db_pool: asyncpg.Pool
) -> None:
    name = unique("csrf")
    user_id = await add_user(admin, name)
    refused = await admin.post(f"/admin/users/{user_id}/delete", {}, csrf=False)
    assert refused.status_code == 403 and "<h1>Forbidden</h1>" in refused.text
    assert await db_pool.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 1


async def test_edit_saves_changes_and_keeps_values_after_an_error(
    admin: Visitor, other_browser: Visitor, db_pool: asyncpg.Pool
) -> None:
    name = unique("toedit")
    user_id = await add_user(admin, name)
    form = await admin.get(f"/admin/users/{user_id}/edit")
    assert form.status_code == 200
    assert f"<h1>Edit user {name}</h1>" in form.text
    assert f'value="{name}@example.com"' in form.text
    assert 'id="f-is_active" name="is_active" value="1" checked' in form.text
    for label in ("Email", "Role", "New password"):
        assert f">{label}</label>" in form.text
    assert ">Save</button>" in form.text

    bad = await admin.post(
        f"/admin/users/{user_id}/edit",
        {"email": "broken@", "role": "admin", "is_active": "1", "password": ""},
    )
    assert bad.status_code == 422
    assert field_error(bad, "email").startswith("email is not a valid address")
    assert 'value="broken@"' in bad.text and '<option value="admin" selected>' in bad.text

    saved = await admin.post(
        f"/admin/users/{user_id}/edit",
        {"email": f"new.{name}@example.com", "role": "admin", "is_active": "1", "password": ""},
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/users?saved={user_id}"
    row = await db_pool.fetchrow("SELECT email, user_level FROM users WHERE id = $1", user_id)
    assert row is not None and (row["email"], row["user_level"]) == (
        f"new.{name}@example.com",
        "admin",
    )

    new_password = "a brand new secret"
    await admin.post(
        f"/admin/users/{user_id}/edit",
        {
            "email": f"new.{name}@example.com",
            "role": "admin",
            "is_active": "1",
            "password": new_password,
        },
    )
    assert (await other_browser.sign_in(name, new_password)).status_code == 303
    # Unchecking "Active" disables.
    await admin.post(
        f"/admin/users/{user_id}/edit",
        {"email": f"new.{name}@example.com", "role": "user", "password": ""},
    )
    assert not await db_pool.fetchval("SELECT is_active FROM users WHERE id = $1", user_id)
    same = await admin.post(
        f"/admin/users/{user_id}/edit",
        {"email": f"new.{name}@example.com", "role": "user", "password": ""},
    )
    assert same.status_code == 200 and status_notice(same) == "Nothing changed."


async def test_the_apis_refusal_to_remove_the_last_admin_is_shown(
    admin: Visitor, db_pool: asyncpg.Pool
) -> None:
    me = (await admin.http.get("/api/auth/me", headers=admin.headers())).json()
    others = await db_pool.fetch(
        "UPDATE users SET is_active = false WHERE user_level = 'admin' AND is_active "
        "AND id <> $1 RETURNING id",
        me["id"],
    )
    try:
        confirm = await admin.get(f"/admin/users/{me['id']}/delete")
        assert "This is your own account" in confirm.text
        refused = await admin.post(f"/admin/users/{me['id']}/delete", {})
        assert refused.status_code == 409
        assert "no active administrator" in alert(refused)
        demoted = await admin.post(
            f"/admin/users/{me['id']}/edit",
            {"email": f"{me['username']}@example.com", "role": "user", "is_active": "1"},
        )
        assert demoted.status_code == 409 and "no active administrator" in alert(demoted)
        assert '<option value="user" selected>' in demoted.text  # what was chosen stays
    finally:
        await db_pool.execute(
            "UPDATE users SET is_active = true WHERE id = ANY($1::bigint[])",
            [r["id"] for r in others],
        )
    assert (await admin.get("/admin/users")).status_code == 200


async def test_security_lists_a_failed_sign_in_filtered_by_type(
    admin: Visitor, other_browser: Visitor
) -> None:
    name = unique("victim")
    await add_user(admin, name)
    assert (await other_browser.sign_in(name, "not the password")).status_code == 401

    page = await admin.get("/admin/security", type="login_failed", user=name)
    assert page.status_code == 200, page.text
    for label in ("User", "Event type", "Activity action", "From", "To"):
        assert re.search(rf'<label class="form-label" for="f-\w+">{label}</label>', page.text)
    events = body_rows(table(page, "Security events"))
    assert events and all("login_failed" in r and name in r for r in events)
    assert "wrong_password" in events[0]
    assert 'value="login_failed"' in page.text
    table(page, "Activity")

    other_type = await admin.get("/admin/security", type="token_created", user=name)
    assert "login_failed" not in table(other_type, "Security events")
    assert "No security events match these filters" in other_type.text

    async def admin_login_logged() -> bool:
        found = await admin.get("/admin/security", action="login")
        return '<span class="tt-admin-code">login</span>' in table(found, "Activity")

    await wait_until(admin_login_logged, timeout=20, what="the activity log's logins")

    later = await admin.get(
        "/admin/security", type="login_failed", user=name, since="2999-01-01T00:00"
    )
    assert "login_failed" not in table(later, "Security events")
    wrong = await admin.get("/admin/security", since="yesterday", type="Bad Type")
    assert wrong.status_code == 422
    assert field_error(wrong, "since").startswith("Not a date and time")
    assert field_error(wrong, "type").startswith("An event type is")
    assert 'value="yesterday"' in wrong.text


async def test_security_pages_of_events(admin: Visitor, db_pool: asyncpg.Pool) -> None:
    user_id, name = await create_test_user(db_pool, username=unique("paged"))
    await db_pool.execute(
        "INSERT INTO security_events (event_type, user_id, details, timestamp) "
        "SELECT 'login_failed', $1, jsonb_build_object('n', n), "
        "timestamp '2020-01-01' + n * interval '1 minute' FROM generate_series(1, 60) n",
        user_id,
    )
    first = await admin.get("/admin/security", user=name, type="login_failed")
    rows = body_rows(table(first, "Security events"))
    assert len(rows) == 50 and "n=60" in rows[0] and "n=11" in rows[49]
    older = re.search(r'href="([^"]+)">Older events</a>', first.text)
    assert older and ">Older activity</a>" not in first.text
    second = await admin.get(html.unescape(older.group(1)))
    rows = body_rows(table(second, "Security events"))
    assert len(rows) == 10 and "n=10<" in rows[0] and "n=1<" in rows[9]
    assert ">Newest events</a>" in second.text and ">Older events</a>" not in second.text


async def test_database_lists_tables_and_analyze_answers_with_a_notice(admin: Visitor) -> None:
    page = await admin.get("/admin/database")
    assert page.status_code == 200, page.text
    tables = table(page, "Tables")
    assert '<span class="tt-admin-code">crypto_prices</span>' in tables
    assert 'Analyze<span class="visually-hidden"> crypto_prices</span></button>' in tables
    assert ">Analyze all tables</button>" in page.text
    assert '<a href="/pgadmin/">Open pgAdmin 4</a>' in page.text  # issue 15
    overview = (await admin.http.get("/api/admin/database/tables", headers=admin.headers())).json()
    if overview["timescaledb"]:
        assert "TimescaleDB is installed" in page.text
        assert '<span class="badge text-bg-info">hypertable</span>' in tables
        jobs = table(page, "Background jobs")
        assert jobs.count('<span class="tt-admin-code">policy_compression</span>') >= 3
    else:
        assert "TimescaleDB is not installed in this database" in page.text
        assert "Background jobs" not in page.text
        assert re.search(r"<button[^>]*disabled[^>]*>Refresh continuous aggregates", page.text)
        refused = await admin.post("/admin/database/refresh-aggregates", {})
        assert refused.status_code == 409 and "TimescaleDB is not installed" in alert(refused)

    one = await admin.post("/admin/database/analyze", {"table": "crypto_prices"})
    assert one.status_code == 200, one.text
    assert re.fullmatch(r"Analyzed crypto_prices in [\d,]+ ms: .+\.", status_notice(one))
    every = await admin.post("/admin/database/analyze", {})
    assert re.match(r"Analyzed \d+ tables in", status_notice(every))
    unknown = await admin.post("/admin/database/analyze", {"table": "no_such_table"})
    assert unknown.status_code == 422 and "not a table of the public schema" in alert(unknown)

    exact = await admin.get("/admin/database", exact="1")
    counts = table(exact, "Exact row counts")
    assert "crypto_prices" in counts
    assert "not a hypertable" in counts  # weather_current is a plain table on both paths
    if overview["timescaledb"]:
        assert re.search(r"\d+ chunks, \d+ compressed", counts)


async def test_a_plain_user_gets_403_forbidden_on_every_admin_page(
    browser: Visitor, db_pool: asyncpg.Pool
) -> None:
    name = unique("plain")
    await register(browser, name)
    assert (await browser.sign_in(name)).status_code == 303
    target, _ = await create_test_user(db_pool)
    for path in (
        "/admin/users",
        "/admin/users/add",
        f"/admin/users/{target}/edit",
        f"/admin/users/{target}/disable",
        f"/admin/users/{target}/delete",
        "/admin/security?type=login_failed",
        "/admin/database",
        "/admin/database?exact=1",
    ):
        page = await browser.get(path)
        assert page.status_code == 403, (path, page.status_code)
        assert "<h1>Forbidden</h1>" in page.text
        assert 'href="/admin' not in page.text
    for path, form in (
        ("/admin/users/add", {"username": unique("sneaky"), "email": "s@example.com"}),
        (f"/admin/users/{target}/delete", {}),
        ("/admin/database/analyze", {}),
    ):
        page = await browser.post(path, form)
        assert page.status_code == 403 and "<h1>Forbidden</h1>" in page.text
    assert await db_pool.fetchval("SELECT count(*) FROM users WHERE id = $1", target) == 1


async def test_bad_ids_are_pages_not_errors(admin: Visitor) -> None:
    for path in (
        "/admin/users/abc/edit",
        "/admin/users/0/edit",
        "/admin/users/99999999999999999999/edit",
    ):
        page = await admin.get(path)
        assert page.status_code in (400, 404), (path, page.status_code)
        assert "Traceback" not in page.text and 'role="alert"' in page.text
    missing = await admin.get("/admin/users/987654321/edit")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
