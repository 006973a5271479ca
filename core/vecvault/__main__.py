"""``python -m vecvault``: the ``vecvault`` command."""

from __future__ import annotations

import sys

from vecvault.cli import main

if __name__ == "__main__":
    sys.exit(main())
