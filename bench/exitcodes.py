"""The CLI's exit codes, as DESIGN.md fixes them (named constants, as k6's errext/exitcodes)."""

from __future__ import annotations

from typing import Final

PASSED: Final = 0
FAILED: Final = 1  # thresholds or drill expectations failed
INVALID_INPUT: Final = 2  # bad flag, file, URL
INFRASTRUCTURE: Final = 3  # stack did not start, target unreachable at start
INTERRUPTED: Final = 130
