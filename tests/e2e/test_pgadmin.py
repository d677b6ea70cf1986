"""pgAdmin 4 behind Ticktide's own sign-in (issue 15), for real: `make up` installs
pgAdmin from its lock into its own environment and starts it on 127.0.0.1; nginx
asks the gateway on every request whether the caller is a signed-in admin. An
admin's session opens pgAdmin signed in as the same name, with the pre-registered
read-only server, whose query tool counts crypto_prices as PostgreSQL does and is
refused a DELETE; a user gets the site's 403 page and an anonymous visitor the
sign-in redirect, and neither ever reaches pgAdmin (its access log holds no request
from them); an admin who is demoted loses it at the next request; pgAdmin will
not take a name from anyone but nginx; the services page lists its health;
`PGADMIN=0` leaves it out (404, and no row on the services page)."""

from __future__ import annotations

import asyncio
import json
import random
import re
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.test_make_up import make_up_env, run_make
from ticktide_common.bus import Bus
from ticktide_common.testing.processes import free_port
from ticktide_common.testing.users import bearer, create_test_token, create_test_user

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PASSWORD = "correct horse battery staple"


async def signed_in(client: httpx.AsyncClient, username: str) -> str:
    """Register `username` through the site and sign in; the session cookie."""
    registered = await client.post(
        "/register",
        data={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert registered.status_code == 303, registered.text
    login = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "next": "/"}
    )
    assert login.status_code == 303, login.text
    cookie = login.cookies.get("__Host-ticktide_session")
    assert cookie, login.headers
    return cookie


def pgadmin_requests(run_dir: Path) -> list[str]:
    log = run_dir / "logs" / "pgadmin-access.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if "/misc/ping" not in line]


