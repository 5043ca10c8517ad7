"""The benchmarks' CPU window (benchmarks/cpu_window.py): a sampled process tree's CPU time read
between two instants, interpolated between samples, and refused outside them."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from benchmarks.cpu_window import CpuSampler

pytestmark = pytest.mark.timeout(60)

# Burns 0.4 CPU-seconds, then idles 0.5 s: the idle half must add (almost) nothing.
BURN = """
import time
print(time.time(), flush=True)
end = time.process_time() + 0.4
while time.process_time() < end:
    pass
print(time.time(), flush=True)
time.sleep(0.5)
"""


def test_the_window_holds_the_cpu_time_spent_within_it() -> None:
    with (
        subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE, text=True) as proc,
        CpuSampler(proc.pid) as sampler,
    ):
        assert proc.stdout is not None
        started, burnt = float(proc.stdout.readline()), float(proc.stdout.readline())
        proc.wait(30)
    # Within a sample (20 ms) of the truth at either end, and a clock tick (10 ms) of rounding.
    assert 0.4 - 0.05 <= sampler.between(started, burnt) <= 0.4 + 0.05
    assert sampler.between(burnt + 0.05, burnt + 0.4) < 0.05
    with pytest.raises(RuntimeError, match="outside"):
        sampler.at(time.time() + 60)
