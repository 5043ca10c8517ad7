"""Health probes for ``callbench status``: PID alive for every part, then an HTTP probe for the
mocks and Prometheus, and a real connect + ``SELECT 1`` for Postgres and PgBouncer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from bench.stack.processes import pid_alive
from bench.stack.services import http_ok
from bench.stack.state import PartState, PgBouncerState, PostgresState, StackState


@dataclass(frozen=True)
class PartHealth:
    name: str
    healthy: bool
    detail: str
    url: str | None
    pid: int | None


async def _select_one(dsn: str, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        # statement_cache_size=0: the same probe must work through PgBouncer's transaction mode.
        conn = await asyncpg.connect(dsn, statement_cache_size=0)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()


def pg_ok(dsn: str, timeout: float = 3.0) -> tuple[bool, str]:
    try:
        asyncio.run(_select_one(dsn, timeout))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return False, f"cannot connect: {exc or type(exc).__name__}"
    return True, "accepts connections"


def _http_targets(part: PartState) -> list[str]:
    if part.name == "prometheus":
        return [f"{part.urls['http']}/-/ready"] if "http" in part.urls else []
    if part.name == "realtime":
        return [f"{part.urls['admin']}/health"] if "admin" in part.urls else []
    if part.name == "backend":
        return [f"{part.urls[key]}/health/ready" for key in ("admin", "http") if key in part.urls]
    if part.name == "pg_exporter":
        return [part.urls["metrics"]] if "metrics" in part.urls else []
    return []


def probe(part: PartState) -> PartHealth:
    """How one part is doing now."""

    def result(healthy: bool, detail: str) -> PartHealth:
        return PartHealth(part.name, healthy, detail, part.url, part.pid)

    if part.pid is None or not pid_alive(part.pid):
        return result(False, f"process {part.pid} is not running")
    if isinstance(part, PostgresState):
        return result(*pg_ok(part.admin_dsn))
    if isinstance(part, PgBouncerState):
        return result(*pg_ok(part.dsn))
    targets = _http_targets(part)
    if targets and not any(http_ok(url) for url in targets):
        return result(False, f"{' or '.join(targets)} does not answer 200")
    return result(True, "healthy")


def probe_all(state: StackState) -> list[PartHealth]:
    return [probe(part) for part in state.parts()]
