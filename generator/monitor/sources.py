"""What the monitor probes, one class per source. Each has a `name`, a `role` (`backend`,
`upstream`, `db`, `process`) and `async sample() -> dict` of flat keys; a source that cannot be
read raises `SourceDown`, which the monitor records (a backend that stops answering is evidence).

    MetricsSource   GET a Prometheus /metrics URL (backend or upstream admin) → prometheus.py keys
    HealthSource    GET /healthz → poolStats {total, idle, waiting} and activeCalls
    MemorySource    GET /debug/memory → rss_mb
    PostgresSource  pg_stat_activity through a DSN (asyncpg): connections to the app's database
                    (total, active, idle), every client connection, max_connections and the
                    slots reserved for superusers
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import asyncpg

from generator.monitor.prometheus import CpuFromCounter, HistogramWindow, parse_metrics


class SourceDown(Exception):
    """A source did not answer (connection refused, timeout, bad status or body); ``timeout``
    says it was slow rather than gone (a busy target, not necessarily a crashed one)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


async def get_text(session: aiohttp.ClientSession, url: str) -> str:
    try:
        async with session.get(url) as response:
            body = await response.text()
            if response.status != 200:
                raise SourceDown(f"{url}: HTTP {response.status}")
            return body
    except TimeoutError:
        raise SourceDown(f"{url}: no answer in time", timeout=True) from None
    except (aiohttp.ClientError, UnicodeDecodeError) as exc:
        raise SourceDown(f"{url}: {exc!r}") from None


async def get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    text = await get_text(session, url)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise SourceDown(f"{url}: not JSON") from None
    if not isinstance(data, dict):
        raise SourceDown(f"{url}: not a JSON object")
    return data


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class MetricsSource:
    def __init__(self, session: aiohttp.ClientSession, url: str, role: str = "backend") -> None:
        self.name = f"metrics {url}"
        self.role = role
        self.url = url
        self._session = session
        self._window = HistogramWindow()
        self._cpu = CpuFromCounter()

    async def sample(self) -> dict[str, Any]:
        text = await get_text(self._session, self.url)
        try:
            values, histograms = parse_metrics(text)
        except ValueError as exc:
            raise SourceDown(f"{self.url}: not Prometheus text ({exc})") from None
        out: dict[str, Any] = dict(values)
        out.update(self._window.p95_ms(histograms))
        process_rss = out.pop("process_rss_bytes", None)
        if "rss_bytes" not in out and process_rss is not None:
            out["rss_bytes"] = process_rss
        cpu_seconds = out.pop("process_cpu_seconds_total", None)
        if cpu_seconds is not None:
            cpu = self._cpu.percent(cpu_seconds, time.monotonic())
            if cpu is not None:
                out["cpu_percent"] = cpu
        return out

    async def close(self) -> None:
        return None


class HealthSource:
    role = "backend"

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.name = f"health {url}"
        self.url = url
        self._session = session

    async def sample(self) -> dict[str, Any]:
        data = await get_json(self._session, self.url)
        out: dict[str, Any] = {}
        stats = data.get("poolStats")
        if isinstance(stats, dict):
            for field, key in (
                ("total", "pool_size"),
                ("idle", "pool_idle"),
                ("waiting", "pool_waiting"),
            ):
                value = _number(stats.get(field))
                if value is not None:
                    out[key] = value
        active = _number(data.get("activeCalls"))
        if active is not None:
            out["active_calls"] = active
        return out

    async def close(self) -> None:
        return None


class MemorySource:
    role = "backend"

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.name = f"memory {url}"
        self.url = url
        self._session = session

    async def sample(self) -> dict[str, Any]:
        data = await get_json(self._session, self.url)
        rss_mb = _number(data.get("rss_mb"))
        return {} if rss_mb is None else {"rss_bytes": int(rss_mb * 2**20)}

    async def close(self) -> None:
        return None


# The seed's queries, in one round trip; the monitor's own connection is left out.
ACTIVITY_SQL = """
SELECT count(*) FILTER (WHERE datname = current_database()) AS total,
       count(*) FILTER (WHERE datname = current_database() AND state = 'active') AS active,
       count(*) FILTER (WHERE datname = current_database() AND state LIKE 'idle%') AS idle,
       count(*) FILTER (WHERE backend_type = 'client backend') AS cluster_total
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
"""


class PostgresSource:
    """One long-lived connection (reopened after a failure). Use a superuser DSN: it may take a
    reserved slot, so it still answers while the application's role is refused at the cap."""

    role = "db"

    def __init__(self, dsn: str, timeout_s: float = 2.0) -> None:
        self.name = "postgres"
        self.dsn = dsn
        self.timeout_s = timeout_s
        self._conn: asyncpg.Connection | None = None
        self._limits: dict[str, float] = {}

    async def _connect(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            conn = await asyncpg.connect(self.dsn, timeout=self.timeout_s)
            max_conn = await conn.fetchval("SHOW max_connections")
            reserved = await conn.fetchval("SHOW superuser_reserved_connections")
            self._limits = {
                "pg_max_connections": float(max_conn),
                "pg_reserved_connections": float(reserved),
            }
            self._conn = conn
        return self._conn

    async def sample(self) -> dict[str, Any]:
        try:
            conn = await self._connect()
            row = await conn.fetchrow(ACTIVITY_SQL, timeout=self.timeout_s)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self.close()
            raise SourceDown(f"postgres: {exc!r}") from None
        assert row is not None
        return {
            "db_up": True,
            "pg_total": row["total"],
            "pg_active": row["active"],
            "pg_idle": row["idle"],
            "pg_cluster_total": row["cluster_total"],
            **self._limits,
        }

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=self.timeout_s)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()
