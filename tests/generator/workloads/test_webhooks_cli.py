"""`callbench webhooks` end to end against a small real aiohttp app that verifies Twilio
signatures: a 100-in-2-s storm arrives complete, signed and on schedule; 429s fail the seed's
criterion (exit 1); bad input exits 2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from generator.workloads.twilio_sign import SIGNATURE_HEADER, twilio_signature
from tests.generator.workloads.cli_support import callbench, grep_dir, serve

AUTH = "twilio-auth-abc123-not-in-run-dir"


class Hooks:
    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.bad = 0
        self.allow: int | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if self.allow is not None and len(self.accepted) >= self.allow:
            return web.Response(status=429)
        expected = twilio_signature(AUTH, str(request.url), form.items())
        if request.headers.get(SIGNATURE_HEADER) != expected:
            self.bad += 1
            return web.Response(status=403)
        self.accepted.append(form["ConferenceSid"])
        return web.Response(text="ok")


@pytest.fixture
async def hooks() -> AsyncIterator[Hooks]:
    state = Hooks()
    app = web.Application()
    app.router.add_post("/twilio/conference-status", state.handle)
    runner, base = await serve(app)
    state.url = base + "/twilio/conference-status"
    yield state
    await runner.cleanup()


@pytest.mark.timeout(60)
async def test_a_signed_storm_of_100_within_2_s(hooks: Hooks, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = await callbench(
        "webhooks", "--url", hooks.url, "--count", "100", "--within", "2s",
        "--twilio-auth-token", AUTH, "--out", str(out), "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = result.summary()
    assert hooks.bad == 0
    assert sorted(hooks.accepted) == sorted(f"test_{i}" for i in range(100))
    assert summary["counters"]["webhooks_total"] == 100
    assert summary["counters"]["webhook_429"] == 0
    assert summary["dropped_iterations"] == 0
    assert 1.9 <= summary["duration_s"] < 10
    assert all(t["ok"] for t in summary["thresholds"])
    assert grep_dir(out, AUTH) == []


@pytest.mark.timeout(60)
async def test_429s_fail_the_seed_criterion(hooks: Hooks, tmp_path: Path) -> None:
    hooks.allow = 20
    result = await callbench(
        "webhooks", "--url", hooks.url, "--count", "50", "--within", "1s",
        "--twilio-auth-token", AUTH, "--out", str(tmp_path / "run"), "--json",
    )  # fmt: skip
    assert result.code == 1, result.stderr
    summary = result.summary()
    assert summary["counters"]["webhook_429"] == 30
    assert summary["errors"]["http_429"] == 30
    failed = [t["expr"] for t in summary["thresholds"] if not t["ok"]]
    assert failed == ["webhooks_total{outcome:rate_limited}:count==0"]


async def test_bad_input_exits_2(hooks: Hooks) -> None:
    result = await callbench(
        "webhooks", "--url", hooks.url, "--count", "10", "--within", "soon", "--template", "a={b}"
    )
    assert result.code == 2
    assert "--within" in result.stderr
    assert "--template" in result.stderr
