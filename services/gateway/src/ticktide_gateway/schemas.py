"""The base of the gateway's response models.

`additionalProperties: false` in the document: an answer carrying a field its
model does not name fails schemathesis' response-schema check (tests/api), so a
model cannot silently fall behind what a pre-built body holds. Building a model
still ignores what it does not name (routes build them from whole rows), and what
FastAPI serializes of it is its fields only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ResponseModel"]


class ResponseModel(BaseModel):
    """A response body: exactly these fields."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False})
