"""Helpers shared by every part of the local runtime: finding binaries, free loopback ports,
polling readiness with a deadline, dropping root for the servers that refuse it, log tails."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.errors import StackError

LOOPBACK = "127.0.0.1"

# Which Debian package ships each binary, for the error that says what to install.
DEBIAN_PACKAGE = {
    "initdb": "postgresql",
    "pg_ctl": "postgresql",
    "postgres": "postgresql",
    "psql": "postgresql-client",
    "pgbouncer": "pgbouncer",
    "prometheus": "prometheus",
    "promtool": "prometheus",
}


def find_binary(name: str) -> str:
    """Locate ``name`` on PATH, through ``pg_config --bindir``, or under /usr/lib/postgresql."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        candidate = Path(bindir) / name
        if candidate.is_file():
            return str(candidate)
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if versions:
        return versions[-1]
    package = DEBIAN_PACKAGE.get(name, name)
    raise StackError(
        name,
        f"binary `{name}` not found on PATH, via pg_config or in /usr/lib/postgresql/*/bin; "
        f"install the Debian package: apt-get install -y {package}",
    )


def has_binary(name: str) -> bool:
    try:
        find_binary(name)
    except StackError:
        return False
    return True


def free_port() -> int:
    """A port the kernel just handed out on loopback (closed again; the race is small)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``check`` until it is true; raise StackError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise StackError(what, f"not ready within {timeout:g} s")
        time.sleep(interval)


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def is_root() -> bool:
    return os.geteuid() == 0


def as_service_user(argv: list[str]) -> list[str]:
    """initdb, postgres and pgbouncer refuse to run as root: run them as `postgres` then."""
    if is_root():
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def give_to_service_user(path: Path) -> None:
    if is_root():
        shutil.chown(path, user="postgres", group="postgres")


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
