"""The request body limit of the auth service: the generic middleware now lives in
`ticktide_common.body_limit` (the gateway uses it too); re-exported here for the
auth service's existing imports."""

from __future__ import annotations

from ticktide_common.body_limit import DRAIN_BYTES, BodyLimitMiddleware

__all__ = ["BodyLimitMiddleware", "DRAIN_BYTES"]
