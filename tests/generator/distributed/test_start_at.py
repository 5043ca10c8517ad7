"""`--start-at`: parsing the instant, holding until it on an injected clock, the late and early
bounds, and where a run waits (shard, workers, plain run; never a worker slice)."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.commands import run_options
from generator.distributed import start_at
from generator.distributed.shards import Distribution, RunLocal, run_distributed
from generator.distributed.start_at import StartAt, parse_start_at
from generator.distributed.workers import WorkerSlice
from generator.errors import InvalidInput
from generator.options import RunOptions
from generator.scenario import Scenario, scenario_from_dict
from tests.support.clock import FakeClock

NOW = 1_796_187_600.0  # 2026-12-02T05:00:00Z


class FakeWall:
    """A wall clock and a sleep that moves it: waiting takes no real time."""

    def __init__(self, now: float) -> None:
        self.clock = FakeClock(now)
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def start(self, at: float, say: io.StringIO | None = None) -> StartAt:
        return StartAt(at, clock=self.clock, sleep=self.sleep, say=say)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-02T05:00:30Z", NOW + 30),
        ("2026-12-02T06:00:30+01:00", NOW + 30),
        ("2026-12-02T05:00:30.250+00:00", NOW + 30.25),
        ("1796187630", NOW + 30),
        ("1796187630.5", NOW + 30.5),
        ("+30s", NOW + 30),
        ("+30 s", NOW + 30),
        ("+ 1.5s", NOW + 1.5),
        ("+45", NOW + 45),
        ("+2m", NOW + 120),
        ("+1h", NOW + 3600),
    ],
)
def test_the_instant_is_read_in_each_spelling(text: str, expected: float) -> None:
    assert parse_start_at(text, NOW) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-12-02T05:00:30", "no timezone"),
        ("tomorrow", "not a time"),
        ("+30x", "not a time"),
        ("-30s", "not a time"),
        ("1796187630000", "milliseconds"),  # a Unix timestamp in ms is far in the future
        ("+25h", "more than"),
    ],
)
def test_a_wrong_instant_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_start_at(text, NOW)
    assert caught.value.exit_code == 2
    assert says in "; ".join(caught.value.problems)
    assert "--start-at" in str(caught.value)


def test_the_wait_ends_at_the_instant_following_the_wall_clock() -> None:
    wall, said = FakeWall(NOW), io.StringIO()
    late = wall.start(NOW + 3.25, said).wait()
    assert wall.clock.now == NOW + 3.25
    assert late == 0.0
    assert sum(wall.sleeps) == pytest.approx(3.25)
    assert max(wall.sleeps) <= start_at.STEP_S  # re-reads the clock at least once a second
    assert "waiting until 2026-12-02T05:00:03.250+00:00" in said.getvalue()


def test_a_wall_clock_stepped_forward_ends_the_wait_early() -> None:
    wall = FakeWall(NOW)

    def sleep(seconds: float) -> None:
        wall.sleep(seconds)
        if len(wall.sleeps) == 2:
            wall.clock.advance(100.0)  # NTP stepped the clock

    StartAt(NOW + 50, clock=wall.clock, sleep=sleep, say=None).wait()
    assert len(wall.sleeps) == 2


def test_a_start_a_little_late_runs_at_once_with_a_warning() -> None:
    wall, said = FakeWall(NOW + 5.0), io.StringIO()
    late = wall.start(NOW, said).wait()
    assert late == pytest.approx(5.0)
    assert wall.sleeps == []
    assert "was 5.0 s ago; starting now" in said.getvalue()


def test_a_start_further_past_than_the_bound_is_refused() -> None:
    wall = FakeWall(NOW + start_at.LATE_LIMIT_S + 1)
    with pytest.raises(InvalidInput) as caught:
        wall.start(NOW).wait()
    assert caught.value.exit_code == 2
    assert "give a later instant" in caught.value.problems[0]
    assert wall.sleeps == []


def test_ctrl_c_during_the_wait_ends_it() -> None:
    wall = FakeWall(NOW)

    def sleep(seconds: float) -> None:
        wall.sleep(seconds)
        if len(wall.sleeps) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        StartAt(NOW + 600, clock=wall.clock, sleep=sleep, say=None).wait()
    assert len(wall.sleeps) == 3


def _scenario(vus: int = 4) -> Scenario:
    return scenario_from_dict(
        {
            "name": "held",
            "workloads": {
                "http": {
                    "type": "http",
                    "config": {"base_url": "http://127.0.0.1:9", "health_path": None},
                    "load": {"executor": "shared-iterations", "vus": vus, "iterations": vus},
                }
            },
        }
    )


def _recorder(wall: FakeWall, seen: list[tuple[str, float]]) -> RunLocal:
    def run_local(scenario: Scenario, options: RunOptions) -> int:
        seen.append((scenario.name, wall.clock.now))
        (options.out_dir / "run.json").write_text("{}", encoding="utf-8")
        return 0

    return run_local


@pytest.mark.parametrize(
    "plan",
    [Distribution(shard=(1, 2)), Distribution(workers=1), Distribution()],
    ids=["shard", "one-worker", "plain"],
)
def test_a_run_starts_its_load_at_the_instant(plan: Distribution, tmp_path: Path) -> None:
    wall, seen = FakeWall(NOW), list[tuple[str, float]]()
    held = Distribution(plan.workers, plan.shard, start_at=wall.start(NOW + 7.5))
    code = run_distributed(held, _scenario(), RunOptions(out_dir=tmp_path), _recorder(wall, seen))
    assert code == 0
    assert [at for _, at in seen] == [NOW + 7.5]


def test_a_worker_slice_does_not_wait_again(tmp_path: Path) -> None:
    wall, seen = FakeWall(NOW), list[tuple[str, float]]()
    plan = Distribution(worker_slice=(0, 2), start_at=wall.start(NOW + 7.5))
    run_distributed(plan, _scenario(), RunOptions(out_dir=tmp_path), _recorder(wall, seen))
    assert [at for _, at in seen] == [NOW]
    assert wall.sleeps == []


def test_bad_input_is_refused_before_the_wait(tmp_path: Path) -> None:
    wall, seen = FakeWall(NOW), list[tuple[str, float]]()
    plan = Distribution(shard=(3, 4), start_at=wall.start(NOW + 600))
    with pytest.raises(InvalidInput, match="holds no work"):
        run_distributed(plan, _scenario(vus=2), RunOptions(out_dir=tmp_path), _recorder(wall, seen))
    assert wall.sleeps == []
    assert seen == []


def test_the_flag_becomes_an_absolute_instant_and_workers_do_not_get_it() -> None:
    args = argparse.Namespace(start_at="+30s", workers=None, shard=None, worker_slice=None)
    before = time.time()
    plan = run_options.distribution_from_args(args)
    assert plan.start_at is not None
    assert before + 30 <= plan.start_at.at <= time.time() + 30
    fixed = argparse.Namespace(start_at="2026-12-02T05:00:00Z", workers=None, shard=None)
    assert run_options.start_at_from_args(fixed) == StartAt(NOW)
    assert run_options.start_at_from_args(argparse.Namespace()) is None


def _children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


@pytest.mark.timeout(60)
def test_ctrl_c_while_a_command_waits_exits_130_with_nothing_started(tmp_path: Path) -> None:
    out, path = tmp_path / "run", tmp_path / "scenario.yaml"
    path.write_text(json.dumps(_scenario().model_dump(mode="json")), encoding="utf-8")
    at = dt.datetime.fromtimestamp(time.time() + 120, dt.UTC).isoformat()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "run", str(path), "--workers", "2",
         "--start-at", at, "--out", str(out)],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the announcement: the process is in its wait
        assert "waiting until" in line, line
        assert _children(proc.pid) == []  # the parent of workers waits before it spawns them
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes its pipe
    assert not out.exists()  # no run began


def test_a_worker_process_is_not_told_to_wait_again(tmp_path: Path) -> None:
    seen: list[argparse.Namespace] = []

    def handler(args: argparse.Namespace) -> int:
        seen.append(args)
        return 0

    args = argparse.Namespace(
        start_at="+30s", workers=2, shard=None, worker_slice=None, out=None, json=True,
        handler=handler,
    )  # fmt: skip
    part = WorkerSlice(index=1, count=2, out_dir=tmp_path / "workers" / "1")
    assert run_options.run_worker(args, part) == 0
    (child,) = seen
    assert child.start_at is None
    assert run_options.distribution_from_args(child).start_at is None
    assert args.start_at == "+30s"  # the parent's flags are its own


def test_a_plan_holds_on_the_same_flag() -> None:
    run_options.hold_until_start(argparse.Namespace(start_at=None))  # no flag: no wait
    long_ago = dt.datetime.fromtimestamp(time.time() - 600, dt.UTC).isoformat()
    with pytest.raises(InvalidInput, match="give a later instant"):
        run_options.hold_until_start(argparse.Namespace(start_at=long_ago))
