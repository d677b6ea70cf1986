"""`GET /api/admin/pgadmin-check`: nginx's `auth_request` before every request to
pgAdmin (`/pgadmin/`, issue 15). It asks whether the caller is a signed-in admin
and names them for pgAdmin's web-server authentication:

- 204 with `X-Ticktide-Pgadmin-User: <username>` for an admin's live browser session;
- 401 without a credential, or with one that does not check out (unknown, ended
  or timed-out session; malformed `Authorization`): the resolver's own answer;
- 403 for a signed-in user who is not an admin, and for an API token, even an
  admin's: pgAdmin is a browser tool signed in by the session alone, and a
  long-lived token made for scripts must not open an interactive database tool
  as its owner;
- 503 (with `Retry-After`) when the session or token store cannot answer: the
  check fails closed.

The session is read from Redis on every request (never from a cache: every
answer is `Cache-Control: no-store`), so an admin who is demoted or disabled,
which ends all of their sessions, loses pgAdmin at the next request. Like every
page request, the check slides the session's idle window.

Why not under `/api/auth/`: that prefix is the auth service's, forwarded whole
(`auth_proxy`); a gateway route there would shadow part of auth's namespace.
`/api/admin/*` is the gateway's own (but the few prefixes `auth_proxy` names) and
means "admins only". Not in the OpenAPI document: it is nginx's contract (a status
and a header), not an API for clients.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from ticktide_common.accounts.policy import is_possible_username
from ticktide_gateway.auth import identify

__all__ = ["router", "PATH", "USER_HEADER"]

PATH = "/api/admin/pgadmin-check"
USER_HEADER = "X-Ticktide-Pgadmin-User"
NO_STORE = {"Cache-Control": "no-store"}
NOT_ADMIN = "pgAdmin is for signed-in administrators"
TOKEN_REFUSED = "pgAdmin opens with a signed-in browser session, not with an API token"

router = APIRouter()


def _refusal(status_code: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"detail": detail}, status_code=status_code, headers={**(headers or {}), **NO_STORE}
    )


@router.api_route(PATH, methods=["GET", "HEAD"], include_in_schema=False)
async def pgadmin_check(request: Request) -> Response:
    """Whether the caller may reach pgAdmin, and as whom (the module's docstring)."""
    try:
        principal = await identify(request)
    except HTTPException as exc:
        return _refusal(exc.status_code, str(exc.detail), dict(exc.headers or {}))
    if principal.method != "session":
        return _refusal(403, TOKEN_REFUSED)
    # The name becomes pgAdmin's user: only a name the account rules allow
    # (ASCII letters, digits, `_.-`) may go into the header.
    if not principal.is_admin or not is_possible_username(principal.username):
        return _refusal(403, NOT_ADMIN)
    return Response(status_code=204, headers={USER_HEADER: principal.username, **NO_STORE})
