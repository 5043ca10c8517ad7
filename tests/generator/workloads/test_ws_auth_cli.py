"""A token given as `--header 'Authorization: Bearer ${TOKEN}'` (or a scenario file's `headers:`)
reaches a real websockets server on 127.0.0.1, and appears nowhere in the run directory nor on
the command line of any process the run starts (`--workers` children included); an unset
variable is exit 2 before any traffic; `callbench calls` reaches a `wss://` server with
`--ca-file` and fails as `tls` without it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
import trustme
import yaml
from websockets.asyncio.server import ServerConnection, serve

from tests.generator.workloads.cli_support import REPO, callbench, grep_dir

CALLBENCH = [sys.executable, "-m", "bench.cli"]
TEMPLATE = "Authorization: Bearer ${CALLBENCH_TEST_TOKEN}"


class Target:
    """Records each handshake's Authorization header and, when a run's pid is known, the
    command lines of that process and all its children at that moment."""

    def __init__(self, close_at_once: bool = False) -> None:
        self.close_at_once = close_at_once
        self.authorizations: list[str | None] = []
        self.literals: list[str | None] = []
        self.run_pid: int | None = None
        self.cmdlines: list[str] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.authorizations.append(ws.request.headers.get("Authorization"))
        self.literals.append(ws.request.headers.get("X-Literal"))
        if self.run_pid is not None:
            self.cmdlines.extend(_cmdlines(self.run_pid))
        if self.close_at_once:
            await ws.close(1000)
            return
        async for _ in ws:
            pass


def _cmdlines(pid: int) -> list[str]:
    lines = []
    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(pid)
        for proc in [parent, *parent.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                lines.append(" ".join(proc.cmdline()))
    return lines


@contextlib.asynccontextmanager
async def _serving(target: Target, tls: ssl.SSLContext | None = None) -> AsyncIterator[Target]:
    async with serve(target.handler, "127.0.0.1", 0, ssl=tls) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        target.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/ws"
        yield target


@pytest.fixture
def token() -> str:
    return "tok-" + secrets.token_hex(16)


async def _run_watched(target: Target, argv: list[str], env: dict[str, str]) -> int:
    """Runs callbench with ``target`` told its pid, so that handshakes note the command lines."""
    proc = await asyncio.create_subprocess_exec(
        *CALLBENCH,
        *argv,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
        cwd=str(REPO),
    )
    target.run_pid = proc.pid
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    assert proc.returncode == 0, err.decode()
    return proc.returncode


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
async def test_a_header_token_reaches_the_server_and_nowhere_else(
    token: str, tmp_path: Path, workers: int
) -> None:
    literal = "lit-" + secrets.token_hex(8)
    out = tmp_path / "run"
    async with _serving(Target()) as target:
        argv = ["connections", "--url", target.url, "--target", str(workers), "--hold", "0.3"]
        argv += ["--header", TEMPLATE, "--header", f"X-Literal: {literal}"]
        argv += ["--workers", str(workers), "--no-monitor", "--out", str(out)]
        await _run_watched(target, argv, {"CALLBENCH_TEST_TOKEN": token})
    assert target.authorizations, "no connection reached the server"
    assert set(target.authorizations) == {f"Bearer {token}"}
    assert set(target.literals) == {literal}
    # The run directory says which header was sent, from which variable, but not its value.
    assert "${CALLBENCH_TEST_TOKEN}" in (out / "run.json").read_text(encoding="utf-8")
    assert grep_dir(out, token) == []
    assert grep_dir(out, literal) == []
    if workers > 1:
        assert (out / "workers" / "1").is_dir()
        assert len(target.cmdlines) > workers  # the parent and its children were seen
    assert target.cmdlines
    assert not [line for line in target.cmdlines if token in line]


@pytest.mark.timeout(120)
async def test_a_scenario_files_headers_expand_from_the_environment(
    token: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    async with _serving(Target()) as target:
        scenario = {
            "name": "held",
            "workloads": {
                "held": {
                    "type": "connections",
                    "config": {
                        "url": target.url,
                        "hold_min_s": 0.2,
                        "hold_max_s": 0.2,
                        "headers": {"Authorization": "Bearer ${CALLBENCH_TEST_TOKEN}"},
                    },
                    "load": {"executor": "shared-iterations", "vus": 1, "iterations": 2},
                }
            },
        }
        path = tmp_path / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
        argv = ["run", str(path), "--workers", "1", "--no-monitor", "--out", str(out)]
        await _run_watched(target, argv, {"CALLBENCH_TEST_TOKEN": token})
    assert target.authorizations == [f"Bearer {token}"] * 2
    assert grep_dir(out, token) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["connections", "calls"])
async def test_an_unset_variable_is_exit_2_before_any_traffic(command: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CALLBENCH_TEST_UNSET"}
    async with _serving(Target()) as target:
        argv = [command, "--url", target.url, "--header", "X-Key: ${CALLBENCH_TEST_UNSET}"]
        argv += ["--target", "1"] if command == "connections" else ["--calls", "1"]
        proc = await asyncio.create_subprocess_exec(
            *CALLBENCH,
            *argv,
            "--out",
            str(tmp_path / "run"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(REPO),
        )
        _, err = await asyncio.wait_for(proc.communicate(), 50)
    stderr = err.decode()
    assert proc.returncode == 2, stderr
    assert "X-Key" in stderr
    assert "CALLBENCH_TEST_UNSET" in stderr
    assert "Traceback" not in stderr
    assert target.authorizations == []


async def test_bad_header_and_tls_flags_are_exit_2(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    for url, flags, says in (
        ("ws://127.0.0.1:9/ws", ["--header", "no colon"], "Name: value"),
        ("ws://127.0.0.1:9/ws", ["--insecure"], "wss://"),
        ("wss://127.0.0.1:9/ws", ["--ca-file", missing], "no-such-ca.pem"),
    ):
        result = await callbench("connections", "--url", url, "--target", "1", *flags)
        assert result.code == 2, result.stderr
        assert says in result.stderr
        assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.mark.timeout(120)
async def test_calls_over_wss_with_a_private_ca(ca: trustme.CA, token: str, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    env = {"CALLBENCH_TEST_TOKEN": token}
    async with _serving(Target(close_at_once=True), server_tls) as target:
        base = [
            "calls",
            "--url",
            target.url,
            "--calls",
            "1",
            "--turns",
            "1",
            "--header",
            TEMPLATE,
            "--no-monitor",
            "--json",
        ]
        trusted = await callbench(
            *base, "--ca-file", str(ca_file), "--out", str(tmp_path / "a"), env=env
        )
        untrusted = await callbench(*base, "--out", str(tmp_path / "b"), env=env)
    # The server closes at once, so both calls fail; only the one without the CA at TLS.
    assert trusted.code == 1, trusted.stderr
    assert untrusted.code == 1, untrusted.stderr
    assert target.authorizations == [f"Bearer {token}"]
    assert "tls" not in _error_kinds(trusted.summary())
    assert _error_kinds(untrusted.summary()) == {"tls"}
    for run in ("a", "b"):
        assert grep_dir(tmp_path / run, token) == []
    assert token not in trusted.stdout + trusted.stderr + untrusted.stdout + untrusted.stderr


def _error_kinds(summary: dict[str, object]) -> set[str]:
    errors = summary.get("errors")
    assert isinstance(errors, dict), summary.keys()
    return {str(kind) for kind, count in errors.items() if count}


@pytest.mark.timeout(60)
async def test_realtime_calls_send_the_openai_key_and_keep_it_out_of_the_run(
    token: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    async with _serving(Target(close_at_once=True)) as target:
        result = await callbench(
            "calls",
            "--url",
            target.url,
            "--protocol",
            "realtime",
            "--calls",
            "1",
            "--no-monitor",
            "--out",
            str(out),
            env={"OPENAI_API_KEY": token},
        )
    assert result.code == 1, result.stderr  # the server hangs up: the call fails after connecting
    assert target.authorizations == [f"Bearer {token}"]
    assert grep_dir(out, token) == []
    assert token not in result.stdout + result.stderr
