"""`/forbidden`: the page the gateway shows, with status 403, to a signed-in
user who asked for a page of a role they do not have."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ticktide_web.deps import PageDep

router = APIRouter()


@router.get("/forbidden")
async def forbidden(page: PageDep) -> Response:
    return page.render(
        "forbidden.html", title="Forbidden", status_code=403, heading="Forbidden", message=""
    )
