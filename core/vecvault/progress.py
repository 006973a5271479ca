"""Progress reporting for long operations (rotation, export, import, verify).

The API takes a plain callback, ``progress(done, total)``, called after each committed step with the
number of units done so far and the total (which may grow when another process adds records meanwhile).
:func:`vecvault.cli.progress.terminal_progress` builds such a callback for the command line.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressCallback", "call_progress"]

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: called after each committed step; must not raise."""


def call_progress(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call ``progress`` if one was given, with ``done`` clamped to ``total``."""
    if progress is not None:
        progress(min(done, total), total)
