"""The CLI's exit codes: the generator's table (generator/exitcodes.py), re-exported so the
bench's modules name them from their own package."""

from __future__ import annotations

from generator.exitcodes import FAILED, INFRASTRUCTURE, INTERRUPTED, INVALID_INPUT, PASSED

__all__ = ["FAILED", "INFRASTRUCTURE", "INTERRUPTED", "INVALID_INPUT", "PASSED"]
