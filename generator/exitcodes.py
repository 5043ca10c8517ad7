"""The exit codes of a run, as DESIGN.md fixes them: named constants in a leaf module that
imports nothing, so every layer (the generator's runner and workers, the bench's CLI) shares one
table, as k6's errext/exitcodes does."""

from __future__ import annotations

from typing import Final

PASSED: Final = 0
FAILED: Final = 1  # thresholds or drill expectations failed
INVALID_INPUT: Final = 2  # bad flag, file, URL
INFRASTRUCTURE: Final = 3  # stack did not start, target unreachable at start
INTERRUPTED: Final = 130
