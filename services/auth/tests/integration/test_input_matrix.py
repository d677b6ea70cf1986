"""Hostile and malformed input to registration and login: SQL injection,
oversized fields, wrong types, bad JSON. Every answer is a 4xx with a JSON
detail — never a 5xx — and no user row is left behind."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from ticktide_auth.testing import AuthClient, unique_name

pytestmark = pytest.mark.integration

INJECTIONS = [
    "' OR 1=1 --",
    "admin'--",
    '"; DROP TABLE users;--',
    "x' UNION SELECT password_hash FROM users --",
    "a\x00b",
]


async def user_count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM users"))


def register_body(**overrides: Any) -> dict[str, Any]:
    name = unique_name("reg")
    return {"username": name, "email": f"{name}@example.com", "password": "long enough pw"} | (
        overrides
    )


def bad_registrations() -> list[tuple[str, dict[str, Any] | str | bytes]]:
    cases: list[tuple[str, dict[str, Any] | str | bytes]] = []
    for text in INJECTIONS:
        cases.append((f"username={text!r}", register_body(username=text)))
        cases.append((f"email={text!r}", register_body(email=text)))
    cases += [
        ("10 KB username", register_body(username="a" * 10_000)),
        ("10 KB email", register_body(email="a" * 10_000 + "@example.com")),
        ("255-char email", register_body(email="a" * 64 + "@" + "b" * 186 + ".com")),
        ("129-char password", register_body(password="p" * 129)),
        ("10 KB password", register_body(password="p" * 10_000)),
        ("1 MB password", register_body(password="p" * 1_000_000)),
        ("7-char password", register_body(password="seven77")),
        ("empty password", register_body(password="")),
        ("2-char username", register_body(username="ab")),
        ("33-char username", register_body(username="a" * 33)),
        ("username with space", register_body(username="bob smith")),
        ("unicode username", register_body(username="bøb")),
        ("int username", register_body(username=12345)),
        ("null username", register_body(username=None)),
        ("list password", register_body(password=["a" * 10])),
        ("object email", register_body(email={"$ne": None})),
        ("bool password", register_body(password=True)),
        ("missing password", {k: v for k, v in register_body().items() if k != "password"}),
        ("empty object", {}),
        ("bad JSON", "{not json"),
        ("JSON array", "[1, 2, 3]"),
        ("JSON string", '"hello"'),
        ("binary", b"\xff\xfe\x00garbage"),
    ]
    return cases


@pytest.mark.parametrize(
    ("case", "body"), bad_registrations(), ids=[c for c, _ in bad_registrations()]
)
async def test_bad_registration_is_4xx_and_stores_nothing(
    client: AuthClient, db_pool: asyncpg.Pool, case: str, body: dict[str, Any] | str | bytes
) -> None:
    before = await user_count(db_pool)
    if isinstance(body, dict):
        response = await client.request("POST", "/api/auth/register", json=body)
    else:
        response = await client.request(
            "POST",
            "/api/auth/register",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    assert isinstance(response.json()["detail"], str)
    assert "Traceback" not in response.text
    assert await user_count(db_pool) == before


@pytest.mark.parametrize("text", INJECTIONS + ["a" * 10_000])
async def test_hostile_logins_are_4xx_and_change_nothing(
    client: AuthClient, make_user, db_pool: asyncpg.Pool, text: str
) -> None:
    victim = await make_user()
    before = await user_count(db_pool)
    as_name = await client.login_response(text, "whatever password")
    as_password = await client.login_response(victim.username, text)
    for response in (as_name, as_password):
        assert response.status_code in (401, 422), response.text
        assert response.headers.get("set-cookie") is None
    assert await user_count(db_pool) == before


async def test_oversized_login_body_is_413(client: AuthClient, make_user) -> None:
    victim = await make_user()
    response = await client.login_response(victim.username, "p" * 1_000_000)
    assert response.status_code == 413 and "too large" in response.json()["detail"]


async def test_injection_text_is_only_ever_a_password(
    client: AuthClient, db_pool: asyncpg.Pool
) -> None:
    """A legal password that looks like SQL is just a password: stored hashed,
    and another injection string does not log in."""
    body = register_body(password="' OR '1'='1' --")
    created = await client.request("POST", "/api/auth/register", json=body)
    assert created.status_code == 202, created.text
    stored = await db_pool.fetchval(
        "SELECT password_hash FROM users WHERE username = $1", body["username"]
    )
    assert stored.startswith("$argon2id$") and "OR" not in stored
    assert (await client.login_response(body["username"], "' OR 1=1 --")).status_code == 401
    assert (await client.login_response(body["username"], body["password"])).status_code == 200


async def test_register_then_login_with_a_unicode_password(client: AuthClient) -> None:
    body = register_body(password="🔑🐉🌊🎻🧭🍋🚲🪐🦉")  # 9 characters, 36 bytes
    assert (await client.request("POST", "/api/auth/register", json=body)).status_code == 202
    assert (await client.login_response(body["username"], body["password"])).status_code == 200
    wrong = body["password"][:8]
    assert (await client.login_response(body["username"], wrong)).status_code == 401


async def test_a_taken_name_or_address_answers_as_a_new_one_and_creates_nothing(
    client: AuthClient, db_pool: asyncpg.Pool, server_hasher
) -> None:
    """Issue 10: registration said whether a username or email existed (409)."""
    body = register_body()
    created = await client.request("POST", "/api/auth/register", json=body)
    assert created.status_code == 202 and "password" not in created.text
    user_id = await db_pool.fetchval(
        "SELECT id FROM users WHERE username = $1 AND user_level = 'user'", body["username"]
    )
    assert user_id is not None
    before = await user_count(db_pool)
    same_name = register_body(username=body["username"].upper())
    same_email = register_body(email=body["email"].upper())
    for duplicate in (same_name, same_email):
        hashes = server_hasher.hashes
        response = await client.request("POST", "/api/auth/register", json=duplicate)
        assert (response.status_code, response.json()) == (created.status_code, created.json())
        assert set(response.headers) == set(created.headers)
        assert server_hasher.hashes == hashes + 1  # the same work: no timing oracle
    assert await user_count(db_pool) == before
    event = await db_pool.fetchval(
        "SELECT event_type FROM security_events WHERE user_id = $1", user_id
    )
    assert event == "register"
    tried = await db_pool.fetch(
        "SELECT details->>'username_tried' AS name FROM security_events "
        "WHERE event_type = 'register_duplicate' AND details->>'username_tried' = ANY($1)",
        [same_name["username"], same_email["username"]],
    )
    assert len(tried) == 2  # an admin still sees the attempts


@pytest.mark.parametrize("password", ["password", "12345678", "ticktide123", "aaaaaaaaaaaa"])
async def test_weak_passwords_are_422_with_advice(
    client: AuthClient, db_pool: asyncpg.Pool, password: str
) -> None:
    """Issue 10: the policy checked length only (`password`, `12345678` passed)."""
    body = register_body(password=password)
    response = await client.request("POST", "/api/auth/register", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "password" in detail and "passphrase" in detail, detail
    assert (
        await db_pool.fetchval("SELECT count(*) FROM users WHERE username = $1", body["username"])
        == 0
    )


async def test_a_password_with_the_username_in_it_is_422(client: AuthClient) -> None:
    body = register_body()
    body["password"] = f"my {body['username'].upper()} is great 77"
    response = await client.request("POST", "/api/auth/register", json=body)
    assert response.status_code == 422
    assert "must not contain your username" in response.json()["detail"]


async def test_register_ignores_a_requested_role(client: AuthClient, db_pool: asyncpg.Pool) -> None:
    body = register_body(role="admin")
    response = await client.request("POST", "/api/auth/register", json=body)
    assert response.status_code == 202
    role = await db_pool.fetchval(
        "SELECT user_level FROM users WHERE username = $1", body["username"]
    )
    assert role == "user"


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/tokens/99999999999999999999",
        "/api/auth/tokens/-1",
        "/api/auth/tokens/abc",
        "/api/admin/users/99999999999999999999",
        "/api/admin/users/0",
    ],
)
async def test_out_of_range_ids_are_422_not_500(client: AuthClient, make_user, path: str) -> None:
    admin = await make_user(role="admin")
    session = await client.login(admin.username, admin.password)
    response = await client.request("DELETE", path, session)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=100000", "limit=abc", "type=%00", "type=" + "a" * 100, "user_id=-5"],
)
async def test_bad_admin_queries_are_422(client: AuthClient, make_user, query: str) -> None:
    admin = await make_user(role="admin")
    session = await client.login(admin.username, admin.password)
    path = "/api/admin/activity" if query.startswith("user_id") else "/api/admin/security-events"
    response = await client.request("GET", f"{path}?{query}", session)
    assert response.status_code == 422, response.text
