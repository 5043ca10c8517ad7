"""The one shape both runtimes have (``LocalStack``: processes on loopback; ``ComposeStack``:
containers), so the CLI and the drills drive a stack without asking which kind it is:
``up()``/``down()``, ``kill(part)``/``restart(part)`` for the crash drill, ``state`` (what
stack.json says), ``status()``; and ``make_runtime``/``recorded_runtime`` to get one by name or by
what stack.json recorded."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, get_args

from bench.stack.compose import ComposeStack
from bench.stack.health import PartHealth
from bench.stack.local import LocalStack
from bench.stack.state import StackState

RuntimeName = Literal["local", "compose"]
RUNTIMES: tuple[str, ...] = get_args(RuntimeName)
Echo = Callable[[str], None]


class Runtime(Protocol):
    """A stack of the parts (Postgres, PgBouncer, the two mocks, Prometheus) one way or another."""

    state_dir: Path
    state: StackState | None  # None until ``up()`` (or after ``down()``)

    def up(self) -> StackState:
        """Start every part and wait until each is ready; StackError names the part that was
        not (and what started is stopped again)."""
        ...

    def down(self) -> bool:
        """Stop what ``up()`` started (or what stack.json names); False when there was nothing."""
        ...

    def kill(self, part: str) -> str:
        """SIGKILL ``part`` (no goodbye, as an OOM kill); returns what was killed, for the log."""
        ...

    def restart(self, part: str, *, timeout: float = 20.0) -> None:
        """Start a killed (or running) ``part`` again where callers reach it, and wait until it
        is ready; stack.json follows."""
        ...

    def status(self) -> list[PartHealth]: ...

    def __enter__(self) -> Runtime: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def make_runtime(
    name: RuntimeName,
    state_dir: Path,
    overrides: Mapping[str, str] | None = None,
    *,
    timeout: float | None = None,
    echo: Echo | None = None,
) -> Runtime:
    """The runtime called ``name``; ``timeout`` is per part (local) or for the whole start,
    image builds included (compose), each with its own default."""
    quiet: Echo = echo or (lambda _: None)
    if name == "compose":
        return ComposeStack(state_dir, overrides, timeout=timeout or 600.0, echo=quiet)
    return LocalStack(state_dir, overrides, timeout=timeout or 30.0, echo=quiet)


def recorded_runtime(state_dir: Path, *, echo: Echo | None = None) -> Runtime:
    """The runtime that brought up the stack stack.json records (only it knows how to stop its
    parts: signalling a container's PID from the host would be wrong); local when none."""
    state = StackState.load(state_dir)
    name: RuntimeName = "compose" if state is not None and state.runtime == "compose" else "local"
    return make_runtime(name, state_dir, echo=echo)
