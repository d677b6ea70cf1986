"""Every SQL statement of the strategy routes (and of the system strategies' seed);
all parameterised. A caller sees its own strategies and the system ones; anyone
else's private strategy is, to it, a strategy that does not exist.

`strategy_version` is the read the backtest routes use to run a saved version."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ticktide_gateway.strategies.service import (
    MAX_STRATEGIES_PER_USER,
    MAX_VERSIONS_PER_STRATEGY,
    CheckedVersion,
)

__all__ = [
    "Executor",
    "StoredVersion",
    "SavedVersion",
    "TooManyStrategies",
    "TooManyVersions",
    "save_version",
    "visible_strategies",
    "visible_strategy",
    "strategy_version",
    "ensure_system_strategies",
]

Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy

# Visible to user $1: its own, and the system strategies (owner NULL).
_VISIBLE = "(s.owner_id = $1 OR s.owner_id IS NULL)"


class TooManyStrategies(Exception):
    """The account already keeps MAX_STRATEGIES_PER_USER strategies."""


class TooManyVersions(Exception):
    """The strategy already has MAX_VERSIONS_PER_STRATEGY versions."""


@dataclass(frozen=True)
class SavedVersion:
    strategy_id: int
    version: int
    name: str


@dataclass(frozen=True)
class StoredVersion:
    """One saved version, with its strategy's identity; jsonb already decoded."""

    strategy_id: int
    version: int
    name: str
    visibility: str
    source: dict[str, Any]  # the document as it was sent
    canonical: dict[str, Any]
    shape_hash: str
    language: str
    created_at: datetime


def _stored(row: asyncpg.Record) -> StoredVersion:
    return StoredVersion(
        strategy_id=row["strategy_id"],
        version=row["version"],
        name=row["name"],
        visibility=row["visibility"],
        source=json.loads(row["source"]),
        canonical=json.loads(row["canonical"]),
        shape_hash=row["shape_hash"],
        language=row["language"],
        created_at=row["created_at"],
    )


async def _insert_version(
    conn: asyncpg.Connection | PoolConnectionProxy,
    strategy_id: int,
    version: int,
    checked: CheckedVersion,
) -> bool:
    """False when that version exists already (another gateway seeded it)."""
    status = await conn.execute(
        """INSERT INTO strategy_versions (strategy_id, version, source, canonical, shape_hash,
                                          language)
           VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6)
           ON CONFLICT (strategy_id, version) DO NOTHING""",
        strategy_id,
        version,
        json.dumps(checked.source),
        json.dumps(checked.canonical),
        checked.shape_hash,
        checked.language,
    )
    return bool(status == "INSERT 0 1")


async def save_version(
    pool: asyncpg.Pool, user_id: int, name: str, checked: CheckedVersion
) -> SavedVersion:
    """A new version of the caller's strategy `name` (version 1 of a new one).
    The account's row is locked first, so that concurrent saves of one user are
    counted and numbered one after the other (the bounds hold under races)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id)
        row = await conn.fetchrow(
            """SELECT s.id, coalesce(max(v.version), 0) AS latest
               FROM strategies s LEFT JOIN strategy_versions v ON v.strategy_id = s.id
               WHERE s.owner_id = $1 AND s.name = $2
               GROUP BY s.id""",
            user_id,
            name,
        )
        if row is None:
            owned = await conn.fetchval(
                "SELECT count(*) FROM strategies WHERE owner_id = $1", user_id
            )
            if owned >= MAX_STRATEGIES_PER_USER:
                raise TooManyStrategies
            strategy_id = await conn.fetchval(
                "INSERT INTO strategies (owner_id, name) VALUES ($1, $2) RETURNING id",
                user_id,
                name,
            )
            version = 1
        else:
            if row["latest"] >= MAX_VERSIONS_PER_STRATEGY:
                raise TooManyVersions
            strategy_id, version = row["id"], row["latest"] + 1
        await _insert_version(conn, strategy_id, version, checked)
    return SavedVersion(int(strategy_id), version, name)


async def visible_strategies(executor: Executor, user_id: int) -> list[asyncpg.Record]:
    """id, name, visibility, latest_version, created_at of each strategy user_id
    sees: the system ones, then its own, each by name."""
    return await executor.fetch(
        f"""SELECT s.id, s.name, s.visibility, s.created_at, v.latest_version
            FROM strategies s
            JOIN LATERAL (
                SELECT max(version) AS latest_version FROM strategy_versions
                WHERE strategy_id = s.id
            ) v ON v.latest_version IS NOT NULL
            WHERE {_VISIBLE}
            ORDER BY s.owner_id IS NOT NULL, s.name, s.id""",  # noqa: S608 - constant
        user_id,
    )


async def visible_strategy(
    executor: Executor, user_id: int, strategy_id: int
) -> tuple[asyncpg.Record, list[StoredVersion]] | None:
    """The strategy (id, name, visibility) and its versions, oldest first; None
    when there is none or user_id may not see it."""
    rows = await executor.fetch(
        f"""SELECT s.id AS strategy_id, s.name, s.visibility, v.version, v.source::text,
                   v.canonical::text, v.shape_hash, v.language, v.created_at
            FROM strategies s JOIN strategy_versions v ON v.strategy_id = s.id
            WHERE s.id = $2 AND {_VISIBLE}
            ORDER BY v.version""",  # noqa: S608 - constant
        user_id,
        strategy_id,
    )
    if not rows:
        return None
    return rows[0], [_stored(row) for row in rows]


async def strategy_version(
    executor: Executor, user_id: int, strategy_id: int, version: int
) -> StoredVersion | None:
    """Version `version` of strategy `strategy_id` if user_id may run it (its own
    or a system strategy), else None (absent and not visible are the same)."""
    row = await executor.fetchrow(
        f"""SELECT s.id AS strategy_id, s.name, s.visibility, v.version, v.source::text,
                   v.canonical::text, v.shape_hash, v.language, v.created_at
            FROM strategies s JOIN strategy_versions v ON v.strategy_id = s.id
            WHERE s.id = $2 AND v.version = $3 AND {_VISIBLE}""",  # noqa: S608 - constant
        user_id,
        strategy_id,
        version,
    )
    return None if row is None else _stored(row)


async def ensure_system_strategies(
    pool: asyncpg.Pool, versions: Mapping[str, CheckedVersion]
) -> dict[str, int]:
    """Each system strategy as its document in code: created with version 1 when
    missing; a document that differs from the latest stored one (jsonb equality)
    becomes the next version; otherwise nothing. Safe to run from every gateway at
    once. Answers the versions added, by name."""
    added: dict[str, int] = {}
    async with pool.acquire() as conn:
        for name, checked in versions.items():
            async with conn.transaction():
                await conn.execute(
                    """INSERT INTO strategies (owner_id, name, visibility)
                       VALUES (NULL, $1, 'system')
                       ON CONFLICT (name) WHERE owner_id IS NULL DO NOTHING""",
                    name,
                )
                row = await conn.fetchrow(
                    """SELECT s.id, v.version, v.source = $2::jsonb AS same
                       FROM strategies s
                       LEFT JOIN LATERAL (
                           SELECT version, source FROM strategy_versions
                           WHERE strategy_id = s.id ORDER BY version DESC LIMIT 1
                       ) v ON true
                       WHERE s.owner_id IS NULL AND s.name = $1
                       FOR UPDATE OF s""",
                    name,
                    json.dumps(checked.source),
                )
                assert row is not None
                if row["same"]:
                    continue
                version = (row["version"] or 0) + 1
                if await _insert_version(conn, row["id"], version, checked):
                    added[name] = version
    return added
