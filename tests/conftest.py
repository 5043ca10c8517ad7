"""Test-wide set-up: helpers shared by several test folders live in tests/support/ (test folders
are not packages, so pytest puts only each test file's own folder on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "support"))
