"""The admin lists' search, filters and keyset paging (the /admin pages'
needs): users by a part of the name or email, role and active; security events
and activity by user, type/action and time range, newest first, each row with
its user's name, paged by the (timestamp, id) of the last row without gaps or
repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from ticktide_auth.testing import AuthClient, Session, unique_name

pytestmark = pytest.mark.integration


async def admin_session(client: AuthClient, make_user) -> Session:
    admin = await make_user(role="admin")
    return await client.login(admin.username, admin.password)


async def get(client: AuthClient, session: Session, path: str, **params: Any) -> Any:
    given = {k: v for k, v in params.items() if v is not None}
    response = await client.request("GET", path, session, params=given)
    assert response.status_code == 200, response.text
    return response.json()


async def test_users_search_by_part_of_name_or_email_in_any_case(
    client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    session = await admin_session(client, make_user)
    tag = unique_name("Srch")
    a, b = await make_user(), await make_user()
    await db_pool.execute("UPDATE users SET username = $2 WHERE id = $1", a.id, f"{tag}_Alpha")
    await db_pool.execute("UPDATE users SET email = $2 WHERE id = $1", b.id, f"x.{tag}@Example.org")

    found = await get(client, session, "/api/admin/users", search=tag.upper())
    assert [u["id"] for u in found] == sorted([a.id, b.id])
    by_email = await get(client, session, "/api/admin/users", search=f"x.{tag}@example")
    assert [u["id"] for u in by_email] == [b.id]
    # LIKE's wildcards are plain characters in a search.
    underscore = await get(client, session, "/api/admin/users", search=f"{tag}_")
    assert [u["id"] for u in underscore] == [a.id]
    assert await get(client, session, "/api/admin/users", search=f"{tag}%") == []
    assert await get(client, session, "/api/admin/users", search="no-such-user-anywhere") == []
    # Blank search is no search.
    assert len(await get(client, session, "/api/admin/users", search="  ", limit=2)) == 2


async def test_users_filter_by_role_and_active_and_page_by_id(
    client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    session = await admin_session(client, make_user)
    tag = unique_name("flt")
    made = [await make_user(role="admin" if i % 2 else "user") for i in range(5)]
    for i, user in enumerate(made):
        await db_pool.execute(
            "UPDATE users SET username = $2, is_active = $3 WHERE id = $1",
            user.id,
            f"{tag}-{i}",
            i != 4,
        )
    ids = [u.id for u in made]

    admins = await get(client, session, "/api/admin/users", search=tag, role="admin")
    assert [u["id"] for u in admins] == [ids[1], ids[3]]
    assert {u["role"] for u in admins} == {"admin"}
    disabled = await get(client, session, "/api/admin/users", search=tag, active="false")
    assert [u["id"] for u in disabled] == [ids[4]]
    active_users = await get(
        client, session, "/api/admin/users", search=tag, active="true", role="user"
    )
    assert [u["id"] for u in active_users] == [ids[0], ids[2]]

    pages, after = [], None
    while True:
        page = await get(client, session, "/api/admin/users", search=tag, limit=2, after=after)
        if not page:
            break
        pages.append([u["id"] for u in page])
        after = page[-1]["id"]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


async def insert_event(pool: asyncpg.Pool, kind: str, user_id: int | None, at: datetime) -> int:
    return int(
        await pool.fetchval(
            "INSERT INTO security_events (event_type, user_id, details, timestamp) "
            "VALUES ($1, $2, '{}', $3) RETURNING id",
            kind,
            user_id,
            at,
        )
    )


async def test_security_events_by_user_type_and_time_paged_without_gaps(
    client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    session = await admin_session(client, make_user)
    user, other = await make_user(), await make_user()
    # In the past: other tests read the newest events, which must stay theirs.
    base = datetime(2001, 5, 1, 12, 0, tzinfo=UTC)
    # Two share a timestamp: the id breaks the tie, and paging must not lose either.
    times = [
        base,
        base + timedelta(minutes=1),
        base + timedelta(minutes=1),
        base + timedelta(hours=1),
    ]
    mine = [await insert_event(db_pool, "login_failed", user.id, t) for t in times]
    theirs = await insert_event(db_pool, "login_failed", other.id, base)
    typed = await insert_event(db_pool, "token_created", user.id, base)
    day = (base + timedelta(days=1)).isoformat()

    path = "/api/admin/security-events"
    failed = await get(
        client, session, path, username=user.username.upper(), type="login_failed", until=day
    )
    expected = [mine[3], mine[2], mine[1], mine[0]]
    assert [e["id"] for e in failed] == expected
    assert {(e["user_id"], e["username"]) for e in failed} == {(user.id, user.username)}
    by_id = await get(client, session, path, user_id=other.id, type="login_failed", until=day)
    assert [e["id"] for e in by_id] == [theirs]
    # (make_user logged a user_created event now, long before these.)
    since = base.isoformat()
    everything = await get(client, session, path, user_id=user.id, since=since, until=day)
    # typed shares `base` with mine[0] and has the higher id: it comes first.
    assert [e["id"] for e in everything] == [mine[3], mine[2], mine[1], typed, mine[0]]

    ranged = await get(
        client,
        session,
        path,
        user_id=user.id,
        type="login_failed",
        since=(base + timedelta(seconds=30)).isoformat(),
        until=(base + timedelta(hours=1)).isoformat(),  # exclusive
    )
    assert [e["id"] for e in ranged] == [mine[2], mine[1]]
    # A time without a zone is UTC.
    naive = await get(
        client,
        session,
        path,
        user_id=user.id,
        type="login_failed",
        since="2001-05-01T13:00:00",
        until="2001-05-02T00:00:00",
    )
    assert [e["id"] for e in naive] == [mine[3]]

    seen: list[int] = []
    cursor: dict[str, Any] = {}
    while True:
        page = await get(
            client, session, path, user_id=user.id, since=since, until=day, limit=2, **cursor
        )
        if not page:
            break
        seen += [e["id"] for e in page]
        cursor = {"before": page[-1]["timestamp"], "before_id": page[-1]["id"]}
    assert seen == [e["id"] for e in everything]

    assert await get(client, session, path, username="nobody-by-that-name") == []


async def test_activity_by_user_action_and_time_paged(
    client: AuthClient, make_user, db_pool: asyncpg.Pool
) -> None:
    session = await admin_session(client, make_user)
    user = await make_user()
    base = datetime(2001, 6, 1, tzinfo=UTC)
    ids = []
    actions = ["login", "admin.user_update", "login", "POST /api/crypto/backtest/batch"]
    for i, action in enumerate(actions):
        ids.append(
            await db_pool.fetchval(
                "INSERT INTO user_activity_log (event_id, user_id, action, details, timestamp) "
                "VALUES (gen_random_uuid(), $1, $2, '{}', $3) RETURNING id",
                user.id,
                action,
                base + timedelta(minutes=i),
            )
        )
    path = "/api/admin/activity"
    day = (base + timedelta(days=1)).isoformat()
    logins = await get(client, session, path, username=user.username, action="login", until=day)
    assert [a["id"] for a in logins] == [ids[2], ids[0]]
    assert logins[0]["username"] == user.username
    dotted = await get(client, session, path, user_id=user.id, action="admin.user_update")
    assert [a["id"] for a in dotted] == [ids[1]]
    gateway = await get(client, session, path, user_id=user.id, action=actions[3])
    assert [a["id"] for a in gateway] == [ids[3]]
    window = await get(
        client,
        session,
        path,
        user_id=user.id,
        since=(base + timedelta(minutes=1)).isoformat(),
        until=(base + timedelta(minutes=3)).isoformat(),
    )
    assert [a["id"] for a in window] == [ids[2], ids[1]]
    first = await get(client, session, path, user_id=user.id, until=day, limit=3)
    rest = await get(
        client,
        session,
        path,
        user_id=user.id,
        until=day,
        limit=3,
        before=first[-1]["timestamp"],
        before_id=first[-1]["id"],
    )
    assert [a["id"] for a in first + rest] == ids[::-1]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/admin/users", "search=%00"),
        ("/api/admin/users", "search=" + "a" * 101),
        ("/api/admin/users", "role=root"),
        ("/api/admin/users", "active=maybe"),
        ("/api/admin/users", "after=-1"),
        ("/api/admin/security-events", "before_id=5"),
        ("/api/admin/security-events", "before=2001-01-01T00:00:00Z"),
        ("/api/admin/security-events", "before=yesterday&before_id=5"),
        ("/api/admin/security-events", "since=not-a-time"),
        ("/api/admin/security-events", "username=a%20b"),
        ("/api/admin/security-events", "user_id=0"),
        ("/api/admin/activity", "action=%00"),
        ("/api/admin/activity", "action=" + "a" * 201),
        ("/api/admin/activity", "username=" + "u" * 65),
        ("/api/admin/activity", "before_id=99999999999999999999&before=2001-01-01T00:00:00Z"),
    ],
)
async def test_bad_list_queries_are_422(
    client: AuthClient, make_user, path: str, query: str
) -> None:
    session = await admin_session(client, make_user)
    response = await client.request("GET", f"{path}?{query}", session)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


async def test_the_new_filters_still_need_an_admin(client: AuthClient, make_user) -> None:
    user = await make_user()
    session = await client.login(user.username, user.password)
    for path in (
        "/api/admin/users?search=a",
        "/api/admin/security-events?username=a",
        "/api/admin/activity?action=login",
    ):
        assert (await client.request("GET", path, session)).status_code == 403
