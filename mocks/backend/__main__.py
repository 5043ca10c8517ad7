"""``python -m mocks.backend``: the mock voice backend as a process (see ``cli``)."""

from __future__ import annotations

import sys

from mocks.backend.cli import main

if __name__ == "__main__":
    sys.exit(main())
