"""Test-wide set-up: helpers shared by several test folders live in tests/support/ (test folders
are not packages, so pytest puts only each test file's own folder on sys.path). This file sits at
the root, not in tests/, because pytest puts a conftest's folder on sys.path, and tests/bench
would then shadow the bench package."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tests" / "support"))
