"""Exceptions of the mocks package.

MockError
 └── ConfigError        a fault or knob configuration is invalid; carries every problem found
"""

from __future__ import annotations


class MockError(Exception):
    """Root of every error the mocks raise on purpose."""


class ConfigError(MockError):
    """Invalid configuration; ``problems`` lists every problem, not only the first."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = list(problems)
        super().__init__(f"invalid {where}: " + "; ".join(self.problems))
