"""The real mock backend for the http, webhooks and connections acceptance tests: a throwaway
Postgres per test module and a BackendServer per test (so each test can set its own limits)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from bench.stack.postgres import PostgresInfo, start_postgres, stop_postgres

DEV_TOKEN = "callbench-dev-token"  # BackendConfig's default api_token


@contextlib.contextmanager
def postgres() -> Iterator[PostgresInfo]:
    info = start_postgres(max_connections=40)
    try:
        yield info
    finally:
        stop_postgres(info.base_dir)


@contextlib.asynccontextmanager
async def backend(
    pg: PostgresInfo, upstream_url: str | None = None, **overrides: Any
) -> AsyncIterator[Any]:
    from mocks.backend.app import BackendServer
    from mocks.backend.config import BackendConfig

    config = BackendConfig(
        db_dsn=pg.dsn,
        upstream_url=upstream_url or "ws://127.0.0.1:9/v1/realtime",
        **overrides,
    )
    server = BackendServer(config)
    await server.start(host="127.0.0.1", port=0, admin_port=0)
    try:
        yield server
    finally:
        await server.close()
