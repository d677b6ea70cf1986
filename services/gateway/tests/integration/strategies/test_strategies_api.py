"""`/api/strategies` against the real gateway and PostgreSQL: validate (the
canonical form, or errors with their spans), save (201, a new version per save),
list (the caller's own and the seven system strategies), read one (another
user's is 404), the limits of an account, CSRF for cookie writes, 401 for
anonymous callers, and versions that SQL itself refuses to change."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from ticktide_common.rules import LANGUAGE
from ticktide_common.rules.system import SYSTEM_STRATEGIES
from ticktide_common.sessions import SessionStore
from ticktide_common.settings import ServiceSettings
from ticktide_common.testing.fixtures import settings_for
from ticktide_common.testing.processes import ServiceProcess
from ticktide_common.testing.users import bearer, create_test_token, create_test_user
from ticktide_gateway.settings import GatewaySettings
from ticktide_gateway.strategies import repository
from ticktide_gateway.strategies.service import (
    MAX_STRATEGIES_PER_USER,
    MAX_VERSIONS_PER_STRATEGY,
    check_strategy,
)

pytestmark = pytest.mark.integration

STRATEGIES = "/api/strategies"
VALIDATE = "/api/strategies/validate"
COOKIE = "__Host-ticktide_session"

EMA_CROSS: dict[str, Any] = {
    "language": LANGUAGE,
    "params": {
        "fast": {"type": "int", "min": 2, "max": 50, "default": 10},
        "slow": {"type": "int", "min": 10, "max": 200, "default": 30},
    },
    "constraints": ["fast < slow"],
    "entry": "crosses_above(ema(close, fast), ema(close, slow))",
    "exit": "crosses_below(ema(close, fast), ema(close, slow))",
    "stop_loss": "pct(0.05)",
}


async def _user(gateway: ServiceProcess, db_pool: asyncpg.Pool) -> tuple[int, httpx.AsyncClient]:
    user_id, _ = await create_test_user(db_pool)
    token = await create_test_token(db_pool, user_id)
    return user_id, httpx.AsyncClient(base_url=gateway.url, timeout=10.0, headers=bearer(token))


@pytest.fixture
async def alice(
    gateway: ServiceProcess, db_pool: asyncpg.Pool
) -> AsyncIterator[tuple[int, httpx.AsyncClient]]:
    user_id, client = await _user(gateway, db_pool)
    async with client:
        yield user_id, client


@pytest.fixture
async def bob(
    gateway: ServiceProcess, db_pool: asyncpg.Pool
) -> AsyncIterator[tuple[int, httpx.AsyncClient]]:
    user_id, client = await _user(gateway, db_pool)
    async with client:
        yield user_id, client


def _name() -> str:
    return f"ema cross {uuid.uuid4().hex[:8]}"


async def test_validate_answers_the_canonical_form_and_the_parameters(
    alice: tuple[int, httpx.AsyncClient],
) -> None:
    _, client = alice
    answer = await client.post(VALIDATE, json={"document": EMA_CROSS})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    checked, version = check_strategy(EMA_CROSS)
    assert body == {
        "valid": True,
        "canonical": version.canonical,
        "shape_hash": checked.shape_hash,
        "params": version.canonical["params"],
    }
    assert body["params"]["fast"] == {"type": "int", "min": 2, "max": 50, "default": 10}
    assert body["canonical"]["stop_loss"] == "pct(0.05)"


async def test_a_rejected_document_is_422_with_codes_fields_and_spans(
    alice: tuple[int, httpx.AsyncClient],
) -> None:
    _, client = alice
    document = {**EMA_CROSS, "entry": "close[-1] > close"}
    for path, body in (
        (VALIDATE, {"document": document}),
        (STRATEGIES, {"name": _name(), "document": document}),
    ):  # noqa: E501
        answer = await client.post(path, json=body)
        assert answer.status_code == 422, answer.text
        errors = answer.json()["errors"]
        assert errors == [
            {
                "code": "lookahead",
                "message": "lags look back only: use close[1]",
                "field": "entry",
                "span": {"line": 1, "column": 7, "end_column": 9},
                "hint": errors[0]["hint"],
            }
        ]
        assert "entry: lags look back only" in answer.json()["detail"]
    # Every problem, each naming its key.
    several = {**EMA_CROSS, "exit": "nope(close)", "params": {"fast": {"type": "int"}}}
    answer = await client.post(VALIDATE, json={"document": several})
    assert answer.status_code == 422
    fields = [error["field"] for error in answer.json()["errors"]]
    assert "params.fast" in fields and "exit" in fields


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"document": "entry: close > 1"},
        {"document": [1, 2]},
        {"document": EMA_CROSS, "extra": 1},
        {"name": "", "document": EMA_CROSS},
        {"name": " leading space", "document": EMA_CROSS},
        {"name": "x" * 81, "document": EMA_CROSS},
        {"name": 5, "document": EMA_CROSS},
    ],
)
async def test_malformed_requests_are_the_usual_422(
    alice: tuple[int, httpx.AsyncClient], body: dict[str, Any]
) -> None:
    _, client = alice
    path = STRATEGIES if "name" in body else VALIDATE
    answer = await client.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] and answer.json()["errors"]


async def test_hostile_documents_are_refused_never_a_server_error(
    alice: tuple[int, httpx.AsyncClient],
) -> None:
    _, client = alice
    nested: Any = "x"
    for _ in range(500):
        nested = [nested]
    hostile = [
        {**EMA_CROSS, "entry": nested},
        {**EMA_CROSS, "params": {"a": {"type": "int", "min": nested, "max": 1, "default": 1}}},
        {**EMA_CROSS, "entry": "(" * 1999 + "close"},
        {**EMA_CROSS, "entry": "close > " + "1 + " * 600 + "1"},
        {**EMA_CROSS, "constraints": ["fast < slow"] * 13},
        {**EMA_CROSS, "params": {f"p{i}": EMA_CROSS["params"]["fast"] for i in range(13)}},
    ]
    for document in hostile:
        answer = await client.post(VALIDATE, json={"document": document})
        assert answer.status_code == 422, answer.text[:300]
        assert answer.json()["errors"][0]["code"]
    raw = b'{"document": ' + b"[" * 20000 + b"]" * 20000 + b"}"
    answer = await client.post(VALIDATE, content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 422), answer.text[:300]
    big = {"document": {**EMA_CROSS, "entry": "close > 1" + " " * 70_000}}
    answer = await client.post(VALIDATE, json=big)
    assert answer.status_code == 413, answer.text[:300]
    assert (await client.post(VALIDATE, content=b"{not json")).status_code in (400, 422)


async def test_save_then_save_again_is_version_two_and_get_shows_both(
    alice: tuple[int, httpx.AsyncClient],
) -> None:
    _, client = alice
    name = _name()
    first = await client.post(STRATEGIES, json={"name": name, "document": EMA_CROSS})
    assert first.status_code == 201, first.text
    saved = first.json()
    assert saved["version"] == 1 and saved["name"] == name
    assert first.headers["location"] == f"{STRATEGIES}/{saved['id']}"
    changed = copy.deepcopy(EMA_CROSS)
    changed["stop_loss"] = "atr_mult(14, 2.0)"
    second = await client.post(STRATEGIES, json={"name": name, "document": changed})
    assert second.status_code == 201, second.text
    assert second.json() == {"id": saved["id"], "version": 2, "name": name}
    # The same document again is a version too: every save is recorded.
    third = await client.post(STRATEGIES, json={"name": name, "document": changed})
    assert third.json()["version"] == 3

    detail = await client.get(f"{STRATEGIES}/{saved['id']}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert (body["id"], body["name"], body["visibility"]) == (saved["id"], name, "private")
    assert [v["version"] for v in body["versions"]] == [1, 2, 3]
    assert body["versions"][0]["document"] == EMA_CROSS
    assert body["versions"][1]["document"] == changed
    assert body["versions"][1]["canonical"]["stop_loss"] == "atr_mult(14, 2.0)"
    assert body["versions"][0]["shape_hash"] != body["versions"][1]["shape_hash"]
    assert {v["language"] for v in body["versions"]} == {LANGUAGE}


async def test_list_shows_own_and_the_seven_system_strategies_never_anyone_elses(
    alice: tuple[int, httpx.AsyncClient], bob: tuple[int, httpx.AsyncClient]
) -> None:
    _, alice_client = alice
    _, bob_client = bob
    names = [_name(), _name()]
    for name in names:
        assert (
            await alice_client.post(STRATEGIES, json={"name": name, "document": EMA_CROSS})
        ).status_code == 201  # noqa: E501
    await alice_client.post(STRATEGIES, json={"name": names[0], "document": EMA_CROSS})
    bobs = await bob_client.post(STRATEGIES, json={"name": names[0], "document": EMA_CROSS})
    assert bobs.json()["version"] == 1  # the same name, another owner: another strategy

    listed = (await alice_client.get(STRATEGIES)).json()["strategies"]
    system = [item for item in listed if item["visibility"] == "system"]
    own = [item for item in listed if item["visibility"] == "private"]
    assert sorted(item["name"] for item in system) == sorted(SYSTEM_STRATEGIES)
    assert listed[: len(system)] == system  # the system ones first
    assert all(item["latest_version"] >= 1 for item in system)
    assert [(item["name"], item["latest_version"]) for item in own] == [
        (name, version) for name, version in sorted(zip(names, (2, 1), strict=True))
    ]
    assert bobs.json()["id"] not in {item["id"] for item in listed}
    assert set(listed[0]) == {"id", "name", "visibility", "latest_version", "created_at"}


async def test_another_users_strategy_is_404_and_system_ones_are_readable(
    alice: tuple[int, httpx.AsyncClient], bob: tuple[int, httpx.AsyncClient], db_pool: asyncpg.Pool
) -> None:
    alice_id, alice_client = alice
    bob_id, bob_client = bob
    saved = (
        await alice_client.post(STRATEGIES, json={"name": _name(), "document": EMA_CROSS})
    ).json()
    foreign = await bob_client.get(f"{STRATEGIES}/{saved['id']}")
    assert foreign.status_code == 404, foreign.text
    missing = await bob_client.get(f"{STRATEGIES}/{2**62}")
    assert missing.status_code == 404
    assert foreign.json()["detail"].replace(str(saved["id"]), "N") == missing.json()[
        "detail"
    ].replace(str(2**62), "N")  # the same answer: nothing revealed
    for bad in ("0", str(2**63)):
        assert (await bob_client.get(f"{STRATEGIES}/{bad}")).status_code == 422
    for not_an_id in ("-1", "abc"):
        assert (await bob_client.get(f"{STRATEGIES}/{not_an_id}")).status_code == 404
    # /validate is not an id: a GET there is 405, and Allow says POST only.
    wrong_method = await bob_client.get(VALIDATE)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"

    system_id = await db_pool.fetchval(
        "SELECT id FROM strategies WHERE owner_id IS NULL AND name = 'donchian_breakout'"
    )
    detail = (await bob_client.get(f"{STRATEGIES}/{system_id}")).json()
    assert detail["visibility"] == "system"
    assert detail["versions"][0]["document"] == SYSTEM_STRATEGIES["donchian_breakout"]

    # The backtest routes' read: own and system versions only.
    own = await repository.strategy_version(db_pool, alice_id, saved["id"], 1)
    assert own is not None and own.source == EMA_CROSS and own.name == saved["name"]
    assert own.canonical == check_strategy(EMA_CROSS)[1].canonical
    assert await repository.strategy_version(db_pool, bob_id, saved["id"], 1) is None
    assert await repository.strategy_version(db_pool, alice_id, saved["id"], 2) is None
    builtin = await repository.strategy_version(db_pool, bob_id, system_id, 1)
    assert builtin is not None and builtin.visibility == "system"


async def test_the_system_strategies_are_seeded_once_and_follow_their_code(
    db_pool: asyncpg.Pool, gateway: ServiceProcess
) -> None:
    rows = await db_pool.fetch(
        """SELECT s.name, count(*) AS versions FROM strategies s
           JOIN strategy_versions v ON v.strategy_id = s.id
           WHERE s.owner_id IS NULL GROUP BY s.name"""
    )
    assert {row["name"]: row["versions"] for row in rows} == dict.fromkeys(SYSTEM_STRATEGIES, 1)
    versions = {name: check_strategy(doc)[1] for name, doc in SYSTEM_STRATEGIES.items()}
    # Again (another gateway's start): nothing to add.
    assert await repository.ensure_system_strategies(db_pool, versions) == {}
    # A document changed in code is the next version; only that one.
    changed = copy.deepcopy(SYSTEM_STRATEGIES["sma_cross"])
    changed["params"]["fast"]["default"] = 11
    name = f"test_system_{uuid.uuid4().hex[:8]}"
    try:
        assert await repository.ensure_system_strategies(
            db_pool, {name: versions["sma_cross"]}
        ) == {name: 1}  # noqa: E501
        assert await repository.ensure_system_strategies(
            db_pool, {name: check_strategy(changed)[1]}
        ) == {name: 2}  # noqa: E501
        assert (
            await repository.ensure_system_strategies(db_pool, {name: check_strategy(changed)[1]})
            == {}
        )  # noqa: E501
    finally:
        await db_pool.execute("DELETE FROM strategies WHERE owner_id IS NULL AND name = $1", name)


async def test_versions_cannot_be_changed_or_removed_except_with_their_strategy(
    alice: tuple[int, httpx.AsyncClient], db_pool: asyncpg.Pool
) -> None:
    alice_id, client = alice
    saved = (await client.post(STRATEGIES, json={"name": _name(), "document": EMA_CROSS})).json()
    with pytest.raises(asyncpg.RestrictViolationError, match="immutable"):
        await db_pool.execute(
            "UPDATE strategy_versions SET shape_hash = 'x' WHERE strategy_id = $1", saved["id"]
        )
    with pytest.raises(asyncpg.RestrictViolationError, match="immutable"):
        await db_pool.execute("DELETE FROM strategy_versions WHERE strategy_id = $1", saved["id"])
    source = await db_pool.fetchval(
        "SELECT source FROM strategy_versions WHERE strategy_id = $1", saved["id"]
    )
    assert json.loads(source) == EMA_CROSS
    # The account's deletion takes its strategies and their versions with it.
    await db_pool.execute("DELETE FROM users WHERE id = $1", alice_id)
    left = await db_pool.fetchval(
        "SELECT count(*) FROM strategy_versions WHERE strategy_id = $1", saved["id"]
    )
    assert left == 0


async def test_an_account_keeps_at_most_the_limit_of_strategies_and_versions(
    alice: tuple[int, httpx.AsyncClient], db_pool: asyncpg.Pool
) -> None:
    alice_id, client = alice
    # Straight into the table up to the bound, then through the API.
    await db_pool.executemany(
        "INSERT INTO strategies (owner_id, name) VALUES ($1, $2)",
        [(alice_id, f"filler {i}") for i in range(MAX_STRATEGIES_PER_USER - 1)],
    )
    last = await client.post(STRATEGIES, json={"name": "the last one", "document": EMA_CROSS})
    assert last.status_code == 201, last.text
    refused = await client.post(STRATEGIES, json={"name": "one too many", "document": EMA_CROSS})
    assert refused.status_code == 409, refused.text
    assert f"at most {MAX_STRATEGIES_PER_USER} strategies" in refused.json()["detail"]
    # A new version of an existing one is still fine.
    again = await client.post(STRATEGIES, json={"name": "the last one", "document": EMA_CROSS})
    assert again.status_code == 201 and again.json()["version"] == 2

    checked = check_strategy(EMA_CROSS)[1]
    await db_pool.executemany(
        """INSERT INTO strategy_versions (strategy_id, version, source, canonical, shape_hash,
                                          language)
           VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6)""",
        [
            (last.json()["id"], version, json.dumps(checked.source),
             json.dumps(checked.canonical), checked.shape_hash, checked.language)
            for version in range(3, MAX_VERSIONS_PER_STRATEGY + 1)
        ],
    )  # fmt: skip
    full = await client.post(STRATEGIES, json={"name": "the last one", "document": EMA_CROSS})
    assert full.status_code == 409, full.text
    assert f"at most {MAX_VERSIONS_PER_STRATEGY} versions" in full.json()["detail"]


async def test_concurrent_saves_of_one_name_are_numbered_one_after_the_other(
    alice: tuple[int, httpx.AsyncClient],
) -> None:
    import asyncio

    _, client = alice
    name = _name()
    answers = await asyncio.gather(
        *(client.post(STRATEGIES, json={"name": name, "document": EMA_CROSS}) for _ in range(8))
    )
    assert all(answer.status_code == 201 for answer in answers), [a.text for a in answers]
    assert sorted(answer.json()["version"] for answer in answers) == list(range(1, 9))
    assert len({answer.json()["id"] for answer in answers}) == 1


async def test_anonymous_callers_get_401(anonymous_api: httpx.AsyncClient) -> None:
    for method, path, body in (
        ("POST", VALIDATE, {"document": EMA_CROSS}),
        ("POST", STRATEGIES, {"name": "x", "document": EMA_CROSS}),
        ("GET", STRATEGIES, None),
        ("GET", f"{STRATEGIES}/1", None),
    ):
        answer = await anonymous_api.request(method, path, json=body)
        assert answer.status_code == 401, (method, path, answer.text)


@pytest.fixture
def sessions(redis_client: Redis, settings: ServiceSettings) -> SessionStore:
    gateway = settings_for(GatewaySettings, settings)
    return SessionStore(
        redis_client,
        gateway.ticktide_redis_prefix,
        idle_seconds=gateway.session_idle_minutes * 60,
        absolute_seconds=gateway.session_absolute_hours * 3600,
    )


async def test_cookie_saves_need_the_csrf_token(
    anonymous_api: httpx.AsyncClient, db_pool: asyncpg.Pool, sessions: SessionStore
) -> None:
    user_id, username = await create_test_user(db_pool)
    session = await sessions.create(user_id=user_id, username=username, role="user")
    cookie = {"Cookie": f"{COOKIE}={session.token}"}
    body = {"name": _name(), "document": EMA_CROSS}
    for path in (STRATEGIES, VALIDATE):
        missing = await anonymous_api.post(path, json=body, headers=cookie)
        assert missing.status_code == 403, missing.text
        assert "X-CSRF-Token" in missing.json()["detail"]
    signed = {**cookie, "X-CSRF-Token": session.csrf_token}
    assert (await anonymous_api.post(STRATEGIES, json=body, headers=signed)).status_code == 201
    assert (await anonymous_api.get(STRATEGIES, headers=cookie)).status_code == 200
