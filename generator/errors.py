"""Exceptions of the generator package.

GeneratorError
 ├── InvalidInput       a scenario, threshold, URL or file is wrong (CLI exit 2)
 └── TargetUnreachable  the target could not be reached at start (CLI exit 3)
"""

from __future__ import annotations


class GeneratorError(Exception):
    """Root of every error the generator raises on purpose."""


class InvalidInput(GeneratorError):
    """Bad input; ``problems`` lists every problem found, not only the first."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = list(problems)
        super().__init__(f"invalid {where}: " + "; ".join(self.problems))


class TargetUnreachable(GeneratorError):
    """The target did not answer when the run started."""
