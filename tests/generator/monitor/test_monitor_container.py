"""The compose runtime's process source: a container's CPU and memory from the Docker engine's
one-shot stats (the shapes below are the engine's, as API 1.41 returns them), and the stack file
pointing the monitor at the container rather than at a PID. The source against a real engine
runs in CI's compose step (scripts/compose-ci.sh checks monitor.jsonl of each compose drill)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.monitoring import from_stack
from bench.stack.state import PartState, StackState
from generator.monitor import process
from generator.monitor.process import DockerContainer, memory_from_stats


def one_shot(total_ns: int, system_ns: int, *, usage: int = 80 << 20) -> dict[str, Any]:
    """One-shot stats carry no `precpu_stats` reading: the engine did not wait for one."""
    return {
        "cpu_stats": {
            "cpu_usage": {"total_usage": total_ns},
            "system_cpu_usage": system_ns,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 0}},
        "memory_stats": {"usage": usage, "stats": {"inactive_file": 30 << 20}},
    }


def test_cpu_is_the_share_of_one_core_between_two_readings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(process.time, "monotonic", lambda: now[0])
    source = DockerContainer("callbench_backend_1")
    assert source._cpu(one_shot(1_000_000_000, 50_000_000_000)) is None  # no window yet
    now[0] += 0.2  # too short a window: skipped, and the window keeps its start
    assert source._cpu(one_shot(1_100_000_000, 50_400_000_000)) is None
    now[0] += 0.8
    # 0.5 s of container CPU over 2 s of system time on 2 cores: half of one core.
    assert source._cpu(one_shot(1_500_000_000, 52_000_000_000)) == 50.0
    now[0] += 1.0
    assert source._cpu({"cpu_stats": {}}) is None  # a container that just stopped


def test_memory_leaves_out_the_page_cache() -> None:
    assert memory_from_stats(one_shot(0, 0)) == 50 << 20  # usage - inactive_file (cgroup v2)
    v1 = {"memory_stats": {"usage": 90 << 20, "stats": {"rss": 40 << 20, "cache": 50 << 20}}}
    assert memory_from_stats(v1) == 40 << 20  # cgroup v1 counts rss itself
    assert memory_from_stats({"memory_stats": {}}) is None


def test_a_compose_stack_is_watched_through_its_container() -> None:
    backend = PartState(
        name="backend",
        pid=4242,  # the container's PID as the engine's host sees it: not ours to read
        container="callbench_backend_1",
        urls={"http": "http://127.0.0.1:8", "admin": "http://127.0.0.1:9"},
    )
    config = from_stack(StackState(runtime="compose", state_dir="/tmp/x", backend=backend))
    assert config.container == "callbench_backend_1"
    assert config.pid is None
    local = backend.model_copy(update={"container": None})
    assert from_stack(StackState(state_dir="/tmp/x", backend=local)).pid == 4242
