"""``callbench mock realtime`` as the stack runs it: ready when /health answers, exits 0 on
SIGTERM; a bad faults file is one line naming the file and every problem, exit 2."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.mocks.realtime.rt_api_helpers import admin, greeting, open_session, recv

CALLBENCH = [sys.executable, "-m", "bench.cli"]


def test_bad_faults_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"stall": {"probability": 3}, "drop": {"mode": "x"}, "typo": 1}))
    argv = ["mock", "realtime", "--port", "0", "--admin-port", "0", "--faults", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err
    for where in ("stall", "drop", "typo"):
        assert where in err


def test_missing_faults_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    path = tmp_path / "nope.yaml"
    assert main(["mock", "realtime", "--faults", str(path)]) == 2
    assert str(path) in capsys.readouterr().err


@pytest.mark.timeout(60)
async def test_serves_until_sigterm(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("latency:\n  distribution: fixed\n  ms: 50\n")
    argv = ["mock", "realtime", "--port", "0", "--admin-port", "0", "--seed", "3"]
    argv += ["--faults", str(faults), "--greeting-ms", "100", "--answer-ms", "100"]
    proc = await asyncio.create_subprocess_exec(
        *CALLBENCH, *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.search(r"ws (\S+) admin (\S+)", line)
        assert match, line
        ws_url, admin_url = match.groups()
        assert (await admin("GET", f"{admin_url}/health"))[0] == 200
        assert (await admin("GET", f"{admin_url}/admin/faults"))[1]["latency"]["ms"] == 50
        ws = await open_session(ws_url)
        try:
            await recv(ws)
            events = await greeting(ws)
        finally:
            await ws.close()
        assert events[-1]["response"]["status"] == "completed"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
