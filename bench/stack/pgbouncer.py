"""PgBouncer in transaction mode in front of the throwaway cluster: its ini and auth file live in
the cluster's base directory (the `postgres` user must read them; the run directory may be private),
it runs in the foreground as a child in its own session, and its pool stays below Postgres's cap so
many client connections share a few server ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.stack.postgres import APP_DATABASE, APP_PASSWORD, APP_ROLE, SUPERUSER, PostgresInfo
from bench.stack.processes import (
    LOOPBACK,
    await_ready,
    find_binary,
    free_port,
    give_to_service_user,
    port_open,
    spawn,
)


@dataclass(frozen=True)
class PgBouncerInfo:
    port: int
    pid: int
    dsn: str  # the application role through PgBouncer
    config_path: str
    log_path: str
    default_pool_size: int


def render_config(
    *, pg_port: int, port: int, auth_file: Path, pool_size: int, max_client_conn: int
) -> str:
    """The pgbouncer.ini text (pure: tested without starting anything)."""
    return "\n".join(
        [
            "[databases]",
            f"{APP_DATABASE} = host={LOOPBACK} port={pg_port} dbname={APP_DATABASE}",
            "",
            "[pgbouncer]",
            f"listen_addr = {LOOPBACK}",
            f"listen_port = {port}",
            "unix_socket_dir =",
            "auth_type = md5",
            f"auth_file = {auth_file}",
            f"admin_users = {SUPERUSER}",
            "pool_mode = transaction",
            f"default_pool_size = {pool_size}",
            "min_pool_size = 0",
            "reserve_pool_size = 0",
            f"max_client_conn = {max_client_conn}",
            f"max_db_connections = {pool_size}",
            # asyncpg sends these at start-up; PgBouncer must not refuse the connection for them.
            "ignore_startup_parameters = extra_float_digits,statement_timeout",
            "server_reset_query =",
            "log_connections = 0",
            "log_disconnections = 0",
            "",
        ]
    )


def start_pgbouncer(
    postgres: PostgresInfo,
    log_path: Path,
    *,
    pool_size: int = 10,
    max_client_conn: int = 1000,
    timeout: float = 15.0,
) -> PgBouncerInfo:
    """Start PgBouncer; StackError (with its log's tail) when it does not listen in time."""
    binary = find_binary("pgbouncer")
    directory = Path(postgres.base_dir) / "pgbouncer"
    directory.mkdir(mode=0o755, exist_ok=True)
    give_to_service_user(directory)
    auth_file = directory / "userlist.txt"
    # md5 auth against a plain-text password in the auth file; Postgres itself trusts loopback.
    auth_file.write_text(f'"{APP_ROLE}" "{APP_PASSWORD}"\n"{SUPERUSER}" ""\n')
    port = free_port()
    config = directory / "pgbouncer.ini"
    config.write_text(
        render_config(
            pg_port=postgres.port,
            port=port,
            auth_file=auth_file,
            pool_size=pool_size,
            max_client_conn=max_client_conn,
        )
    )
    for path in (auth_file, config):
        path.chmod(0o600)
        give_to_service_user(path)
    proc = spawn([binary, str(config)], log_path, service_user=True)

    await_ready(proc, "pgbouncer", log_path, lambda: port_open(port), timeout=timeout)
    return PgBouncerInfo(
        port=port,
        pid=proc.pid,
        dsn=f"postgresql://{APP_ROLE}:{APP_PASSWORD}@{LOOPBACK}:{port}/{APP_DATABASE}",
        config_path=str(config),
        log_path=str(log_path),
        default_pool_size=pool_size,
    )
