"""Every backtest route documents its answer: a model for JSON, text/event-stream for
the SSE routes; the models take the bodies as the routes build them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from ticktide_common.backtests.catalogue import strategy_schemas
from ticktide_gateway.backtests.routes import router
from ticktide_gateway.backtests.schemas import (
    BatchCancelled,
    BatchStatus,
    BatchSubmitted,
    StrategyInfo,
)
from ticktide_gateway.backtests.submission import SubmittedBatch

SSE = {"/api/crypto/backtest/stream", "/api/crypto/backtest/batch/{batch_id}/events"}


def test_every_route_documents_its_answer() -> None:
    doc = get_openapi(title="t", version="1", routes=router.routes)
    operations = [(p, m, op) for p, ops in doc["paths"].items() for m, op in ops.items()]
    assert len(operations) == 8
    for path, method, operation in operations:
        ok = {k: v for k, v in operation["responses"].items() if k in ("200", "202")}
        assert len(ok) == 1, (method, path)
        [(_, answer)] = ok.items()
        content = answer["content"]
        if path in SSE:
            assert list(content) == ["text/event-stream"], path
        else:
            assert list(content) == ["application/json"], path
            assert content["application/json"]["schema"], (method, path)


def test_the_models_take_the_bodies_as_built() -> None:
    TypeAdapter(dict[str, StrategyInfo]).validate_python(strategy_schemas())
    batch_id = uuid.uuid4()
    BatchSubmitted.model_validate(SubmittedBatch(batch_id, 2, 10).body())
    BatchCancelled.model_validate({"batch_id": str(batch_id), "status": "cancelled"})
    now = datetime.now(UTC)
    BatchStatus.model_validate(
        {
            "batch_id": str(batch_id),
            "status": "done",
            "strategy": "sma_cross",
            "rank_by": "sharpe",
            "request": {"symbols": ["BTCUSDT"], "grid": {"fast": "5:10:5"}},
            "jobs": {"total": 1, "done": 1, "failed": 0, "skipped": 0},
            "backtests": 2,
            "created_at": now.isoformat(),
            "finished_at": now.isoformat(),
            "cancelled_at": None,
            "results": [
                {
                    "job_id": 0,
                    "symbol": "BTCUSDT",
                    "interval": "1h",
                    "params": {"fast": 5, "slow": 30},
                    "metrics": {"sharpe": None, "trades": 3},
                },
            ],  # fmt: skip
            "errors": [{"job_id": 1, "error": None}],
        }
    )
