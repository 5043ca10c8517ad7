"""The calls, run and report commands: argument handling and exit codes (the runs themselves
are covered by test_runner_engine.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import build_parser, main
from bench.commands.calls import caller_options
from generator.options import RunOptions
from generator.runner import Runner
from generator.scenario import scenario_from_dict
from tests.generator.ping_workload import PingWorkload, start_server


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["calls", "--url", "http://127.0.0.1:1/x"], "ws:// or wss://"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--quick", "--calls", "3"], "cannot be combined"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--rate", "5"], "--rate needs"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--duration", "soon"], "not a duration"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--threshold", "p(95)<<1"], "p(95)<<1"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--plan", "quick,huge"], "'huge'"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--sign"], "--protocol twilio"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--line-noise"], "--protocol twilio"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--realtime-vad"], "--protocol realtime"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--barge-in-after", "9"], "needs --barge-in"),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--barge-in", "2"], "barge_in.probability"),
        (
            ["calls", "--url", "ws://127.0.0.1:1/x", "--barge-in", "1", "--barge-in-bound", "0"],
            "bound_ms",
        ),
        (["calls", "--url", "ws://127.0.0.1:1/x", "--protocol", "twilio", "--sign"], "$TWILIO"),
    ],
)
def test_calls_rejects_bad_input_with_exit_2(
    argv: list[str],
    fragment: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_run_rejects_unknown_workload_types_and_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "workloads:\n  a:\n    type: carrier_pigeon\n    load: {executor: constant-vus, vus: 0}\n"
        "thresholds: ['p(95)<x']\n"
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown workload type 'carrier_pigeon'" in err
    assert "vus" in err
    assert "p(95)<x" in err
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    path.write_text("workloads: [unclosed\n")
    assert main(["run", str(path)]) == 2


async def test_report_rerenders_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    server, url = await start_server(delay_s=0.0)
    try:
        sc = scenario_from_dict(
            {
                "workloads": {
                    "ping": {
                        "type": "calls",
                        "load": {"executor": "shared-iterations", "iterations": 3},
                    }
                },
                "thresholds": ["call_success:rate>=0.9"],
            }
        )
        await Runner(
            sc, RunOptions(tmp_path, handle_sigint=False), {"ping": PingWorkload(url)}
        ).run()
    finally:
        await server.cleanup()
    capsys.readouterr()
    assert main(["report", str(tmp_path), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["calls"]["total"] == 3
    assert summary["passed"] is True
    assert main(["report", str(tmp_path), "--format", "junit"]) == 0
    assert "<testsuites>" in capsys.readouterr().out
    # A killed run: no end mark, run.json still `running` → reported as interrupted.
    meta = json.loads((tmp_path / "run.json").read_text())
    (tmp_path / "run.json").write_text(json.dumps({**meta, "status": "running"}))
    assert main(["report", str(tmp_path), "--format", "md"]) == 1
    assert "status interrupted" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["run.json", "metrics.jsonl", "sub/", " ", "/tmp/x.jsonl", "../x"])
def test_raw_events_refuses_a_run_file_or_a_directory(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text("- {name: root, path: /}\n", encoding="utf-8")
    out = tmp_path / "run"
    argv = ["http", "--url", "http://127.0.0.1:9", "--endpoints", str(endpoints),
            "--no-health-check", "--no-monitor", "--raw-events", name,
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--raw-events" in err
    assert "give a" in err
    assert "Traceback" not in err
    assert not (out / "metrics.jsonl").exists()  # refused before anything ran


def test_the_caller_s_flags_reach_the_call_config() -> None:
    url = ["calls", "--url", "ws://127.0.0.1:1/x"]
    flags = ["--protocol", "twilio", "--barge-in", "0.5", "--barge-in-after", "300"]
    args = build_parser().parse_args([*url, *flags, "--barge-in-bound", "900", "--line-noise"])
    assert caller_options(args) == {
        "barge_in": {"probability": 0.5, "after_ms": 300, "bound_ms": 900},
        "line_noise": True,
    }
    args = build_parser().parse_args([*url, "--protocol", "realtime", "--realtime-vad"])
    assert caller_options(args) == {"realtime_vad": True}
    assert caller_options(build_parser().parse_args(url)) == {}
