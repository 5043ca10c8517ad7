"""What the benchmarks share: pinned child processes, nginx in a temp dir, medians, tables.

Every peer runs in the same round as the others, in turn (interleaved), and a figure is the
median over the rounds, so a noisy neighbour hurts all peers alike rather than whichever ran
during the noise."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import psutil

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PEERS_BIN = ROOT / ".callbench" / "peers-venv" / "bin"
CLIENT_CORE, SERVER_CORE = "0", "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(core: str, argv: Sequence[str]) -> list[str]:
    return ["taskset", "-c", core, *argv] if shutil.which("taskset") else list(argv)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def wait_port(port: int, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


class Served(NamedTuple):
    url: str
    pid: int  # the server's main process (nginx: the master; its worker is a child)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children so far."""
    try:
        proc = psutil.Process(pid)
        total = 0.0
        for each in (proc, *proc.children(recursive=True)):
            times = each.cpu_times()
            total += times.user + times.system
        return total
    except psutil.Error:
        return float("nan")


@contextlib.contextmanager
def nginx() -> Iterator[Served]:
    """nginx on a free port, pinned to the server core, serving a 3-byte body; its URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="callbench-nginx-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=tmp, port=port), encoding="utf-8")
        proc = subprocess.Popen(pinned(SERVER_CORE, [binary, "-c", str(conf), "-p", tmp]))
        try:
            wait_port(port)
            yield Served(f"http://127.0.0.1:{port}", proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)


@contextlib.contextmanager
def python_server(script: str, *args: str) -> Iterator[int]:
    """One of the benchmarks' own Python servers, pinned to the server core; its port."""
    port = free_port()
    argv = [str(VENV_BIN / "python"), str(Path(__file__).parent / script), str(port), *args]
    proc = subprocess.Popen(pinned(SERVER_CORE, argv))
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [f"## {title}", ""]
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores, {model}, load average {load:.2f} at start"