async def test_pgadmin_is_for_signed_in_admins_only_and_absent_with_pgadmin_0(
    repo_root: Path,
    service_env: dict[str, str],
    tmp_path: Path,
    bus: Bus,
    db_pool: asyncpg.Pool,
) -> None:
    ports, run_dir, env = make_up_env(service_env, tmp_path)
    base = f"https://localhost:{ports['TICKTIDE_HTTPS_PORT']}"
    pgadmin_port = free_port()

    # PGADMIN=0: everything else runs, and /pgadmin/ is the site's 404 for an admin.
    try:
        code, output = await run_make("up", env, repo_root)
        assert code == 0, output
        assert "pgAdmin" not in output
        async with httpx.AsyncClient(base_url=base, verify=False, timeout=20) as client:
            cookie = await signed_in(client, "pga-off-admin")
            await db_pool.execute(
                "UPDATE users SET user_level = 'admin' WHERE username = 'pga-off-admin'"
            )
            cookie = await signed_in_again(client, "pga-off-admin")
            absent = await client.get(
                "/pgadmin/", cookies={"__Host-ticktide_session": cookie}, follow_redirects=False
            )
            assert absent.status_code == 404, absent.text
            # ... and the services page lists no pgAdmin.
            listed = await client.get("/api/services", cookies={"__Host-ticktide_session": cookie})
            assert listed.status_code == 200, listed.text
            assert "pgadmin" not in {row["service"] for row in listed.json()["instances"]}
    finally:
        await run_make("down", env, repo_root)

    env = {**env, "PGADMIN": "1", "PGADMIN_PORT": str(pgadmin_port)}
    try:
        code, output = await run_make("up", env, repo_root)
        assert code == 0, output
        async with httpx.AsyncClient(
            base_url=base, verify=False, timeout=60, follow_redirects=False
        ) as client:
            admin = await signed_in(client, "pga-admin")
            await db_pool.execute(
                "UPDATE users SET user_level = 'admin' WHERE username = 'pga-admin'"
            )
            admin = await signed_in_again(client, "pga-admin")
            user = await signed_in(client, "pga-user")
            client.cookies.clear()

            # The services page shows pgAdmin's health (the gateway probes its ping).
            listed = await client.get("/api/services", cookies={"__Host-ticktide_session": admin})
            assert listed.status_code == 200, listed.text
            rows = [r for r in listed.json()["instances"] if r["service"] == "pgadmin"]
            assert len(rows) == 1 and rows[0]["ready"] and rows[0]["via"] == "probe", rows

            # Refused before pgAdmin: nothing of theirs in its access log.
            seen_before = len(pgadmin_requests(run_dir))
            anonymous = await client.get("/pgadmin/browser/")
            assert anonymous.status_code == 303, anonymous.text
            assert anonymous.headers["location"].endswith("/login?next=/pgadmin/")
            refused = await client.get(
                "/pgadmin/browser/", cookies={"__Host-ticktide_session": user}
            )
            assert refused.status_code == 403
            assert "for administrators only" in refused.text
            forged = await client.get(
                "/pgadmin/browser/",
                headers={"X-Ticktide-Pgadmin-User": "pga-admin"},
                cookies={"__Host-ticktide_session": user},
            )
            assert forged.status_code == 403
            assert len(pgadmin_requests(run_dir)) == seen_before

            # Straight to pgAdmin's own port, the header alone signs nobody in.
            async with httpx.AsyncClient(timeout=30) as direct:
                answer = await direct.get(
                    f"http://127.0.0.1:{pgadmin_port}/pgadmin/browser/",
                    headers={"X-Ticktide-Pgadmin-User": "pga-admin"},
                )
                assert answer.status_code == 302
                assert "/pgadmin/login" in answer.headers["location"]

            # The admin: signed in to pgAdmin as the same name, the server registered.
            jar = {"__Host-ticktide_session": admin}
            opened = await client.get("/pgadmin/", cookies=jar)
            for _ in range(5):
                if opened.status_code not in (301, 302, 303):
                    break
                jar.update(dict(opened.cookies))
                opened = await client.get(opened.headers["location"], cookies=jar)
            assert opened.status_code == 200, opened.text
            assert "<title>pgAdmin 4" in opened.text
            assert "content-security-policy" in opened.headers  # pgAdmin's own, this path only
            jar.update(dict(opened.cookies))
            utils = await client.get("/pgadmin/browser/js/utils.js", cookies=jar)
            assert utils.status_code == 200, utils.text
            assert "pga-admin" in utils.text  # pgAdmin's user is the Ticktide admin's name
            found = re.search(r"pgAdmin\['csrf_token'\] = '([^']+)'", utils.text)
            assert found, utils.text[:500]
            csrf = {"X-pgA-CSRFToken": found.group(1), "Referer": f"{base}/pgadmin/browser/"}
            groups = await client.get(
                "/pgadmin/browser/server_group/nodes/", cookies=jar, headers=csrf
            )
            assert groups.status_code == 200, groups.text
            labels = {node["label"]: node["_id"] for node in groups.json()["data"]}
            assert "Ticktide" in labels, groups.text[:1000]  # the shared server's group
            servers = await client.get(
                f"/pgadmin/browser/server/nodes/{labels['Ticktide']}/", cookies=jar, headers=csrf
            )
            assert servers.status_code == 200, (groups.text[:1000], servers.text[:300])
            listed = servers.json()["result"]
            names = [node["label"] for node in listed]
            assert all(n["username"] == "ticktide_readonly" and n["shared"] for n in listed), listed
            database = service_env["DATABASE_URL"].rpartition("/")[2]
            assert f"Ticktide ({database}, read-only)" in names, names

            # Its query tool, as the read-only role: the count PostgreSQL holds; no writes.
            group_id, server_id = labels["Ticktide"], listed[0]["_id"]
            connected = await client.post(
                f"/pgadmin/browser/server/connect/{group_id}/{server_id}",
                cookies=jar, headers=csrf, json={"password": "", "save_password": False},
            )  # fmt: skip
            assert connected.status_code == 200, connected.text
            databases = await client.get(
                f"/pgadmin/browser/database/nodes/{group_id}/{server_id}/",
                cookies=jar,
                headers=csrf,
            )
            by_name = {node["label"]: node["_id"] for node in databases.json()["data"]}
            path = f"{group_id}/{server_id}/{by_name[database]}"
            before = await db_pool.fetchval("SELECT count(*) FROM crypto_prices")
            counted = await query_tool(
                client, jar, csrf, path, database, "SELECT count(*) FROM crypto_prices"
            )
            after = await db_pool.fetchval("SELECT count(*) FROM crypto_prices")
            assert counted.status_code == 200, counted.text
            assert before <= int(counted.json()["data"]["result"][0][0]) <= after
            deleted = await query_tool(
                client, jar, csrf, path, database, "DELETE FROM crypto_prices"
            )
            assert "permission denied for table crypto_prices" in deleted.text, deleted.text
            assert await db_pool.fetchval("SELECT count(*) FROM crypto_prices") >= after
            assert len(pgadmin_requests(run_dir)) > seen_before

            # Demoted: the very next request is refused, before pgAdmin.
            await demote(db_pool, client, "pga-admin")
            seen = len(pgadmin_requests(run_dir))
            after = await client.get("/pgadmin/browser/", cookies=jar)
            assert after.status_code in (303, 403), after.text
            assert len(pgadmin_requests(run_dir)) == seen

        settings = json.loads((run_dir / "pgadmin" / "servers.json").read_text())
        assert settings["Servers"]["1"]["Username"] == "ticktide_readonly"
        config = next((run_dir / "pgadmin" / "venv").glob("lib/python*/site-packages/pgadmin4"))
        assert "ALLOW_SAVE_PASSWORD = False" in (config / "config_local.py").read_text()
    finally:
        await run_make("down", env, repo_root)


