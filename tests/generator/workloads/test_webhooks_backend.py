"""The issue's acceptance tests for `callbench webhooks` against the real mock backend: 500
webhooks within 10 s at the default limits, none rejected; with the webhook limit lowered (and
Twilio signatures required) the 429s are exactly what the limiter refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stack.postgres import PostgresInfo
from tests.generator.workloads.backend_support import backend, postgres
from tests.generator.workloads.cli_support import callbench

AUTH = "backend-twilio-auth-token"


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresInfo]:
    with postgres() as info:
        yield info


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_500_within_10_s_none_rejected_at_default_limits(
    pg: PostgresInfo, tmp_path: Path
) -> None:
    async with backend(pg) as server:
        result = await callbench(
            "webhooks", "--url", server.url + "/api/voice/conference-events", "--count", "500",
            "--within", "10s", "--out", str(tmp_path / "run"), "--json",
        )  # fmt: skip
    assert result.code == 0, result.stderr
    summary = result.summary()
    assert summary["counters"]["webhooks_total"] == 500
    assert summary["counters"]["webhook_429"] == 0
    assert summary["errors"] == {}
    assert summary["rates"]["webhook_success"] == 1.0


@pytest.mark.timeout(60)
async def test_a_lowered_webhook_limit_refuses_exactly_the_excess(
    pg: PostgresInfo, tmp_path: Path
) -> None:
    async with backend(pg, webhook_rate_per_min=30, twilio_auth_token=AUTH) as server:
        url = server.url + "/api/voice/conference-events"
        unsigned = await callbench(
            "webhooks", "--url", url, "--count", "3", "--within", "1s",
            "--out", str(tmp_path / "unsigned"), "--json",
        )  # fmt: skip
        result = await callbench(
            "webhooks", "--url", url, "--count", "80", "--within", "2s",
            "--twilio-auth-token", AUTH, "--out", str(tmp_path / "run"), "--json",
        )  # fmt: skip
    assert unsigned.code == 1, unsigned.stderr
    assert unsigned.summary()["errors"] == {"http_403": 3}
    assert result.code == 1, result.stderr
    summary = result.summary()
    # The limiter counted the 3 unsigned requests too: 27 of its 30 were left for these.
    assert summary["counters"]["webhook_429"] == 53
    assert summary["errors"] == {"http_429": 53}
    assert summary["rates"]["webhook_success"] == pytest.approx(27 / 80)
