"""The backtest pages: `/backtests` (form, live batch, the user's batches:
form_page), `/backtests/<id>` (a batch: batch_page), and a result in detail
or several compared (result_page); what they share is in views and form."""

from __future__ import annotations

from fastapi import APIRouter

from ticktide_web.pages.backtests import batch_page, form_page, result_page

__all__ = ["router"]

router = APIRouter()
router.include_router(form_page.router)
router.include_router(batch_page.router)
router.include_router(result_page.router)
