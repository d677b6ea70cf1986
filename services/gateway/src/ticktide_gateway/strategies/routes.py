"""User routes under `/api/strategies` (CONTRACT §2): validate a document, save it
as a new version, list the caller's strategies and the system ones, read one with
every version. Another user's private strategy answers 404, never 403: its
existence is not revealed. Every save is a new version, even when its document
is unchanged (a version is a record of what was saved, and when)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from fastapi.responses import JSONResponse

from ticktide_common.rules import RuleErrors
from ticktide_gateway.auth import CurrentPrincipal, GuardedRoute, current_principal
from ticktide_gateway.deps import PoolDep
from ticktide_gateway.strategies import repository
from ticktide_gateway.strategies.schemas import (
    Rejected,
    Saved,
    SaveRequest,
    StrategyDetail,
    StrategyId,
    StrategyList,
    Validated,
    ValidateRequest,
)
from ticktide_gateway.strategies.service import (
    MAX_STRATEGIES_PER_USER,
    MAX_VERSIONS_PER_STRATEGY,
    check_strategy,
    rejection_body,
)

__all__ = ["router"]

router = APIRouter(
    prefix="/api/strategies",
    tags=["strategies"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

REJECTED: dict[int | str, dict[str, Any]] = {
    422: {
        "model": Rejected,
        "description": "a rejected document: each problem with its code, the document key "
        "(`field`), its position in that key's expression (`span`) and a hint; or a "
        "malformed request (not JSON, a wrong type, a bad name)",
    }
}
LIMITS: dict[int | str, dict[str, Any]] = {
    409: {
        "description": f"the account keeps {MAX_STRATEGIES_PER_USER} strategies already, or "
        f"this strategy has {MAX_VERSIONS_PER_STRATEGY} versions already"
    }
}


@router.post(
    "/validate",
    summary="Check a strategy document without saving it",
    response_model=Validated,
    responses=REJECTED,
)
async def validate(body: ValidateRequest) -> Any:
    try:
        _, version = check_strategy(body.document)
    except RuleErrors as exc:
        return JSONResponse(rejection_body(exc), status_code=422)
    return {
        "valid": True,
        "canonical": version.canonical,
        "shape_hash": version.shape_hash,
        "params": version.canonical["params"],
    }


@router.post(
    "",
    status_code=201,
    summary="Save a strategy document as the next version of the caller's strategy `name`",
    response_model=Saved,
    responses={**REJECTED, **LIMITS},
)
async def save(
    body: SaveRequest, principal: CurrentPrincipal, pool: PoolDep, response: Response
) -> Any:
    """A new name is version 1; saving the same name again adds a version."""
    try:
        _, version = check_strategy(body.document)
    except RuleErrors as exc:
        return JSONResponse(rejection_body(exc), status_code=422)
    try:
        saved = await repository.save_version(pool, principal.user_id, body.name, version)
    except repository.TooManyStrategies:
        raise HTTPException(
            409,
            f"an account keeps at most {MAX_STRATEGIES_PER_USER} strategies; "
            "save a new version of an existing one instead",
        ) from None
    except repository.TooManyVersions:
        raise HTTPException(
            409,
            f"a strategy has at most {MAX_VERSIONS_PER_STRATEGY} versions; "
            "save under a new name instead",
        ) from None
    response.headers["Location"] = f"{router.prefix}/{saved.strategy_id}"
    return {"id": saved.strategy_id, "version": saved.version, "name": saved.name}


@router.get(
    "",
    summary="The system strategies and the caller's own",
    response_model=StrategyList,
)
async def list_strategies(principal: CurrentPrincipal, pool: PoolDep) -> Any:
    rows = await repository.visible_strategies(pool, principal.user_id)
    return {"strategies": [dict(row) for row in rows]}


# `:int`, so that /validate is never taken for an id (its Allow header says POST only).
@router.get(
    "/{strategy_id:int}",
    summary="One strategy with every version, oldest first",
    response_model=StrategyDetail,
)
async def strategy(
    strategy_id: Annotated[StrategyId, Path()], principal: CurrentPrincipal, pool: PoolDep
) -> Any:
    found = await repository.visible_strategy(pool, principal.user_id, strategy_id)
    if found is None:
        raise HTTPException(404, f"no strategy {strategy_id}")
    head, versions = found
    return {
        "id": head["strategy_id"],
        "name": head["name"],
        "visibility": head["visibility"],
        "versions": [
            {
                "version": v.version,
                "document": v.source,
                "canonical": v.canonical,
                "shape_hash": v.shape_hash,
                "language": v.language,
                "created_at": v.created_at,
            }
            for v in versions
        ],
    }
