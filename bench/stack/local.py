"""The local runtime: every part of the stack as a process on loopback, started in order
(Postgres, PgBouncer, fake upstream, backend, postgres_exporter, Prometheus), recorded in
``STATE_DIR/stack.json`` after each start, and torn down in reverse — by ``down()``, by a failed
``up()``, or on leaving the ``with`` block. ``down`` stops exactly the PIDs the state file names.
The crash drill's ``kill(part)`` is a SIGKILL of the part's PID, ``restart("backend")`` a new
process on the same ports (callers dialling the old URLs reach it); the ``Runtime`` protocol of
bench/stack/runtime.py."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from bench.errors import StackError, UsageError
from bench.stack import health, overrides
from bench.stack.overrides import StackSettings
from bench.stack.pg_exporter import BINARY as PG_EXPORTER
from bench.stack.pg_exporter import start_pg_exporter
from bench.stack.pgbouncer import start_pgbouncer
from bench.stack.postgres import PostgresInfo, start_postgres, stop_postgres
from bench.stack.processes import (
    LOOPBACK,
    find_binary,
    has_binary,
    kill_pid,
    pid_alive,
    pid_create_time,
    stop_pid,
)
from bench.stack.prometheus import start_prometheus
from bench.stack.services import ServiceInfo, start_backend, start_realtime
from bench.stack.state import PartState, PgBouncerState, PostgresState, StackState

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _wanted(toggle: str, binary: str, needed: bool) -> bool:
    """``on`` (or needed by another part) requires the binary; ``auto`` uses it when present."""
    if toggle == "off" and not needed:
        return False
    if toggle == "on" or needed:
        find_binary(binary)  # raises StackError naming the Debian package
        return True
    return has_binary(binary)


def _service_part(info: ServiceInfo) -> PartState:
    return PartState(
        name=info.name,
        pid=info.pid,
        pid_create_time=pid_create_time(info.pid),
        state="running",
        urls=info.urls,
        ports=info.ports,
        log=info.log_path,
    )


def _postgres_part(info: PostgresInfo) -> PostgresState:
    return PostgresState(
        name="postgres",
        pid=info.pid,
        pid_create_time=pid_create_time(info.pid),
        state="running",
        urls={"dsn": info.dsn},
        ports={"postgres": info.port},
        log=str(Path(info.base_dir) / "postgres.log"),
        dsn=info.dsn,
        admin_dsn=info.admin_dsn,
        base_dir=info.base_dir,
        max_connections=info.max_connections,
    )


class LocalStack:
    """``up()`` returns the StackState; ``down()`` stops it; ``with LocalStack(...) as stack:``
    starts it (unless already up) and always tears it down."""

    def __init__(
        self,
        state_dir: Path = Path(".callbench"),
        overrides: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
        echo: Echo = _quiet,
    ) -> None:
        # Absolute: the parts are handed paths under it and run in another directory.
        self.state_dir = Path(state_dir).absolute()
        self.overrides = dict(overrides or {})
        self.timeout = timeout
        self.echo = echo
        self.state: StackState | None = None

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    def __enter__(self) -> LocalStack:
        if self.state is None:
            self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> StackState:
        """Start every part; on any failure stop what started and raise StackError for the part."""
        settings = overrides.validate(self.overrides)
        self._refuse_running_stack()
        for binary in ("initdb", "pg_ctl", "psql"):
            find_binary(binary)
        use_pgbouncer = _wanted(settings.pgbouncer, "pgbouncer", settings.db_via == "pgbouncer")
        use_prometheus = _wanted(settings.prometheus, "prometheus", False)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        state = StackState(
            runtime="local", state_dir=str(self.state_dir.resolve()), overrides=dict(settings.raw)
        )
        self._record(state)
        steps: list[tuple[str, Callable[[StackState, StackSettings], StackState]]] = [
            ("postgres", self._start_postgres)
        ]
        if use_pgbouncer:
            steps.append(("pgbouncer", self._start_pgbouncer))
        steps += [("realtime", self._start_realtime), ("backend", self._start_backend)]
        if use_prometheus:
            # The exporter only feeds Prometheus's Postgres panels: started with it, when present.
            if has_binary(PG_EXPORTER):
                steps.append(("pg_exporter", self._start_pg_exporter))
            steps.append(("prometheus", self._start_prometheus))
        part = "postgres"
        try:
            for part, start in steps:
                self.echo(f"starting {part}")
                state = self._record(start(state, settings))
        except BaseException as exc:
            self._teardown(self.state or state)
            if isinstance(exc, StackError):
                raise StackError(part, exc.reason, exc.log_tail) from None
            if isinstance(exc, Exception):
                raise StackError(part, f"failed to start: {exc}") from exc
            raise
        return state

    def _start_postgres(self, state: StackState, settings: StackSettings) -> StackState:
        pg = _postgres_part(start_postgres(settings.max_connections))
        return state.model_copy(update={"postgres": pg})

    def _start_pgbouncer(self, state: StackState, settings: StackSettings) -> StackState:
        pg = state.postgres
        assert pg is not None
        assert pg.pid is not None
        pg_info = PostgresInfo(
            pg.base_dir, pg.ports["postgres"], pg.pid, pg.max_connections, pg.dsn, pg.admin_dsn
        )
        bouncer = start_pgbouncer(
            pg_info,
            self.logs_dir / "pgbouncer.log",
            pool_size=settings.pgbouncer_pool_size,
            max_client_conn=settings.pgbouncer_max_client_conn,
            timeout=self.timeout,
        )
        pgb = PgBouncerState(
            name="pgbouncer",
            pid=bouncer.pid,
            pid_create_time=pid_create_time(bouncer.pid),
            state="running",
            urls={"dsn": bouncer.dsn},
            ports={"pgbouncer": bouncer.port},
            log=bouncer.log_path,
            dsn=bouncer.dsn,
            config_path=bouncer.config_path,
            default_pool_size=bouncer.default_pool_size,
        )
        return state.model_copy(update={"pgbouncer": pgb})

    def _start_realtime(self, state: StackState, settings: StackSettings) -> StackState:
        info = start_realtime(
            self.run_dir,
            self.logs_dir / "realtime.log",
            seed=settings.realtime_seed,
            greeting_ms=settings.realtime_greeting_ms,
            answer_ms=settings.realtime_answer_ms,
            faults=settings.realtime_faults,
            timeout=self.timeout,
        )
        return state.model_copy(update={"realtime": _service_part(info)})

    def _start_backend(self, state: StackState, settings: StackSettings) -> StackState:
        assert state.realtime is not None
        assert state.db_dsn is not None
        info = start_backend(
            self.logs_dir / "backend.log",
            upstream_url=state.realtime.urls["ws"],
            db_dsn=state.db_dsn,
            settings=settings.backend,
            timeout=self.timeout,
        )
        return state.model_copy(update={"backend": _service_part(info)})

    def _start_pg_exporter(self, state: StackState, settings: StackSettings) -> StackState:
        assert state.postgres is not None
        info = start_pg_exporter(
            state.postgres.admin_dsn, self.logs_dir / "pg_exporter.log", timeout=self.timeout
        )
        part = PartState(
            name="pg_exporter",
            pid=info.pid,
            pid_create_time=pid_create_time(info.pid),
            state="running",
            urls={"http": f"http://{LOOPBACK}:{info.port}", "metrics": info.url},
            ports={"http": info.port},
            log=info.log_path,
        )
        return state.model_copy(update={"pg_exporter": part})

    def _start_prometheus(self, state: StackState, settings: StackSettings) -> StackState:
        assert state.backend is not None
        assert state.realtime is not None
        exporter = state.pg_exporter
        info = start_prometheus(
            self.run_dir,
            self.logs_dir / "prometheus.log",
            backend=f"{LOOPBACK}:{state.backend.ports['admin']}",
            realtime=f"{LOOPBACK}:{state.realtime.ports['admin']}",
            postgres=None if exporter is None else f"{LOOPBACK}:{exporter.ports['http']}",
            scrape_interval=settings.scrape_interval,
            timeout=self.timeout,
        )
        part = PartState(
            name="prometheus",
            pid=info.pid,
            pid_create_time=pid_create_time(info.pid),
            state="running",
            urls={"http": info.url},
            ports={"http": info.port},
            log=info.log_path,
        )
        update = {"prometheus": part, "generator_targets": info.generator_targets}
        return state.model_copy(update=update)

    # -- the crash drill -------------------------------------------------------------------
    def kill(self, part: str) -> str:
        """SIGKILL the part's process (no goodbye, as an OOM kill); returns what was killed."""
        state = self.state or StackState.load(self.state_dir)
        found = {p.name: p for p in state.parts()} if state is not None else {}
        pid = found[part].pid if part in found else None
        if pid is None:
            raise StackError(part, "not running")
        kill_pid(pid)
        return f"pid {pid}"

    def restart(self, part: str, *, timeout: float = 20.0) -> None:
        """Start the backend again with the settings and ports it had (the other parts are not
        restarted by any drill); stack.json names the new PID before it is ready, so that an
        interrupted restart is still torn down."""
        state = self.state or StackState.load(self.state_dir)
        if part != "backend":
            raise StackError(part, "the local runtime restarts only the backend")
        if state is None or state.backend is None or state.realtime is None or not state.db_dsn:
            raise StackError("backend", "no stack to restart the backend in")
        old = state.backend
        settings = overrides.validate(state.overrides)

        def starting(pid: int) -> None:
            new = {"pid": pid, "pid_create_time": pid_create_time(pid), "state": "starting"}
            self._record(state.model_copy(update={"backend": old.model_copy(update=new)}))

        info = start_backend(
            Path(old.log or self.logs_dir / "backend.log"),
            upstream_url=state.realtime.urls["ws"],
            db_dsn=state.db_dsn,
            settings=settings.backend,
            timeout=timeout,
            ports=(old.ports["http"], old.ports["admin"]),
            on_spawn=starting,
        )
        self._record(state.model_copy(update={"backend": _service_part(info)}))

    def _record(self, state: StackState) -> StackState:
        state.save(self.state_dir)
        self.state = state
        return state

    def _refuse_running_stack(self) -> None:
        existing = StackState.load(self.state_dir)
        if existing is None:
            return
        if any(part.pid is not None and pid_alive(part.pid) for part in existing.parts()):
            raise UsageError(
                f"a stack is already running (see {self.state_dir / 'stack.json'}); "
                "run `callbench down` first"
            )
        self._teardown(existing)  # a stale file from a crashed run: clean what it names

    def down(self) -> bool:
        """Stop the recorded stack; False when there was none."""
        state = self.state or StackState.load(self.state_dir)
        if state is None:
            return False
        self._teardown(state)
        return True

    def status(self) -> list[health.PartHealth]:
        state = StackState.load(self.state_dir)
        return [] if state is None else health.probe_all(state)

    def _teardown(self, state: StackState) -> None:
        """Stop parts in reverse order; raise StackError naming any PID that would not die."""
        stuck = []
        for part in reversed(state.parts()):
            self.echo(f"stopping {part.name}")
            if isinstance(part, PostgresState):
                self._keep_postgres_log(part)
                stop_postgres(part.base_dir)
                if part.pid is not None and pid_alive(part.pid):
                    stuck.append(f"postgres (pid {part.pid})")
            elif part.pid is not None and not stop_pid(part.pid, part.pid_create_time):
                stuck.append(f"{part.name} (pid {part.pid})")
        if stuck:  # keep stack.json so that `down` can be tried again
            raise StackError("down", "could not stop " + ", ".join(stuck))
        StackState.remove(self.state_dir)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.state = None

    def _keep_postgres_log(self, part: PostgresState) -> None:
        """The cluster's log dies with its directory; keep a copy beside the others."""
        if part.log and Path(part.log).is_file():
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copyfile(part.log, self.logs_dir / "postgres.log")
