"""The lifespan's typed state and the page dependencies: `PageDep` (a signed-in
user; otherwise the visitor is sent to /login and back) and `PublicPageDep`
(anyone; the user when there is one)."""

from __future__ import annotations

from typing import Annotated, TypedDict

import httpx
from fastapi import Depends, Request
from jinja2 import Environment

from ticktide_web.api import ApiSession
from ticktide_web.assets import AssetManifest
from ticktide_web.rendering import PageContext
from ticktide_web.settings import WebSettings

__all__ = ["WebState", "SignInRequired", "PageDep", "PublicPageDep", "SettingsDep"]


class WebState(TypedDict):
    settings: WebSettings
    http: httpx.AsyncClient
    env: Environment
    assets: AssetManifest


class SignInRequired(Exception):
    """The page needs a signed-in user and the request has none (or an ended session)."""


def _new_context(request: Request) -> PageContext:
    return PageContext(request, ApiSession(request.state.http, request), None, request.state.env)


async def signed_in_page(request: Request) -> PageContext:
    page = _new_context(request)
    page.me = await page.api.me()
    if page.me is None:
        raise SignInRequired
    request.state.page = page
    return page


async def public_page(request: Request) -> PageContext:
    page = _new_context(request)
    page.me = await page.api.me()
    request.state.page = page
    return page


async def get_settings(request: Request) -> WebSettings:
    return request.state.settings  # type: ignore[no-any-return]


PageDep = Annotated[PageContext, Depends(signed_in_page)]
PublicPageDep = Annotated[PageContext, Depends(public_page)]
SettingsDep = Annotated[WebSettings, Depends(get_settings)]
