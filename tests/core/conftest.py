"""Fixtures shared by the core's tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """Copy a vault's files onto a tmpfs, then remount it read-only; unmounted at teardown."""
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("needs Linux mount(8) to make a read-only file system")
    mountpoint = tmp_path / "read only"  # a space: the read-only open builds a file: URI
    mountpoint.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mountpoint)]
    made = subprocess.run(command, capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root with CAP_SYS_ADMIN): {made.stderr.strip()}")

    def freeze(source: Path) -> Path:
        for item in source.iterdir():
            shutil.copy2(item, mountpoint / item.name)
        subprocess.run(["mount", "-o", "remount,ro", str(mountpoint)], check=True, capture_output=True)
        with pytest.raises(OSError):
            (mountpoint / "probe").write_bytes(b"")  # the precondition: nothing can be written there
        with pytest.raises(OSError), (mountpoint / "v.db").open("r+b"):
            pass
        return mountpoint

    try:
        yield freeze
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, capture_output=True)
