"""The HTTP mix workload against a small real aiohttp app on 127.0.0.1: the seeded weighted mix,
statuses and transport errors, the bearer token (sent, never recorded), the health checks. Every
test runs with each client (the lean HTTP/1.1 one and aiohttp's): they must record alike."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from generator.errors import InvalidInput, TargetUnreachable
from generator.options import RunOptions
from generator.runner import Runner
from generator.scenario import scenario_from_dict
from generator.workloads.endpoints import parse_endpoints
from generator.workloads.http import HttpConfig, HttpWorkload
from tests.generator.workloads.fake_store import RecordingStore, make_ctx
from tests.support.ports import closed_port

TOKEN = "s3cret-token-value-0123456789"


class App:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.auth: list[str | None] = []
        self.forms: list[dict[str, str]] = []
        self.url = ""
        self.client = "fast"

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] += 1
        if name == "secure":
            self.auth.append(request.headers.get("Authorization"))
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return web.Response(status=401)
        if name == "form":
            self.forms.append(dict(await request.post()))
        if name == "broken":
            return web.Response(status=500)
        if name == "slow":
            await asyncio.sleep(1.0)
        return web.Response(text="ok")

    async def health(self, request: web.Request) -> web.Response:
        self.hits["health"] += 1
        return web.Response(text="ok")


@pytest.fixture(params=["fast", "aiohttp"])
def client(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(client: str) -> AsyncIterator[App]:
    state = App()
    application = web.Application()
    application.router.add_get("/health", state.health)
    application.router.add_route("*", "/e/{name}", state.handle)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}"
    state.client = client
    yield state
    await runner.cleanup()


def _config(app: App, endpoints: list[dict[str, object]], **extra: object) -> HttpConfig:
    return HttpConfig.model_validate(
        {
            "base_url": app.url,
            "endpoints": parse_endpoints(endpoints, "test"),
            "client": app.client,
            **extra,
        }
    )


async def _run(workload: HttpWorkload, store: RecordingStore, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    await workload.setup()
    try:
        for i in range(n):
            await workload.iteration(make_ctx(store, iteration=i, start=time.monotonic(), rng=rng))
    finally:
        await workload.teardown()


async def test_seeded_weighted_mix_follows_the_weights(app: App) -> None:
    endpoints = [
        {"name": "heavy", "path": "/e/heavy", "weight": 3},
        {"name": "light", "path": "/e/light", "weight": 1},
    ]
    first, second = RecordingStore(), RecordingStore()
    await _run(HttpWorkload(_config(app, endpoints)), first, 400, seed=42)
    await _run(HttpWorkload(_config(app, endpoints)), second, 400, seed=42)
    share = first.total("http_reqs", endpoint="heavy") / 400
    assert 0.68 <= share <= 0.82
    assert app.hits["heavy"] + app.hits["light"] == 800
    sequence = [o.tags["endpoint"] for o in first.of("http_reqs")]
    assert sequence == [o.tags["endpoint"] for o in second.of("http_reqs")]
    assert first.total("http_req_failed") == 0
    durations = first.of("http_req_duration", endpoint="heavy", method="GET", status="200")
    assert len(durations) == first.total("http_reqs", endpoint="heavy")
    assert all(d.value > 0 for d in durations)


async def test_unexpected_status_refused_and_timeout_are_failures(app: App) -> None:
    store = RecordingStore()
    endpoints = [{"name": "broken", "path": "/e/broken"}]
    await _run(HttpWorkload(_config(app, endpoints)), store, 3)
    assert store.total("http_req_failed", endpoint="broken") == 3
    assert store.total("errors_total", kind="http_500") == 3
    assert len(store.of("http_req_duration", status="500")) == 3

    store = RecordingStore()
    config = _config(app, [{"name": "slow", "path": "/e/slow"}], timeout_s=0.2)
    await _run(HttpWorkload(config), store, 1)
    assert store.total("errors_total", kind="timeout") == 1
    assert store.total("http_req_failed") == 1
    assert store.of("http_req_duration") == []

    store = RecordingStore()
    app.url = f"http://127.0.0.1:{closed_port()}"  # nobody there; no health check to notice
    workload = HttpWorkload(_config(app, [{"name": "x", "path": "/e/x"}], health_path=None))
    await workload.setup()
    ctx = make_ctx(store, iteration=0, start=time.monotonic(), rng=random.Random(0))
    await workload.iteration(ctx)
    await workload.teardown()
    assert store.total("errors_total", kind="refused") == 1


async def test_bearer_and_form_bodies_are_sent_and_the_token_is_never_recorded(app: App) -> None:
    endpoints = [
        {"name": "secure", "path": "/e/secure", "bearer": True},
        {"name": "form", "path": "/e/form", "method": "POST", "body": {"form": {"k": "v"}}},
    ]
    config = HttpConfig.model_validate(
        {"endpoints": parse_endpoints(endpoints, "test"), "client": app.client}
    )
    env = {"BASE_URL": app.url, "API_TOKEN": TOKEN}
    store = RecordingStore()
    workload = HttpWorkload(config, env=env)
    await _run(workload, store, 20)
    assert app.auth
    assert all(a == f"Bearer {TOKEN}" for a in app.auth)
    assert app.forms
    assert all(f == {"k": "v"} for f in app.forms)
    assert store.total("http_req_failed") == 0
    assert TOKEN not in store.dump()
    assert TOKEN not in repr(config) + repr(workload.__dict__)


async def test_health_checks_are_recorded_and_an_unreachable_target_stops_setup(app: App) -> None:
    store = RecordingStore()
    endpoints = [{"name": "x", "path": "/e/x"}]
    await _run(HttpWorkload(_config(app, endpoints)), store, 2)
    phases = [(o.tags["phase"], o.value) for o in store.of("health_check")]
    assert phases == [("start", 1.0), ("end", 1.0)]
    assert app.hits["health"] == 2

    app.url = f"http://127.0.0.1:{closed_port()}"
    workload = HttpWorkload(_config(app, endpoints), store=RecordingStore())  # type: ignore[arg-type]
    with pytest.raises(TargetUnreachable, match="refused"):
        await workload.setup()
    await workload.teardown()  # safe after a failed setup


def test_missing_url_and_token_are_reported_together() -> None:
    config = HttpConfig.model_validate(
        {"endpoints": parse_endpoints([{"name": "s", "path": "/s", "bearer": True}], "t")}
    )
    with pytest.raises(InvalidInput) as info:
        HttpWorkload(config, env={})
    assert len(info.value.problems) == 2
    assert "BASE_URL" in str(info.value)
    assert "API_TOKEN" in str(info.value)


@pytest.mark.parametrize("think", [False, True])
async def test_a_run_records_each_of_the_five_metrics_once_per_request(
    app: App, think: bool, tmp_path: Path
) -> None:
    # Without think time the workload records iterations and iteration_duration itself, in one
    # step with its own three (records_iterations); with it the runner does. Either way: once.
    endpoints: list[dict[str, object]] = [
        {"name": "ok", "path": "/e/ok"},
        {"name": "broken", "path": "/e/broken"},
    ]
    extra = {"think_min_s": 0.001, "think_max_s": 0.002} if think else {}
    workload = HttpWorkload(_config(app, endpoints, **extra), name="mix")
    assert workload.records_iterations is not think
    load = {"executor": "shared-iterations", "vus": 4, "iterations": 60}
    scenario = scenario_from_dict(
        {"name": "five", "workloads": {"mix": {"type": "http", "load": load}}}
    )
    outcome = await Runner(
        scenario, RunOptions(tmp_path, handle_sigint=False, reports=False), {"mix": workload}
    ).run()
    summary = outcome.summary.to_json()
    requests = app.hits["ok"] + app.hits["broken"]
    assert requests == 60
    assert summary["counters"]["http_reqs"] == summary["counters"]["iterations"] == 60
    assert summary["metrics"]["http_req_duration"]["count"] == 60
    assert summary["metrics"]["iteration_duration"]["count"] == 60
    assert summary["errors"] == {"http_500": app.hits["broken"]}
    assert summary["rates"]["http_req_failed"] == pytest.approx(app.hits["broken"] / 60)
