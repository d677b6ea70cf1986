"""What the fuzz runs must not do to themselves (pure: no I/O).

- `NOT_FUZZED`: operations left out entirely: a logout ends the run's own session.
- `SELF_TARGETING`: operations acting on the account (or token) their path names;
  aimed at the run's own, the run would delete, disable or demote itself, change
  its own password or role (PATCH), or revoke its own token. `redirected` says
  which path parameter to send as `UNUSED_ID` instead (an id nobody has: a 404,
  which the checks then see), reading the value as the API would (" 02", "2.0").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NOT_FUZZED", "SELF_TARGETING", "UNUSED_ID", "redirected"]

NOT_FUZZED = ("/api/auth/logout",)

SELF_TARGETING: dict[tuple[str, str], str] = {
    ("DELETE", "/api/admin/users/{user_id}"): "user_id",
    ("PATCH", "/api/admin/users/{user_id}"): "user_id",
    ("POST", "/api/admin/users/{user_id}/disable"): "user_id",
    ("PUT", "/api/admin/users/{user_id}/role"): "user_id",
    ("DELETE", "/api/auth/tokens/{token_id}"): "token_id",
}
UNUSED_ID = 2_000_000_000


def _as_int(value: Any) -> int | None:
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def redirected(
    method: str, path: str, path_parameters: Mapping[str, Any] | None, own_ids: Mapping[str, int]
) -> str | None:
    """The path parameter of this request that names the run's own account or token."""
    name = SELF_TARGETING.get((method.upper(), path))
    if name is None or not path_parameters or name not in own_ids:
        return None
    if name in path_parameters and _as_int(path_parameters[name]) == own_ids[name]:
        return name
    return None
