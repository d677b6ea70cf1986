"""The auth service's OpenAPI document, with the bounds that come from settings.

A new password's length (PASSWORD_MIN_LENGTH..PASSWORD_MAX_LENGTH) and a
token's lifetime (at most API_TOKEN_MAX_DAYS) are configurable, so a request
schema cannot hold them: the fields carry a `schemas.SETTING_BOUND` mark, and
`declare_setting_bounds` replaces each mark with this deployment's values
before the document is served. The document then says what the policy checks
here, not what a default would be. Pure apart from `install_openapi`, which
only wires it into the app."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ticktide_auth.schemas import NEW_PASSWORD, SETTING_BOUND, TOKEN_DAYS, TOKEN_DAYS_LIMIT
from ticktide_auth.settings import AuthSettings

__all__ = ["setting_bounds", "declare_setting_bounds", "install_openapi"]


def setting_bounds(settings: AuthSettings) -> dict[str, dict[str, int]]:
    """The JSON Schema keywords each `SETTING_BOUND` mark stands for."""
    return {
        NEW_PASSWORD: {
            "minLength": max(0, settings.password_min_length),
            "maxLength": max(0, settings.password_max_length),
        },
        TOKEN_DAYS: {"minimum": 1, "maximum": min(settings.api_token_max_days, TOKEN_DAYS_LIMIT)},
    }


def declare_setting_bounds(document: Any, bounds: dict[str, dict[str, int]]) -> int:
    """Replace, in place, every marked schema's mark with its bounds; how many were
    marked. A mark without bounds is a KeyError: the document must not go out
    claiming less than is enforced."""
    marked = 0
    if isinstance(document, dict):
        name = document.pop(SETTING_BOUND, None)
        if name is not None:
            document.update(bounds[name])
            marked += 1
        for value in document.values():
            marked += declare_setting_bounds(value, bounds)
    elif isinstance(document, list):
        for value in document:
            marked += declare_setting_bounds(value, bounds)
    return marked


def install_openapi(app: FastAPI, settings: AuthSettings) -> None:
    """`app.openapi()` (and so its `openapi_url`) serves the document with the
    bounds of `settings`; it is built once, on first use."""
    generate = app.openapi
    bounds = setting_bounds(settings)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            declare_setting_bounds(document, bounds)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
