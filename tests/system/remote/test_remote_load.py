"""The bounded load test against the session's sqld (loopback): no errors, no lost or duplicated records."""

from __future__ import annotations

import os

import pytest

from ..test_load import load_module

pytestmark = [pytest.mark.remote, pytest.mark.slow]


def test_mixed_load_on_the_server(remote_url: str) -> None:
    load = load_module()
    report = load.run_load(remote_url, key=os.urandom(32), seconds=5.0, workers=3)
    print("\n".join(report.lines()))
    assert report.errors == []
    assert report.problems == []
    assert report.ops["add"] > 0
    assert report.ops["search"] > 0
    assert report.ops["delete"] > 0
