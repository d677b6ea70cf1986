"""The error answers of `/api/openapi.json`, documented by rule rather than route
by route, so that the document says what the API really answers (pure: no I/O).

Every error body of the gateway and of auth is `ErrorBody`: `{"detail": "..."}`,
and a 422 adds `errors`, one `{"field", "message"}` per problem (see
`error_handlers.py` here and auth's `errors.py`). `document_errors` adds to each
operation of a merged document the statuses it can give:

- protected (the operation has a `security` requirement) → 401; 403 too when it
  is an admin operation or a state-changing method (a cookie session without its
  X-CSRF-Token); 503 when the session or token store (or auth, for the routes the
  gateway proxies) cannot be reached: the check fails closed;
- a path parameter, or a parameter naming stored data (`LOOKUPS`: symbol,
  symbols, location) → 404 (no such object, or not the caller's);
- a request body → 400 (not parseable as its media type: FastAPI's "There was an
  error parsing the body"), 413 (over the route's body limit) and 422;
- any parameter or body → 422 (FastAPI's validation, and the gateway's own rules);
- a throttled operation (`THROTTLED`, or one that declares 429) → 429 with
  `Retry-After`; the answers of public operations that check credentials
  themselves (`CREDENTIAL_CHECKS`: login's 401).

What a route documents itself stays, except that a response without a body schema
gets `ErrorBody`, and FastAPI's `HTTPValidationError` (whose `detail` is a list:
not what either service answers) is replaced by `ErrorBody` everywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

__all__ = [
    "ERROR_BODY",
    "FIELD_ERROR",
    "THROTTLED",
    "CREDENTIAL_CHECKS",
    "STATE_CHANGING",
    "document_errors",
    "is_admin_path",
]

Document = dict[str, Any]
Operation = tuple[str, str]  # (lower-case method, path template)

ERROR_BODY = "ErrorBody"
FIELD_ERROR = "FieldError"
_ERROR_REF = f"#/components/schemas/{ERROR_BODY}"
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
STATE_CHANGING = frozenset({"post", "put", "patch", "delete"})

# Throttled by auth whether or not its own document says so: registration per
# client IP; login, and the operations that check the current password (a token,
# a password change), per account and IP.
THROTTLED: frozenset[Operation] = frozenset(
    {
        ("post", "/api/auth/login"),
        ("post", "/api/auth/register"),
        ("post", "/api/auth/tokens"),
        ("post", "/api/auth/password"),
    }
)

# Query parameters looked up in the database: an unknown one is a 404.
LOOKUPS = frozenset({"symbol", "symbols", "location"})

# Public operations that answer 401 on their own: wrong username or password.
CREDENTIAL_CHECKS: frozenset[Operation] = frozenset({("post", "/api/auth/login")})

ERROR_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": ERROR_BODY,
    "description": "Every error answer: `detail` says what was wrong; a 422 also lists "
    "each problem in `errors`.",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {
            "type": "array",
            "title": "Errors",
            "items": {"$ref": f"#/components/schemas/{FIELD_ERROR}"},
        },
    },
}
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": FIELD_ERROR,
    "description": "One problem of a request: where (e.g. \"query parameter 'symbol'\") and what.",
    "required": ["field", "message"],
    "properties": {
        "field": {"type": "string", "title": "Field"},
        "message": {"type": "string", "title": "Message"},
    },
}

DESCRIPTIONS = {
    "400": "request body not parseable as the media type it declares",
    "401": "not signed in: no session cookie or API token, or one that does not check out",
    "403": "not allowed: an admin operation, or a cookie session's write without its X-CSRF-Token",
    "404": "no such object (or not the caller's), or an unknown symbol or location",
    "413": "request body over this operation's limit",
    "422": "invalid request: `errors` says which field and why",
    "429": "too many requests; retry after `Retry-After` seconds",
    "503": "a store or service this operation needs is unavailable; retry shortly",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def is_admin_path(path: str) -> bool:
    """Auth's admin routes (users, security events, activity) all live under /api/admin/."""
    return path.startswith("/api/admin/")


def _error_response(status: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}},
    }
    if status in ("429", "503"):
        response["headers"] = copy.deepcopy(_RETRY_AFTER)
    return response


def _uses_fastapi_validation(node: Any) -> bool:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1].removeprefix("auth_") in (
            _FASTAPI_VALIDATION
        ):
            return True
        return any(_uses_fastapi_validation(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_fastapi_validation(v) for v in node)
    return False


def _complete(responses: dict[str, Any], status: str) -> None:
    """Add `status` as an ErrorBody answer, or give the route's own entry a body."""
    existing = responses.get(status)
    if existing is None:
        responses[status] = _error_response(status)
        return
    content = existing.get("content")
    if not content or _uses_fastapi_validation(content):
        existing["content"] = {"application/json": {"schema": {"$ref": _ERROR_REF}}}
    if status in ("429", "503"):
        existing.setdefault("headers", copy.deepcopy(_RETRY_AFTER))


def _statuses(
    method: str,
    path: str,
    operation: dict[str, Any],
    path_item: dict[str, Any],
    admin: bool,
    proxied: bool,
) -> list[str]:
    parameters = [*path_item.get("parameters", []), *operation.get("parameters", [])]
    protected = bool(operation.get("security"))
    body = "requestBody" in operation
    statuses: list[str] = ["400"] if body else []
    if protected or (method, path) in CREDENTIAL_CHECKS:
        statuses.append("401")
    if protected and (admin or method in STATE_CHANGING):
        statuses.append("403")
    if any(p.get("in") == "path" or p.get("name") in LOOKUPS for p in parameters):
        statuses.append("404")
    if body:
        statuses.append("413")
    if body or parameters:
        statuses.append("422")
    if (method, path) in THROTTLED or "429" in operation.get("responses", {}):
        statuses.append("429")
    if protected or proxied:
        statuses.append("503")
    return statuses


def document_errors(
    document: Document,
    admin_operations: Collection[Operation],
    proxied_paths: Collection[str] = (),
) -> Document:
    """A copy of `document` with the error answers above on every `/api` operation.
    `admin_operations` are the gateway's admin routes; a path under `/api/admin/` is
    an admin operation too. `proxied_paths` are the paths the gateway forwards (to
    auth), which also answer 503 when the service behind is down."""
    result = copy.deepcopy(document)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_BODY] = copy.deepcopy(ERROR_BODY_SCHEMA)
    schemas[FIELD_ERROR] = copy.deepcopy(FIELD_ERROR_SCHEMA)
    admin = set(admin_operations)
    proxied = set(proxied_paths)
    for path, path_item in (result.get("paths") or {}).items():
        if not path.startswith("/api/"):
            continue
        for method in METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, response in responses.items():
                if _uses_fastapi_validation(response.get("content")):
                    response["content"] = {"application/json": {"schema": {"$ref": _ERROR_REF}}}
                    response.setdefault("description", DESCRIPTIONS["422"])
                elif status.startswith(("4", "5")) and not response.get("content"):
                    _complete(responses, status)
            is_admin = (method, path) in admin or is_admin_path(path)
            for status in _statuses(method, path, operation, path_item, is_admin, path in proxied):
                _complete(responses, status)
            operation["responses"] = dict(sorted(responses.items()))
    if not _uses_fastapi_validation(result.get("paths")):
        for name in list(schemas):
            if name.removeprefix("auth_") in _FASTAPI_VALIDATION:
                del schemas[name]
    return result
