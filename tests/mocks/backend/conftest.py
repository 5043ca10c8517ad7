"""Fixtures for the mock backend's tests: one real Postgres for the session (max_connections=20,
as the pool-exhaustion drill needs), backends started on port 0, and the fake Realtime upstream.
The protocol clients and other helpers live in ``backend_helpers``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bench.stack.postgres import PostgresInfo, start_postgres, stop_postgres
from mocks.backend.app import BackendServer
from mocks.backend.config import BackendConfig
from mocks.realtime.server import RealtimeServer
from tests.mocks.backend.backend_helpers import BackendFactory


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresInfo]:
    info = start_postgres(max_connections=20)
    try:
        yield info
    finally:
        stop_postgres(info.base_dir)


@pytest.fixture
async def upstream() -> AsyncIterator[Any]:
    """The fake Realtime upstream (engineer A's), with short audio to keep calls quick."""
    async with RealtimeServer(seed=1, greeting_ms=200, answer_ms=300) as server:
        yield server


@pytest.fixture
async def make_backend(postgres: PostgresInfo) -> AsyncIterator[BackendFactory]:
    """Start backends with knobs (pointed at the session's Postgres); all closed afterwards."""
    started: list[BackendServer] = []

    async def make(**knobs: Any) -> BackendServer:
        knobs.setdefault("db_dsn", postgres.dsn)
        knobs.setdefault("db_pool_min", 1)
        server = BackendServer(BackendConfig(**knobs))
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.close()