async def query_tool(
    client: httpx.AsyncClient,
    jar: dict[str, str],
    csrf: dict[str, str],
    path: str,
    database: str,
    sql: str,
) -> httpx.Response:
    """Run `sql` in a new pgAdmin query tool on `group/server/database id`, as its
    page does (initialize, start, poll until it is done); the last poll's answer."""
    transaction = random.randint(1, 9_999_999)
    opened = await client.post(
        f"/pgadmin/sqleditor/initialize/sqleditor/{transaction}/{path}",
        cookies=jar, headers=csrf, json={"dbname": database},
    )  # fmt: skip
    assert opened.status_code == 200, opened.text
    started = await client.post(
        f"/pgadmin/sqleditor/query_tool/start/{transaction}",
        cookies=jar, headers=csrf, json={"sql": sql, "explain_plan": None},
    )  # fmt: skip
    assert started.status_code == 200, started.text
    for _ in range(100):
        polled = await client.get(
            f"/pgadmin/sqleditor/poll/{transaction}", cookies=jar, headers=csrf
        )
        data = polled.json().get("data") or {}
        if polled.status_code != 200 or data.get("status") != "Busy":
            return polled
        await asyncio.sleep(0.1)
    raise AssertionError(f"the query tool never finished: {polled.text[:300]}")


async def signed_in_again(client: httpx.AsyncClient, username: str) -> str:
    """A new session (the role is read at sign-in)."""
    client.cookies.clear()
    login = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "next": "/"}
    )
    assert login.status_code == 303, login.text
    cookie = login.cookies.get("__Host-ticktide_session")
    assert cookie
    client.cookies.clear()
    return cookie


async def demote(pool: asyncpg.Pool, client: httpx.AsyncClient, username: str) -> None:
    """What /admin/users does: another admin's `PATCH /api/admin/users/{id}` (the
    auth service changes the role and ends the user's sessions)."""
    actor_id, _ = await create_test_user(pool, role="admin")
    actor = bearer(await create_test_token(pool, actor_id))
    user_id = await pool.fetchval("SELECT id FROM users WHERE username = $1", username)
    changed = await client.patch(
        f"/api/admin/users/{user_id}", json={"role": "user"}, headers=actor
    )
    assert changed.status_code == 200, changed.text
