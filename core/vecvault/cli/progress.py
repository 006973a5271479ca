"""Progress on a terminal, for the command line and the demo.

A ``tqdm`` bar when ``tqdm`` is installed (``pip install 'vecvault[progress]'``), otherwise one line on
stderr rewritten in place; nothing at all when stderr is not a terminal (CI logs, pipes) unless
``force=True``.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from vecvault.progress import ProgressCallback

__all__ = ["terminal_progress"]


class _LineProgress:
    """One ``label: done/total (pct%)`` line on a stream, rewritten in place (carriage return)."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self._label = label
        self._stream = stream
        self._last = ""

    def __call__(self, done: int, total: int) -> None:
        pct = 100 if total <= 0 else int(100 * done / total)
        line = f"{self._label}: {done}/{total} ({pct}%)"
        if line != self._last:
            self._stream.write("\r" + line)
            self._stream.flush()
            self._last = line

    def close(self) -> None:
        if self._last:
            self._stream.write("\n")
            self._stream.flush()


class _TqdmProgress:
    """A tqdm bar driven by ``(done, total)`` calls."""

    def __init__(self, tqdm_cls: Any, label: str, stream: TextIO) -> None:
        self._bar = tqdm_cls(total=0, desc=label, unit="rec", file=stream, leave=True, dynamic_ncols=True)

    def __call__(self, done: int, total: int) -> None:
        if self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def _tqdm_class() -> Any:
    try:
        return importlib.import_module("tqdm").tqdm
    except ImportError:
        return None


@contextlib.contextmanager
def terminal_progress(
    label: str, *, stream: TextIO | None = None, force: bool = False
) -> Iterator[ProgressCallback | None]:
    """Yield a progress callback that draws on a terminal, or ``None`` when there is no terminal.

    Args:
        label: what is progressing (``"re-sealing notes"``).
        stream: where to draw; stderr by default.
        force: draw even if the stream is not a terminal (a simple line, never tqdm).
    """
    out = sys.stderr if stream is None else stream
    is_tty = bool(getattr(out, "isatty", lambda: False)())
    if not is_tty and not force:
        yield None
        return
    tqdm_cls = _tqdm_class() if is_tty else None
    bar: _TqdmProgress | _LineProgress = (
        _TqdmProgress(tqdm_cls, label, out) if tqdm_cls is not None else _LineProgress(label, out)
    )
    try:
        yield bar
    finally:
        bar.close()
