"""A throwaway PostgreSQL cluster: ``initdb`` into a fresh directory, ``pg_ctl`` with a capped
``max_connections``, a non-superuser application role (only such a role meets the cap the way an
application does: superusers may use the reserved slots), and a fast shutdown that removes it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.errors import StackError
from bench.stack.processes import (
    LOOPBACK,
    as_service_user,
    find_binary,
    free_port,
    give_to_service_user,
    log_tail,
)

APP_ROLE = "callbench"
APP_PASSWORD = "callbench"
APP_DATABASE = "callbench"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PostgresInfo:
    """What a started cluster is: where it lives and how to reach it."""

    base_dir: str
    port: int
    pid: int
    max_connections: int
    dsn: str  # the application role (non-superuser): what the backend uses
    admin_dsn: str  # the superuser: for monitoring (pg_stat_activity) and set-up

    @property
    def data_dir(self) -> str:
        return str(Path(self.base_dir) / "data")


def _run(argv: list[str], what: str, log: Path | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()
        if log is not None:
            tail = (tail + "\n" + log_tail(log)).strip()
        raise StackError("postgres", f"{what} failed (exit {proc.returncode})", tail)


def start_postgres(max_connections: int = 20, port: int | None = None) -> PostgresInfo:
    """Create and start a cluster; on any failure, remove what was made and raise StackError."""
    if max_connections < 5:
        raise StackError("postgres", f"max_connections={max_connections} is below 5")
    initdb, pg_ctl, psql = find_binary("initdb"), find_binary("pg_ctl"), find_binary("psql")
    # /tmp rather than the run directory: the `postgres` user must be able to traverse it.
    base = Path(tempfile.mkdtemp(prefix="callbench-pg-"))
    base.chmod(0o755)
    give_to_service_user(base)
    data, log = base / "data", base / "postgres.log"
    port = port or free_port()
    try:
        _run(
            as_service_user(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        options = (
            f"-c max_connections={max_connections} -c listen_addresses={LOOPBACK} -p {port} "
            f"-c unix_socket_directories={base} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off"
        )
        _run(
            as_service_user(
                [pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
            ),
            "pg_ctl start",
            log,
        )
        admin_dsn = f"postgresql://{SUPERUSER}@{LOOPBACK}:{port}/postgres"
        for sql in (
            f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER PASSWORD '{APP_PASSWORD}'",
            f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}",
        ):
            _run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", admin_dsn, "-c", sql], "set-up SQL")
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    except BaseException:
        stop_postgres(str(base))
        raise
    return PostgresInfo(
        base_dir=str(base),
        port=port,
        pid=pid,
        max_connections=max_connections,
        dsn=f"postgresql://{APP_ROLE}:{APP_PASSWORD}@{LOOPBACK}:{port}/{APP_DATABASE}",
        admin_dsn=f"postgresql://{SUPERUSER}@{LOOPBACK}:{port}/{APP_DATABASE}",
    )


def stop_postgres(base_dir: str) -> None:
    """Fast shutdown, then remove the cluster. Safe to call on a half-made or stopped cluster."""
    base = Path(base_dir)
    data = base / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(
            as_service_user([find_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
    shutil.rmtree(base, ignore_errors=True)
