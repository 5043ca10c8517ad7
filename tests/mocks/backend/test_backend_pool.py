"""Pool exhaustion for real: a pool of 50 against Postgres max_connections=20 (17 for a normal
role) meets SQLSTATE 53300 under 30 concurrent tool-calling calls; a pool of 10 never does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.mocks.backend.backend_helpers import BackendFactory, metric_value, native_call

pytestmark = pytest.mark.timeout(90)

TOO_MANY = 'callbench_backend_db_errors_total{kind="too_many_connections"}'
CALLS = 30


async def test_oversized_pool_hits_too_many_connections(
    make_backend: BackendFactory, upstream: Any
) -> None:
    backend = await make_backend(upstream_url=upstream.url, db_pool_min=1, db_pool_max=50)
    results = await asyncio.gather(
        *(native_call(backend.ws_url, f"pool50-{i}", turns=2) for i in range(CALLS))
    )
    errors = [r.error for r in results if r.error is not None]
    assert "db_unavailable" in errors
    assert set(errors) <= {"db_unavailable"}
    assert await metric_value(f"{backend.admin_url}/metrics", TOO_MANY) >= 1


async def test_pool_of_ten_never_meets_the_cap(make_backend: BackendFactory, upstream: Any) -> None:
    backend = await make_backend(upstream_url=upstream.url, db_pool_min=1, db_pool_max=10)
    results = await asyncio.gather(
        *(native_call(backend.ws_url, f"pool10-{i}", turns=2) for i in range(CALLS))
    )
    assert [r.error for r in results if r.error] == []
    assert all(r.tool_calls == 2 for r in results)
    assert await metric_value(f"{backend.admin_url}/metrics", TOO_MANY) == 0
