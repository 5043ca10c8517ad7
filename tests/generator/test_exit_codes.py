"""Errors carry their exit codes (generator/errors.py, bench/errors.py) and the CLI maps any of
them the same way; the flags of a distributed run become plain values before the generator sees
them (bench/commands/run_options.py); a worker's entry is a name resolved in the child."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench import exitcodes as bench_exitcodes
from bench.cli import build_parser, run_handler
from bench.commands.run_options import distribution_from_args, run_worker
from bench.errors import BenchError, StackError, UsageError
from generator import exitcodes
from generator.distributed.workers import WorkerEntry, WorkerSlice, scenario_entry
from generator.errors import InvalidInput, RunBroken, TargetUnreachable, exit_code_of
from generator.scenario import scenario_from_dict
from mocks.errors import ConfigError

CASES = [
    (InvalidInput("scenario", ["no workloads"]), exitcodes.INVALID_INPUT),
    (TargetUnreachable("http://127.0.0.1:1 refused"), exitcodes.INFRASTRUCTURE),
    (RunBroken("workers", "none wrote results"), exitcodes.INFRASTRUCTURE),
    (UsageError("--calls must be at least 1"), exitcodes.INVALID_INPUT),
    (StackError("backend", "did not start"), exitcodes.INFRASTRUCTURE),
    (BenchError("drill expectations unmet"), exitcodes.FAILED),
    (ConfigError("faults", ["stall: probability above 1"]), exitcodes.INVALID_INPUT),
]


def test_the_bench_shares_the_generators_exit_codes() -> None:
    assert bench_exitcodes.INVALID_INPUT is exitcodes.INVALID_INPUT
    codes = [exitcodes.PASSED, exitcodes.FAILED, exitcodes.INVALID_INPUT]
    codes += [exitcodes.INFRASTRUCTURE, exitcodes.INTERRUPTED]
    assert len(set(codes)) == len(codes)  # distinct, so a caller can tell them apart


@pytest.mark.parametrize(("error", "code"), CASES, ids=lambda v: type(v).__name__)
def test_each_error_ends_the_command_with_its_code(
    error: Exception, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(_: argparse.Namespace) -> int:
        raise error

    assert run_handler(handler, argparse.Namespace()) == code
    err = capsys.readouterr().err
    assert err == f"callbench: error: {error}\n"  # one line, no traceback


def test_a_bug_keeps_its_traceback_and_ctrl_c_is_130(capsys: pytest.CaptureFixture[str]) -> None:
    def bug(_: argparse.Namespace) -> int:
        raise ZeroDivisionError("a bug")

    assert exit_code_of(ZeroDivisionError()) is None
    with pytest.raises(ZeroDivisionError):
        run_handler(bug, argparse.Namespace())

    def interrupted(_: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    assert run_handler(interrupted, argparse.Namespace()) == exitcodes.INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    assert run_handler(interrupted, argparse.Namespace(), quiet_interrupt=True) == 130
    assert capsys.readouterr().err == ""


def _run_args(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", "scenario.yaml", *flags])


def test_distribution_flags_become_plain_values() -> None:
    plan = distribution_from_args(_run_args("--shard", "1/3", "--json"))
    assert (plan.shard, plan.workers, plan.worker_slice, plan.as_json) == ((1, 3), None, None, True)
    assert plan.entry is not None
    assert plan.entry.resolve() is run_worker  # the CLI's entry: a name, resolved by importlib
    assert distribution_from_args(_run_args("--worker-slice", "0/2")).worker_slice == (0, 2)
    with pytest.raises(UsageError, match="cannot be combined"):
        distribution_from_args(_run_args("--shard", "0/2", "--workers", "2"))
    with pytest.raises(UsageError, match="at least 1"):
        distribution_from_args(_run_args("--workers", "0"))
    with pytest.raises(InvalidInput, match="--shard"):
        distribution_from_args(_run_args("--shard", "3/3"))


def test_worker_entries_name_a_function(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="module:function"):
        WorkerEntry("generator.distributed.workers").resolve()
    scenario = scenario_from_dict(
        {
            "name": "entry",
            "workloads": {
                "http": {
                    "type": "http",
                    "config": {"base_url": "http://127.0.0.1:9", "health_path": None,
                               "endpoints": [{"name": "w", "path": "/"}]},
                    "load": {"executor": "shared-iterations", "vus": 1, "iterations": 1},
                }
            },
        }
    )  # fmt: skip
    entry = scenario_entry(scenario)
    function = entry.resolve()
    # Slice 1 of 2 of a single VU holds no work: a clear error and its exit code, no traceback.
    assert function(entry.argument, WorkerSlice(1, 2, tmp_path)) == exitcodes.INVALID_INPUT
