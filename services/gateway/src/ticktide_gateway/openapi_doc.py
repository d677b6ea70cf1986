"""`/api/openapi.json`: one document for every `/api` route. The gateway's own
document (with its security schemes: the session cookie and bearer tokens) is
merged with the auth service's (`GET {AUTH_URL}/api/auth/openapi.json`), whose paths the
gateway proxies. When auth cannot be reached the gateway's own document is
served with a note saying so. `/api/docs` shows the merged document.

The merge is pure (`merge_documents`): paths under `/api/` and components are
added; a component auth names like one of the gateway's but defines
differently is renamed `auth_<name>`, and auth's references follow it. The
merged document then gets its error answers by rule (`openapi_errors`): 401/403
from each route's guard, 404/413/422/429/503 and the shared `ErrorBody`.

A bound that is a setting (`limit` of the prices, at most MAX_CANDLES_PER_REQUEST)
is declared in its schema as `SETTING_MAXIMUM: <setting name>` and served as the
running setting's value (`with_setting_bounds`), so the document states the bound
the code checks, whatever the deployment set.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts

from ticktide_common.logging import get_logger
from ticktide_gateway.auth import route_guard
from ticktide_gateway.deps import HttpDep, SettingsDep
from ticktide_gateway.openapi_errors import Operation, document_errors

__all__ = [
    "router",
    "merge_documents",
    "with_setting_bounds",
    "OPENAPI_URL",
    "DOCS_URL",
    "AUTH_MISSING_NOTE",
    "SETTING_MAXIMUM",
]

log = get_logger(__name__)

OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"
AUTH_OPENAPI_PATH = "/api/auth/openapi.json"  # where the auth app serves its document
FETCH_TIMEOUT_SECONDS = 2.0
AUTH_MISSING_NOTE = (
    "The auth service could not be reached: its routes (/api/auth/*, /api/admin/users*, "
    "/api/admin/security-events, /api/admin/activity) are missing from this document."
)

router = APIRouter()

Document = dict[str, Any]

SETTING_MAXIMUM = "x-ticktide-maximum-setting"


def with_setting_bounds(node: Any, settings: object) -> Any:
    """A copy of `node` where each schema naming a setting under SETTING_MAXIMUM has
    that setting's value as its `maximum` instead."""
    if isinstance(node, dict):
        out = {key: with_setting_bounds(value, settings) for key, value in node.items()}
        setting = out.pop(SETTING_MAXIMUM, None)
        if isinstance(setting, str):
            out["maximum"] = getattr(settings, setting)
        return out
    if isinstance(node, list):
        return [with_setting_bounds(item, settings) for item in node]
    return node


def _rewrite_refs(node: Any, renamed: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value in renamed:
                out[key] = renamed[value]
            else:
                out[key] = _rewrite_refs(value, renamed)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renamed) for item in node]
    return node


def merge_documents(own: Document, auth: Document) -> Document:
    """The gateway's document with auth's `/api/` paths and components added."""
    merged = copy.deepcopy(own)
    own_components: dict[str, dict[str, Any]] = merged.setdefault("components", {})
    auth_components: dict[str, dict[str, Any]] = auth.get("components") or {}
    renamed: dict[str, str] = {}
    for section, entries in auth_components.items():
        existing = own_components.get(section, {})
        for name, definition in entries.items():
            if name in existing and existing[name] != definition:
                renamed[f"#/components/{section}/{name}"] = f"#/components/{section}/auth_{name}"
    auth_paths = _rewrite_refs(auth.get("paths") or {}, renamed)
    auth_components = _rewrite_refs(auth_components, renamed)
    for section, entries in auth_components.items():
        target = own_components.setdefault(section, {})
        for name, definition in entries.items():
            key = f"#/components/{section}/{name}"
            new_name = renamed[key].rsplit("/", 1)[1] if key in renamed else name
            target.setdefault(new_name, definition)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    for path, operations in auth_paths.items():
        if path.startswith("/api/"):
            paths.setdefault(path, operations)
    merged["paths"] = dict(sorted(paths.items()))
    return merged


async def _auth_document(http: httpx.AsyncClient, auth_url: str) -> Document | None:
    try:
        response = await http.get(
            auth_url.rstrip("/") + AUTH_OPENAPI_PATH, timeout=FETCH_TIMEOUT_SECONDS
        )
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("openapi.auth_unavailable", error=repr(exc))
        return None
    return document if isinstance(document, dict) else None


def admin_operations(app: FastAPI) -> set[Operation]:
    """(method, path) of every gateway route whose guard is the admin role."""
    return {
        (method.lower(), str(context.path))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and route_guard(context.original_route.dependant) == "admin"
        for method in context.methods or ()
    }


@router.get(OPENAPI_URL, include_in_schema=False)
async def openapi_document(request: Request, settings: SettingsDep, http: HttpDep) -> JSONResponse:
    app: FastAPI = request.app
    own = with_setting_bounds(app.openapi(), settings)
    auth = await _auth_document(http, settings.auth_url)
    admin = admin_operations(app)
    if auth is None:
        document = copy.deepcopy(own)
        info = document.setdefault("info", {})
        info["description"] = (info.get("description") or "") + AUTH_MISSING_NOTE
        info["x-ticktide-incomplete"] = True
        return JSONResponse(document_errors(document, admin))
    proxied = [path for path in auth.get("paths") or {} if path.startswith("/api/")]
    return JSONResponse(document_errors(merge_documents(own, auth), admin, proxied))


@router.get(DOCS_URL, include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} - docs")
