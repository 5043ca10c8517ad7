"""`--set` parsing and validation: every problem reported at once, backend keys checked against
BackendConfig's fields (a stand-in model here, so the test does not depend on the backend)."""

from __future__ import annotations

import sys
import types

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bench.errors import UsageError
from bench.stack.overrides import parse_pairs, validate


class _FakeBackendConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    db_dsn: str = ""
    upstream_url: str = ""
    db_pool_max: int = Field(10, ge=1)
    db_statement_cache_size: int = Field(100, ge=0)
    leak_transcripts: bool = False
    upstream_retries: str = "backoff"


@pytest.fixture
def fake_backend_config(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("mocks.backend.config")
    module.BackendConfig = _FakeBackendConfig  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mocks.backend.config", module)


def test_parse_pairs_reports_every_malformed_item() -> None:
    with pytest.raises(UsageError) as info:
        parse_pairs(["novalue", "a.b=1", "=x"])
    message = str(info.value)
    assert "`novalue` is not KEY=VALUE" in message
    assert "`=x` is not KEY=VALUE" in message


def test_parse_pairs_keeps_equals_in_values() -> None:
    assert parse_pairs(['realtime.faults={"a": "b=c"}']) == {"realtime.faults": '{"a": "b=c"}'}


def test_defaults() -> None:
    settings = validate({})
    assert settings.max_connections == 20
    assert settings.pgbouncer_pool_size == 10
    assert settings.db_via == "direct"
    assert dict(settings.backend) == {}


def test_all_problems_at_once(fake_backend_config: None) -> None:
    with pytest.raises(UsageError) as info:
        validate(
            {
                "nosuchpart.x": "1",
                "postgres.max_conns": "20",
                "postgres.max_connections": "lots",
                "backend.db_pool_max": "-1",
                "backend.bogus": "1",
                "backend.db_dsn": "postgresql://elsewhere",
                "realtime.faults": "[1, 2]",
            }
        )
    message = str(info.value)
    assert "unknown part in `nosuchpart.x`" in message
    assert "unknown key `postgres.max_conns`: valid postgres.* keys are max_connections" in message
    assert "bad value for `postgres.max_connections`: 'lots'" in message
    assert "bad value for `backend.db_pool_max`: '-1'" in message
    assert "unknown key `backend.bogus`" in message
    assert "db_pool_max" in message.split("unknown key `backend.bogus`")[1]
    assert "`backend.db_dsn` is set by the stack" in message
    assert "bad value for `realtime.faults`" in message


def test_valid_backend_keys_pass_through(fake_backend_config: None) -> None:
    settings = validate(
        {
            "postgres.max_connections": "20",
            "backend.db_pool_max": "50",
            "backend.leak_transcripts": "true",
            "backend.db_via": "pgbouncer",
            "realtime.seed": "7",
            "realtime.faults": '{"latency": {"distribution": "fixed", "ms": 300}}',
        }
    )
    assert settings.db_via == "pgbouncer"
    # Behind PgBouncer (transaction mode) the backend must not cache prepared statements.
    assert dict(settings.backend) == {
        "db_pool_max": "50",
        "leak_transcripts": "true",
        "db_statement_cache_size": "0",
    }
    assert settings.realtime_seed == 7
    assert settings.realtime_faults == {"latency": {"distribution": "fixed", "ms": 300}}


def test_pgbouncer_pool_must_fit_below_the_cap() -> None:
    with pytest.raises(UsageError, match=r"default_pool_size=30 must be at most"):
        validate({"postgres.max_connections": "20", "pgbouncer.default_pool_size": "30"})
    # Unless told, the pool shrinks to fit a small cap.
    assert validate({"postgres.max_connections": "8"}).pgbouncer_pool_size == 4


def test_db_via_pgbouncer_needs_pgbouncer() -> None:
    with pytest.raises(UsageError, match=r"needs pgbouncer\.enabled"):
        validate({"backend.db_via": "pgbouncer", "pgbouncer.enabled": "off"})
