"""BackendConfig: healthy defaults, every problem reported at once, --set and file parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mocks.backend.config import BackendConfig, build, load_file, parse_sets, updated
from mocks.errors import ConfigError


def test_defaults_are_the_healthy_settings() -> None:
    config = BackendConfig()
    assert (config.db_pool_min, config.db_pool_max, config.db_acquire_timeout_s) == (2, 10, 5.0)
    assert config.upstream_retries == "backoff"
    knobs = (config.leak_transcripts, config.leak_upstream_sockets, config.leak_db_connections)
    assert knobs == (False, False, False)
    assert config.expose_stack_traces is False
    assert config.cpu_burn_ms_per_frame == 0.0
    assert config.twilio_auth_token is None
    # The fidelity knobs: the GA upstream protocol, reconnecting on expiry, barge-in handled.
    assert (config.upstream_api, config.upstream_reconnect, config.ignore_barge_in) == (
        "ga",
        True,
        False,
    )


def test_fidelity_knobs_from_set_flags() -> None:
    values = parse_sets(["upstream_api=beta", "upstream_reconnect=false", "ignore_barge_in=true"])
    config = build(values)
    assert (config.upstream_api, config.upstream_reconnect, config.ignore_barge_in) == (
        "beta",
        False,
        True,
    )
    with pytest.raises(ConfigError) as info:
        build(parse_sets(["upstream_api=v1"]))
    assert "upstream_api" in info.value.problems[0]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        build({"db_pool_max": 0, "upstream_retries": "sometimes", "nonsense": 1})
    text = " ".join(info.value.problems)
    assert len(info.value.problems) == 3
    for name in ("db_pool_max", "upstream_retries", "nonsense"):
        assert name in text


def test_coherence_checks() -> None:
    with pytest.raises(ConfigError) as info:
        build({"db_pool_min": 20, "db_pool_max": 10, "upstream_url": "http://x"})
    text = " ".join(info.value.problems)
    assert "db_pool_min" in text
    assert "upstream_url" in text


def test_config_is_frozen() -> None:
    config = BackendConfig()
    with pytest.raises(ValueError, match="frozen"):
        config.db_pool_max = 3


def test_parse_sets_types_and_prefix() -> None:
    values = parse_sets(
        ["backend.db_pool_max=50", "leak_transcripts=true", "api_token=12345", "seed=7"]
    )
    assert values == {
        "db_pool_max": 50,
        "leak_transcripts": True,
        "api_token": "12345",
        "seed": 7,
    }
    assert build(values).api_token == "12345"


def test_parse_sets_rejects_bad_shapes() -> None:
    with pytest.raises(ConfigError) as info:
        parse_sets(["novalue", "=3"])
    assert len(info.value.problems) == 2


def test_updated_validates_the_whole() -> None:
    config = updated(BackendConfig(), {"max_sessions": 2})
    assert config.max_sessions == 2
    with pytest.raises(ConfigError):
        updated(config, {"max_sessions": -1})


def test_load_file_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "knobs.yaml"
    yaml_file.write_text("backend:\n  db_pool_max: 50\n  leak_transcripts: true\n")
    assert load_file(yaml_file) == {"db_pool_max": 50, "leak_transcripts": True}
    json_file = tmp_path / "knobs.json"
    json_file.write_text('{"max_sessions": 3}')
    assert load_file(json_file) == {"max_sessions": 3}
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError):
        load_file(bad)
    with pytest.raises(ConfigError):
        load_file(tmp_path / "missing.yaml")
