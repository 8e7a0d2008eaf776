"""The ``modelboard`` command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``modelboard`` command."""
    print("modelboard: the command line is not built yet", file=sys.stderr)
    return 2
