"""``python -m deepguard``."""

from __future__ import annotations

import sys

from deepguard.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
