"""The generator is its own bottom layer: the import contract of pyproject.toml holds
(`lint-imports`), and a program that has only the generator — `bench` and `mocks` unimportable —
runs a scenario, in one process and on worker processes, against a loopback server; and the
runbook a finding names is an id the bench resolves, not a path into it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.monitoring import runbooks_dir
from generator.diagnosis.finding import runbook
from generator.diagnosis.rules import RULES
from generator.report.html_sections import runbook_href

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter whose `bench` and `mocks` raise ImportError (shadow packages first
# on PYTHONPATH, inherited by spawned workers) and whose meta_path refuses them besides.
PROGRAM = r"""
import importlib.abc, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("bench", "mocks"):
            raise ImportError(f"{name} is not importable in this test")
        return None


sys.meta_path.insert(0, Refuse())
for name in ("bench", "mocks"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{name} is importable: the test would prove nothing")

from generator import exitcodes
from generator.distributed.fastloop import run
from generator.distributed.shards import Distribution, run_distributed
from generator.options import RunOptions
from generator.runner import Runner
from generator.scenario import scenario_from_dict

hits = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        hits.append(self.path)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    out = Path(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    scenario = scenario_from_dict({
        "name": "no-bench",
        "workloads": {"http": {
            "type": "http",
            "config": {"base_url": url, "endpoints": [{"name": "w", "path": "/work"}],
                       "health_path": None},
            "load": {"executor": "shared-iterations", "vus": 4, "iterations": 30},
        }},
        "thresholds": ["http_req_failed:rate<0.01"],
    })
    try:
        here = run(Runner(scenario, RunOptions(out / "one", handle_sigint=False)).run())
        one_process = len(hits)
        spread = run_distributed(Distribution(workers=2), scenario, RunOptions(out / "two"))
    finally:
        server.shutdown()
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("bench", "mocks"))
    print(json.dumps({"one": here.exit_code, "one_hits": one_process, "two": spread,
                      "hits": len(hits), "loaded": loaded, "passed": exitcodes.PASSED}))


if __name__ == "__main__":
    main()
"""


def _shadow(root: Path) -> Path:
    for name in ("bench", "mocks"):
        package = root / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(
            f"raise ImportError('{name} is not importable in this test')\n", encoding="utf-8"
        )
    return root


@pytest.mark.timeout(120)
def test_a_scenario_runs_with_bench_and_mocks_unimportable(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(_shadow(tmp_path / "shadow"))}
    done = subprocess.run(
        [sys.executable, str(program), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["one"] == result["passed"]
    assert result["one_hits"] == 30
    assert result["two"] == result["passed"]
    assert result["hits"] == 60  # the two workers ran the same 30 iterations between them
    for i in range(2):  # each worker ran its slice, and could not import bench either
        worker = tmp_path / "out" / "two" / "workers" / str(i)
        summary = json.loads((worker / "summary.json").read_text(encoding="utf-8"))
        assert summary["iterations"] == 15
    merged = json.loads((tmp_path / "out" / "two" / "summary.json").read_text(encoding="utf-8"))
    assert merged["iterations"] == 30
    assert merged["passed"] is True


@pytest.mark.timeout(120)
def test_the_import_contract_holds() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=100
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout  # layers; no argparse in generator/


def test_every_rule_names_a_runbook_the_bench_resolves() -> None:
    ids = [runbook(rule) for rule in RULES]
    assert not any("/" in i for i in ids)  # ids, not paths into another package
    assert [i for i in ids if not (runbooks_dir() / f"{i}.md").is_file()] == []


def test_the_reports_link_a_runbook_id_through_the_directory_they_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # away from the checkout: nothing resolves by accident
    out = tmp_path / "runs" / "one"
    out.mkdir(parents=True)
    assert runbook_href("db_pool_exhausted", out) is None  # an id alone names no file
    for given in ("db_pool_exhausted", "bench/runbooks/db_pool_exhausted.md#confirm"):
        href = runbook_href(given, out, runbooks_dir())
        assert href is not None, given
        assert not href.startswith("/")
        target = (out / href.split("#")[0]).resolve()
        assert target == (runbooks_dir() / "db_pool_exhausted.md").resolve()
    assert runbook_href("no_such_rule", out, runbooks_dir()) is None
