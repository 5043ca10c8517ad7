"""`callbench http` end to end against a small real aiohttp app: ramping stages pass the seed's
thresholds, `ab`-style fixed requests send exactly N, 429s fail the run (exit 1), bad input exits
2, an unreachable target exits 3, and the API token never reaches the run directory."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.generator.workloads.cli_support import callbench, grep_dir, serve

TOKEN = "tok-9f8e7d6c5b4a-never-in-the-run-dir"

ENDPOINTS = """
- {name: health, path: /health, weight: 1}
- {name: root, path: /, weight: 1}
- {name: dashboard, path: /api/calls-dashboard, bearer: true, weight: 3}
"""


class Target:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.limit: int | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if request.path.startswith("/api/"):
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return web.json_response({"error": "unauthorized"}, status=401)
            if self.limit is not None and self.hits[request.path] > self.limit:
                return web.json_response({"error": "rate limited"}, status=429)
        return web.json_response({"ok": True})


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    state = Target()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    runner, state.url = await serve(app)
    yield state
    await runner.cleanup()


@pytest.fixture
def endpoints(tmp_path: Path) -> Path:
    path = tmp_path / "endpoints.yaml"
    path.write_text(ENDPOINTS)
    return path


@pytest.mark.timeout(90)
async def test_stages_pass_the_preset_and_the_token_stays_out(
    target: Target, endpoints: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = await callbench(
        "http", "--url", target.url, "--endpoints", str(endpoints),
        "--stages", "1s:3,2s:3,1s:0", "--preset-thresholds", "--raw-events", "--out", str(out),
        "--json", env={"API_TOKEN": TOKEN},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = result.summary()
    assert summary["counters"]["http_reqs"] > 10
    assert summary["rates"]["http_req_failed"] == 0
    assert {t["expr"] for t in summary["thresholds"]} >= {
        "http_req_duration:p(99)<1000",
        "http_req_failed:rate<0.05",
        "http_reqs:rate>=1",
    }
    assert target.hits["/api/calls-dashboard"] > 0
    assert (out / "metrics.jsonl").exists()
    assert (out / "events.jsonl").exists()  # --raw-events given bare: the token not in it either
    assert grep_dir(out, TOKEN) == []
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.timeout(60)
async def test_requests_and_concurrency_send_exactly_n(
    target: Target, endpoints: Path, tmp_path: Path
) -> None:
    result = await callbench(
        "http", "--url", target.url, "--endpoints", str(endpoints), "--requests", "40",
        "--concurrency", "10", "--no-health-check", "--out", str(tmp_path / "r"), "--json",
        env={"API_TOKEN": TOKEN},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert sum(target.hits.values()) == 40
    assert result.summary()["counters"]["http_reqs"] == 40


@pytest.mark.timeout(60)
async def test_rate_limited_answers_fail_the_run(
    target: Target, endpoints: Path, tmp_path: Path
) -> None:
    target.limit = 5
    result = await callbench(
        "http", "--url", target.url, "--endpoints", str(endpoints), "--requests", "60",
        "--concurrency", "4", "--preset-thresholds", "--out", str(tmp_path / "r"), "--json",
        env={"API_TOKEN": TOKEN},
    )  # fmt: skip
    assert result.code == 1, result.stderr
    summary = result.summary()
    assert summary["errors"]["http_429"] == target.hits["/api/calls-dashboard"] - 5
    assert summary["rates"]["http_req_failed"] > 0.05


@pytest.mark.timeout(60)
async def test_bad_input_exits_2_and_an_unreachable_target_exits_3(
    target: Target, endpoints: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: x, path: nope}\n- {name: y, path: /y, weight: -1}\n")
    result = await callbench("http", "--url", target.url, "--endpoints", str(bad))
    assert result.code == 2
    assert str(bad) in result.stderr
    assert "endpoint 1 (x): path" in result.stderr
    assert "endpoint 2 (y): weight" in result.stderr

    result = await callbench(
        "http", "--url", target.url, "--endpoints", str(endpoints), "--stages", "1s:x,zz"
    )
    assert result.code == 2
    assert "1s:x" in result.stderr

    result = await callbench(
        "http", "--url", target.url, "--endpoints", str(endpoints), env={"API_TOKEN": ""}
    )
    assert result.code == 2
    assert "API_TOKEN" in result.stderr

    result = await callbench(
        "http", "--url", "http://127.0.0.1:9", "--endpoints", str(endpoints),
        "--requests", "1", "--out", str(tmp_path / "dead"), env={"API_TOKEN": TOKEN},
    )  # fmt: skip
    assert result.code == 3, result.stderr
    assert "health check failed" in result.stderr


def test_short_thresholds_read_the_http_metrics() -> None:
    from bench.commands.http import FALLBACK_THRESHOLDS, HTTP_DEFAULTS
    from bench.commands.traffic_common import thresholds_from_flags
    from bench.errors import UsageError
    from generator.workloads.http import HTTP_THRESHOLD_PRESET

    given = ["p(99)<800", "rate<0.01", "count==0", "http_reqs:count>5"]
    assert thresholds_from_flags(given, HTTP_THRESHOLD_PRESET, False, HTTP_DEFAULTS, ()) == [
        "http_req_duration:p(99)<800",
        "http_req_failed:rate<0.01",
        "errors_total:count==0",
        "http_reqs:count>5",
    ]
    both = thresholds_from_flags(["p(50)<9"], HTTP_THRESHOLD_PRESET, True, HTTP_DEFAULTS, ())
    assert both == ["http_req_duration:p(50)<9", *HTTP_THRESHOLD_PRESET]
    fallback = thresholds_from_flags(
        [], HTTP_THRESHOLD_PRESET, False, HTTP_DEFAULTS, FALLBACK_THRESHOLDS
    )
    assert fallback == list(FALLBACK_THRESHOLDS)
    with pytest.raises(UsageError, match="expected"):
        thresholds_from_flags(["fast please"], (), False, HTTP_DEFAULTS, ())
