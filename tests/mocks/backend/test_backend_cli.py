"""The backend's command line: config precedence and invalid input (exit 2, every problem)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mocks.backend.calls import burn_cpu
from mocks.backend.cli import add_arguments, config_from_args
from mocks.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_precedence_file_then_flags_then_sets(tmp_path: Path) -> None:
    knobs = tmp_path / "knobs.yaml"
    knobs.write_text("db_pool_max: 50\nseed: 1\nupstream_url: ws://file:1/v1/realtime\n")
    config = config_from_args(
        _args(
            "--config",
            str(knobs),
            "--upstream-url",
            "ws://flag:2/v1/realtime",
            "--seed",
            "5",
            "--set",
            "seed=9",
            "--set",
            "leak_transcripts=true",
        )
    )
    assert config.db_pool_max == 50
    assert config.upstream_url == "ws://flag:2/v1/realtime"
    assert config.seed == 9
    assert config.leak_transcripts is True


def test_bad_sets_report_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_args(_args("--set", "db_pool_max=-3", "--set", "unknown_knob=1"))
    assert len(info.value.problems) == 2


def test_module_exits_2_on_invalid_config() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mocks.backend", "--set", "upstream_retries=sometimes"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "upstream_retries" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cpu_burn_blocks_for_the_given_time() -> None:
    started = time.perf_counter()
    burn_cpu(20.0)
    assert time.perf_counter() - started >= 0.02
    started = time.perf_counter()
    burn_cpu(0.0)
    assert time.perf_counter() - started < 0.01
