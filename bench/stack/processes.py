"""Helpers shared by every part of the local runtime: finding binaries, free loopback ports,
polling readiness with a deadline, dropping root for the servers that refuse it, log tails."""

from __future__ import annotations

import contextlib
import glob
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from bench.errors import StackError

LOOPBACK = "127.0.0.1"
SERVICE_USER = "postgres"

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
    """True while ``pid`` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pid_create_time(pid: int) -> float | None:
    """When ``pid`` started; recorded so ``down`` never signals a recycled PID."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def same_process(pid: int, create_time: float | None) -> bool:
    if not pid_alive(pid):
        return False
    if create_time is None:
        return True
    now = pid_create_time(pid)
    return now is not None and abs(now - create_time) < 1.0


# Popen objects of the processes this interpreter spawned: kept so they are reaped (no zombies,
# no "still running" warnings when an object is collected while its process outlives it).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def spawn(
    argv: list[str],
    log_path: Path,
    *,
    service_user: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (so it outlives `callbench up`), output to ``log_path``.

    With ``service_user`` and when root, the child drops to `postgres` itself (setuid before exec),
    so the PID is the server's own and not a wrapper's (`runuser` stays as a parent).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    raise_open_files_limit()
    extra: dict[str, object] = {}
    if service_user and is_root():
        extra = {"user": SERVICE_USER, "group": SERVICE_USER, "extra_groups": []}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(  # type: ignore[call-overload]
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=cwd,
            **extra,
        )
    assert isinstance(proc, subprocess.Popen)
    _CHILDREN[proc.pid] = proc
    return proc


def raise_open_files_limit(wanted: int = 20_000) -> None:
    """Lift the soft RLIMIT_NOFILE toward the hard one; children inherit it (capacity tests hold
    thousands of sockets per process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if this interpreter is its parent."""
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        del _CHILDREN[pid]


def stop_pid(pid: int, create_time: float | None = None, *, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True when the process is gone (or was already)."""
    if not same_process(pid, create_time):
        reap(pid)
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        reap(pid)
        return True

    def gone() -> bool:
        reap(pid)
        return not pid_alive(pid)

    try:
        wait_until(gone, timeout=timeout, what=f"pid {pid}")
        return True
    except StackError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    try:
        wait_until(gone, timeout=5.0, what=f"pid {pid}")
    except StackError:
        return False
    return True


def kill_pid(pid: int, *, timeout: float = 5.0) -> None:
    """SIGKILL ``pid`` (no goodbye, as an OOM kill) and wait until it is gone (reaped if ours)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        reap(pid)
        return not pid_alive(pid)

    wait_until(gone, timeout=timeout, what=f"pid {pid} to die")


def await_ready(
    proc: subprocess.Popen[bytes],
    part: str,
    log_path: Path,
    check: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
) -> None:
    """Poll ``check`` until the spawned ``part`` is ready; if it exits or the deadline passes,
    stop it and raise StackError with its log's last lines."""

    def ready() -> bool:
        if proc.poll() is not None:
            raise StackError(part, f"exited with status {proc.returncode}", log_tail(log_path))
        return check()

    try:
        wait_until(ready, timeout=timeout, what=part, interval=interval)
    except StackError as exc:
        stop_pid(proc.pid, timeout=3.0)
        raise StackError(part, exc.reason, exc.log_tail or log_tail(log_path)) from None
