"""Postgres capped at 20 connections with PgBouncer (transaction mode) in front: 30 concurrent
clients through PgBouncer all succeed, while 30 direct ones hit the cap (SQLSTATE 53300)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from bench.stack.pgbouncer import PgBouncerInfo, render_config, start_pgbouncer
from bench.stack.postgres import PostgresInfo, start_postgres, stop_postgres
from bench.stack.processes import has_binary, pid_alive, stop_pid

pytestmark = [
    pytest.mark.skipif(not has_binary("pgbouncer"), reason="pgbouncer not installed"),
    pytest.mark.timeout(60),
]

CLIENTS = 30


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresInfo]:
    info = start_postgres(max_connections=20)
    try:
        yield info
    finally:
        stop_postgres(info.base_dir)
    assert not Path(info.base_dir).exists()


@pytest.fixture(scope="module")
def pgbouncer(
    postgres: PostgresInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PgBouncerInfo]:
    log = tmp_path_factory.mktemp("pgbouncer") / "pgbouncer.log"
    info = start_pgbouncer(postgres, log, pool_size=10)
    try:
        yield info
    finally:
        assert stop_pid(info.pid)
    assert not pid_alive(info.pid)


async def _sleep_once(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, statement_cache_size=0, timeout=20)
    try:
        await conn.execute("SELECT pg_sleep(0.05)")
    finally:
        await conn.close()


def test_config_is_transaction_mode_below_the_cap() -> None:
    text = render_config(
        pg_port=5432, port=6432, auth_file=Path("/x"), pool_size=10, max_client_conn=1000
    )
    assert "pool_mode = transaction" in text
    assert "default_pool_size = 10" in text
    assert "max_db_connections = 10" in text
    assert "listen_addr = 127.0.0.1" in text


async def test_many_clients_through_pgbouncer_succeed(pgbouncer: PgBouncerInfo) -> None:
    results = await asyncio.gather(
        *(_sleep_once(pgbouncer.dsn) for _ in range(CLIENTS)), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []


async def test_many_clients_direct_hit_the_cap(postgres: PostgresInfo) -> None:
    async def hold() -> asyncpg.Connection:
        return await asyncpg.connect(postgres.dsn, timeout=20)

    results = await asyncio.gather(*(hold() for _ in range(CLIENTS)), return_exceptions=True)
    try:
        refused = [r for r in results if isinstance(r, asyncpg.TooManyConnectionsError)]
        others = [
            r
            for r in results
            if isinstance(r, BaseException) and not isinstance(r, asyncpg.TooManyConnectionsError)
        ]
        assert others == []
        # 20 slots, 3 reserved for superusers: the application role gets 17 at most.
        assert len(refused) >= CLIENTS - 17
        assert all(r.sqlstate == "53300" for r in refused)
    finally:
        await asyncio.gather(
            *(r.close() for r in results if isinstance(r, asyncpg.Connection)),
        )
