"""Exceptions of the generator package. Each carries the exit code it ends a command with
(``exit_code``), so the CLI maps any of them without a table of its own — k6's
``errext.HasExitCode`` over the leaf of codes (generator/exitcodes.py).

GeneratorError              something the generator raised on purpose (exit 1)
 ├── InvalidInput           a scenario, threshold, URL, file or option is wrong (exit 2)
 ├── TargetUnreachable      the target could not be reached at start (exit 3)
 └── RunBroken              the run's own machinery failed: no worker wrote results, the
                            monitor's baseline was cut short (exit 3)
"""

from __future__ import annotations

from typing import ClassVar

from generator import exitcodes


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code ``exc`` carries, or None for an error nobody raised on purpose."""
    code = getattr(exc, "exit_code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


class GeneratorError(Exception):
    """Root of every error the generator raises on purpose."""

    exit_code: ClassVar[int] = exitcodes.FAILED


class InvalidInput(GeneratorError):
    """Bad input; ``problems`` lists every problem found, not only the first."""

    exit_code = exitcodes.INVALID_INPUT

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = list(problems)
        super().__init__(f"invalid {where}: " + "; ".join(self.problems))


class TargetUnreachable(GeneratorError):
    """The target did not answer when the run started."""

    exit_code = exitcodes.INFRASTRUCTURE


class RunBroken(GeneratorError):
    """The generator's own machinery failed; ``part`` names the piece (workers, monitor)."""

    exit_code = exitcodes.INFRASTRUCTURE

    def __init__(self, part: str, reason: str) -> None:
        self.part = part
        self.reason = reason
        super().__init__(f"{part}: {reason}")
