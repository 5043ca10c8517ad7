"""The backend's HTTP side against a real Postgres: health, readiness, pool stats, call logs,
bearer auth, rate limits, metrics, the admin API, and Twilio-signed webhooks."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bench.stack.postgres import PostgresInfo
from mocks.backend.calls import burn_cpu
from mocks.backend.twilio_signature import compute_signature
from tests.mocks.backend.backend_helpers import BackendFactory

TOKEN = "callbench-dev-token"


async def test_health_ready_and_pool_stats(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{backend.url}/health") as r:
            assert r.status == 200
        async with http.get(f"{backend.url}/health/ready") as r:
            assert (r.status, await r.json()) == (200, {"status": "ready", "database": "connected"})
        async with http.get(f"{backend.url}/healthz") as r:
            stats = (await r.json())["poolStats"]
            assert set(stats) == {"total", "idle", "waiting"}
            assert stats["total"] >= 1
        async with http.get(f"{backend.url}/debug/memory") as r:
            memory = await r.json()
            assert memory["rss_mb"] > 10
            assert memory["vms_mb"] >= memory["rss_mb"]
        async with http.get(f"{backend.url}/") as r:
            assert r.status == 200


async def test_ready_is_503_without_a_database(make_backend: BackendFactory) -> None:
    # Port 1 on loopback: nothing listens there, so every connection is refused.
    backend = await make_backend(db_dsn="postgresql://x:y@127.0.0.1:1/none", db_pool_min=0)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{backend.url}/health/ready") as r:
            assert r.status == 503
            assert (await r.json())["database"] == "unavailable"
        async with http.get(f"{backend.url}/api/call-logs") as r:
            body = await r.json()
            assert (r.status, body) == (503, {"error": "db_unavailable"})  # no trace by default
        async with http.get(f"{backend.admin_url}/metrics") as r:
            assert 'callbench_backend_db_errors_total{kind="other"}' in await r.text()


async def test_stack_traces_only_with_the_knob(make_backend: BackendFactory) -> None:
    backend = await make_backend(
        db_dsn="postgresql://x:y@127.0.0.1:1/none", db_pool_min=0, expose_stack_traces=True
    )
    async with aiohttp.ClientSession() as http, http.get(f"{backend.url}/api/call-logs") as r:
        body = await r.json()
        assert r.status == 503
        assert "Traceback" in body["trace"]


async def test_call_logs_pages(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    for i in range(3):
        row = await backend.state.db.call_started(f"page-test-{i}", "native")
        await backend.state.db.call_ended(row, "completed", 2)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{backend.url}/api/call-logs?page=1") as r:
            body = await r.json()
            assert r.status == 200
            assert body["total"] >= 3
            assert body["calls"][0]["outcome"] == "completed"
        async with http.get(f"{backend.url}/api/call-logs?page=0") as r:
            assert r.status == 400


async def test_bearer_auth(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    good = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        for path in ("/api/assistants", "/api/calls-dashboard"):
            async with http.get(f"{backend.url}{path}") as r:
                assert r.status == 401
            async with http.get(f"{backend.url}{path}", headers=good) as r:
                assert r.status == 200
        async with http.get(f"{backend.url}/api/vapi/webhook/health") as r:
            assert r.status == 200


async def test_rate_limits_answer_429_with_retry_after(make_backend: BackendFactory) -> None:
    backend = await make_backend(api_rate_per_min=5, auth_rate_per_15min=2)
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(7):
            async with http.get(f"{backend.url}/api/vapi/webhook/health") as r:
                statuses.append(r.status)
                retry_after = r.headers.get("Retry-After")
        assert statuses == [200] * 5 + [429] * 2
        assert retry_after is not None
        assert 1 <= int(retry_after) <= 60
        logins = []
        for _ in range(3):
            async with http.post(f"{backend.url}/api/auth/login", json={"token": "x"}) as r:
                logins.append(r.status)
        assert logins == [401, 401, 429]
        async with http.get(f"{backend.url}/health") as r:  # health is never limited
            assert r.status == 200
        async with http.get(f"{backend.admin_url}/metrics") as r:
            text = await r.text()
        assert 'endpoint="/api/vapi/webhook/health",status="429"' in text


async def test_admin_config_validates_and_applies(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    async with aiohttp.ClientSession() as http:
        bad = {"db_pool_max": -1, "upstream_retries": "maybe", "nope": True}
        async with http.put(f"{backend.admin_url}/admin/config", json=bad) as r:
            assert r.status == 400
            assert len((await r.json())["errors"]) == 3
        async with http.put(f"{backend.admin_url}/admin/config", json={"db_pool_max": 4}) as r:
            assert r.status == 200
        async with http.get(f"{backend.admin_url}/admin/config") as r:
            assert (await r.json())["db_pool_max"] == 4
        assert backend.config.db_pool_max == 4
        async with http.get(f"{backend.url}/health/ready") as r:  # the new pool works
            assert r.status == 200
        async with http.post(f"{backend.admin_url}/admin/reset") as r:
            assert (await r.json())["db_pool_max"] == 10


@pytest.mark.parametrize("path", ["/api/voice/conference-events", "/api/voice/recording-status"])
async def test_twilio_signed_webhooks(make_backend: BackendFactory, path: str) -> None:
    backend = await make_backend(twilio_auth_token="secret-token")
    url = f"{backend.url}{path}"
    params = {"ConferenceSid": "CF123", "StatusCallbackEvent": "join", "RecordingSid": "RE1"}
    signature = compute_signature("secret-token", url, params.items())
    async with aiohttp.ClientSession() as http:
        headers = {"X-Twilio-Signature": signature}
        async with http.post(url, data=params, headers=headers) as r:
            assert r.status == 200
        tampered = {**params, "ConferenceSid": "CF999"}
        async with http.post(url, data=tampered, headers=headers) as r:
            assert r.status == 403
        async with http.post(url, data=params) as r:
            assert r.status == 403


async def test_webhooks_unsigned_when_no_token(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{backend.url}/api/voice/recording-status", data={"RecordingSid": "RE1"}) as r,
    ):
        assert r.status == 200


async def test_pool_knob_change_recreates_pool(
    make_backend: BackendFactory, postgres: PostgresInfo
) -> None:
    backend = await make_backend(db_pool_min=1)
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{backend.admin_url}/admin/config", json={"db_pool_min": 3}) as r:
            assert r.status == 200
        async with http.get(f"{backend.url}/health/ready") as r:
            assert r.status == 200
        async with http.get(f"{backend.url}/healthz") as r:
            assert (await r.json())["poolStats"]["total"] >= 3


async def test_a_blocked_loop_shows_in_the_lag_histogram(make_backend: BackendFactory) -> None:
    from generator.monitor.prometheus import parse_metrics, quantile

    backend = await make_backend()

    async def lag_buckets(http: aiohttp.ClientSession) -> dict[float, float]:
        async with http.get(f"{backend.admin_url}/metrics") as r:
            _, histograms = parse_metrics(await r.text())
        return histograms["loop_lag_p95_ms"]

    async with aiohttp.ClientSession() as http:
        deadline = asyncio.get_running_loop().time() + 10
        while (await lag_buckets(http)).get(float("inf"), 0) < 3:  # a few quiet ticks first
            assert asyncio.get_running_loop().time() < deadline, "the lag watcher never ticked"
            await asyncio.sleep(0.05)
        quiet = quantile(await lag_buckets(http), 0.95)
        assert quiet is not None
        assert quiet < 0.1
        for _ in range(3):
            burn_cpu(300)  # 300 ms of CPU on the loop: what the cpu_burn knob does per frame
            await asyncio.sleep(0.06)  # let the watcher run and record it
        buckets = await lag_buckets(http)
        late = buckets[float("inf")] - buckets[0.25]
        assert late >= 3  # each blocked stretch seen as >= 250 ms late
