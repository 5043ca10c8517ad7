"""Exceptions of the bench package; each carries its exit code (``exit_code``), as the
generator's do (generator/errors.py), so bench/cli.py maps both the same way.

BenchError
 ├── UsageError     bad flag, file or value given to the CLI (exit 2)
 └── StackError     a part of the stack did not start or could not be reached (exit 3)
"""

from __future__ import annotations

from typing import ClassVar

from bench import exitcodes


class BenchError(Exception):
    """Root of every error the bench raises on purpose."""

    exit_code: ClassVar[int] = exitcodes.FAILED


class UsageError(BenchError):
    """The user's input is wrong; the message says what, where, and what to do."""

    exit_code = exitcodes.INVALID_INPUT


class StackError(BenchError):
    """A part of the stack failed; ``part`` names it and ``log_tail`` holds its last log lines."""

    exit_code = exitcodes.INFRASTRUCTURE

    def __init__(self, part: str, reason: str, log_tail: str = "") -> None:
        self.part = part
        self.reason = reason
        self.log_tail = log_tail
        message = f"{part}: {reason}"
        if log_tail:
            message += "\n--- last lines of its log ---\n" + log_tail
        super().__init__(message)
