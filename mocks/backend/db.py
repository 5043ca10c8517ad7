"""The backend's Postgres side: one asyncpg pool (recreated when a pool knob changes), the schema
(created on start with IF NOT EXISTS, seeded with a few customers), the call log, and the mapping
of every database failure to a kind the metrics count: ``too_many_connections`` (SQLSTATE 53300,
Postgres itself refused), ``acquire_timeout`` (the pool had nothing to give in time), ``other``.

The ``leak_db_connections`` bug lives here: a leaked connection is acquired and never released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from mocks.backend.config import BackendConfig
from mocks.backend.metrics import BackendMetrics

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = PoolConnectionProxy[asyncpg.Record]

log = logging.getLogger(__name__)

TOO_MANY_CONNECTIONS = "53300"
# Serialises schema creation between backends sharing one database (CREATE ... IF NOT EXISTS
# still races on the catalogs).
SCHEMA_LOCK_KEY = 7_342_001

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS appointments (
    id SERIAL PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    service TEXT NOT NULL DEFAULT 'consultation',
    day TEXT NOT NULL,
    slot TEXT NOT NULL,
    session_id TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS appointments_day ON appointments (day);
CREATE TABLE IF NOT EXISTS call_sessions (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at TIMESTAMPTZ,
    outcome TEXT,
    turns INTEGER NOT NULL DEFAULT 0
);
INSERT INTO customers (name, phone) VALUES
    ('Ada Lovelace', '+15550100001'),
    ('Alan Turing', '+15550100002'),
    ('Grace Hopper', '+15550100003'),
    ('Edsger Dijkstra', '+15550100004'),
    ('Barbara Liskov', '+15550100005')
ON CONFLICT (phone) DO NOTHING;
"""


class DbUnavailable(Exception):
    """The database could not serve a request; ``kind`` is the metric label."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"database unavailable ({kind}): {detail}")


def classify(exc: BaseException) -> str:
    if getattr(exc, "sqlstate", None) == TOO_MANY_CONNECTIONS:
        return "too_many_connections"
    if isinstance(exc, TimeoutError):
        return "acquire_timeout"
    return "other"


DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


class Database:
    """The pool and everything that talks through it."""

    def __init__(self, config: BackendConfig, metrics: BackendMetrics) -> None:
        self._config = config
        self._metrics = metrics
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._leaked: list[tuple[asyncpg.Pool, Conn]] = []
        self._schema_ready = False

    @property
    def config(self) -> BackendConfig:
        return self._config

    def stats(self) -> tuple[int, int, int]:
        """(size, idle, waiting) of the current pool."""
        pool = self._pool
        if pool is None:
            return (0, 0, self._waiting)
        return (pool.get_size(), pool.get_idle_size(), self._waiting)

    async def ensure_pool(self) -> asyncpg.Pool:
        """The pool, created (with the schema) on first use; raises DbUnavailable."""
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                self._pool = await self._create_pool(self._config)
            return self._pool

    async def _create_pool(self, config: BackendConfig) -> asyncpg.Pool:
        try:
            pool = await asyncpg.create_pool(
                config.db_dsn,
                min_size=config.db_pool_min,
                max_size=config.db_pool_max,
                statement_cache_size=config.db_statement_cache_size,
                timeout=config.db_acquire_timeout_s,
            )
        except DB_ERRORS as exc:
            kind = classify(exc)
            self._metrics.db_errors_total.labels(kind=kind).inc()
            raise DbUnavailable(kind, str(exc) or type(exc).__name__) from exc
        if not self._schema_ready:
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
                    await conn.execute(SCHEMA)
                self._schema_ready = True
            except DB_ERRORS as exc:
                pool.terminate()
                kind = classify(exc)
                self._metrics.db_errors_total.labels(kind=kind).inc()
                raise DbUnavailable(kind, str(exc) or type(exc).__name__) from exc
        return pool

    async def reconfigure(self, config: BackendConfig) -> None:
        """Adopt ``config``; a change to a pool knob replaces the pool (lazily re-created)."""
        old_config, self._config = self._config, config
        if any(getattr(old_config, f) != getattr(config, f) for f in _pool_fields()):
            async with self._lock:
                old, self._pool = self._pool, None
                if config.db_dsn != old_config.db_dsn:
                    self._schema_ready = False
            if old is not None:
                await _close_pool(old)
            self._leaked = [(p, c) for p, c in self._leaked if p is not old]

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A pooled connection; every failure becomes DbUnavailable (and is counted)."""
        self._waiting += 1
        try:
            pool = await self.ensure_pool()
            conn: Conn = await pool.acquire(timeout=self._config.db_acquire_timeout_s)
        except DbUnavailable:
            raise
        except DB_ERRORS as exc:
            kind = classify(exc)
            self._metrics.db_errors_total.labels(kind=kind).inc()
            raise DbUnavailable(kind, str(exc) or type(exc).__name__) from exc
        finally:
            self._waiting -= 1
        leak = self._config.leak_db_connections
        try:
            yield conn
        except DB_ERRORS as exc:
            kind = classify(exc)
            self._metrics.db_errors_total.labels(kind=kind).inc()
            raise DbUnavailable(kind, str(exc) or type(exc).__name__) from exc
        finally:
            if leak:
                # The bug: the connection is kept out of the pool forever.
                self._leaked.append((pool, conn))
            else:
                await pool.release(conn)

    async def ping(self) -> bool:
        try:
            async with self.connection() as conn:
                await conn.fetchval("SELECT 1")
        except DbUnavailable:
            return False
        return True

    async def release_leaks(self) -> None:
        leaked, self._leaked = self._leaked, []
        for pool, conn in leaked:
            with contextlib.suppress(*DB_ERRORS, asyncpg.InterfaceError):
                await pool.release(conn)

    async def close(self) -> None:
        self._leaked = []
        pool, self._pool = self._pool, None
        if pool is not None:
            await _close_pool(pool)

    # -- the call log -------------------------------------------------------------------------

    async def call_started(self, session_id: str, protocol: str) -> int:
        async with self.connection() as conn:
            row_id = await conn.fetchval(
                "INSERT INTO call_sessions (session_id, protocol) VALUES ($1, $2) RETURNING id",
                session_id,
                protocol,
            )
        return int(row_id)

    async def call_ended(self, row_id: int, outcome: str, turns: int) -> None:
        async with self.connection() as conn:
            await conn.execute(
                "UPDATE call_sessions SET ended_at = now(), outcome = $2, turns = $3 WHERE id = $1",
                row_id,
                outcome,
                turns,
            )

    async def call_logs(self, page: int, per_page: int) -> tuple[int, list[dict[str, Any]]]:
        async with self.connection() as conn:
            total = await conn.fetchval("SELECT count(*) FROM call_sessions")
            rows = await conn.fetch(
                "SELECT id, session_id, protocol, started_at, ended_at, outcome, turns "
                "FROM call_sessions ORDER BY id DESC LIMIT $1 OFFSET $2",
                per_page,
                (page - 1) * per_page,
            )
        return int(total), [_jsonable(dict(row)) for row in rows]


def _pool_fields() -> tuple[str, ...]:
    return ("db_dsn", "db_pool_min", "db_pool_max", "db_statement_cache_size")


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


async def _close_pool(pool: asyncpg.Pool) -> None:
    """Close gracefully, but never wait on connections that are never coming back (leaks)."""
    try:
        await asyncio.wait_for(pool.close(), timeout=2.0)
    except DB_ERRORS:
        pool.terminate()
