"""`ticktide login` and `ticktide logout`: sign in with a username and password
(`POST /api/auth/login`), create a personal API token from that session
(`POST /api/auth/tokens`, with the session's CSRF token), end the session, and
keep `{url, token, username}` in the user's config directory (0600); logout
revokes the token (`DELETE /api/auth/tokens/{id}`) and deletes the file."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ticktide_cli.api_client import ApiClient, ApiError
from ticktide_cli.credentials import (
    SavedLogin,
    credentials_path,
    delete_login,
    save_login,
    write_secret_file,
)
from ticktide_cli.errors import CliError

__all__ = ["LoggedIn", "log_in", "log_out"]

SESSION_COOKIE = "__Host-ticktide_session"


@dataclass(frozen=True)
class LoggedIn:
    path: Path
    username: str
    role: str
    expires_at: str


async def log_in(
    url: str, username: str, password: str, *, verify: Any, token_name: str | None = None
) -> LoggedIn:
    name = token_name or f"ticktide CLI on {socket.gethostname()}"[:100]
    async with ApiClient(url, None, verify=verify) as api:
        try:
            answer = await api.request(
                "POST", "/api/auth/login", json={"username": username, "password": password}
            )
        except ApiError as exc:
            if exc.status == 401:
                raise CliError("login failed: wrong username or password") from None
            raise
        session = answer.cookies.get(SESSION_COOKIE)
        if not session:
            raise CliError(f"{url} answered the login without a session cookie")
        me = answer.json()
        headers = {"Cookie": f"{SESSION_COOKIE}={session}", "X-CSRF-Token": me["csrf_token"]}
        created = await api.post(
            "/api/auth/tokens", {"name": name, "password": password}, headers=headers
        )
        try:
            await api.request("POST", "/api/auth/logout", headers=headers)
        except CliError:
            pass  # the session expires on its own; the token is what we keep
    path = save_login(SavedLogin(url, created["token"], me["username"]))
    # The token's id, for logout's DELETE; beside the three documented fields.
    body = json.loads(path.read_text())
    body["token_id"] = created["id"]
    write_secret_file(path, json.dumps(body, indent=2) + "\n")
    return LoggedIn(path, me["username"], me["role"], str(created.get("expires_at", "")))


async def log_out(*, verify: Any) -> str:
    path = credentials_path()
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        return "not signed in"
    except ValueError:
        delete_login()
        return f"removed the unreadable {path}"
    token_id = body.get("token_id")
    outcome = "signed out"
    if token_id is not None:
        async with ApiClient(str(body["url"]), str(body["token"]), verify=verify) as api:
            try:
                await api.delete(f"/api/auth/tokens/{int(token_id)}")
                outcome = "signed out; the token is revoked"
            except ApiError as exc:
                if exc.status not in (401, 404):
                    raise
                outcome = "signed out; the token was no longer valid"
    delete_login()
    return outcome
