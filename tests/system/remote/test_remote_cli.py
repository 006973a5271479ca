"""The `vecvault` command on a libSQL server URL: the commands that make sense there, and clear errors."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from tests.system.remote.conftest import JwtIssuer, SqldServer, free_port

from vecvault.cli import main

pytestmark = [pytest.mark.remote]


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECVAULT_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.delenv("VECVAULT_AUTH_TOKEN", raising=False)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_that_makes_sense_works_on_a_server(
    capsys: pytest.CaptureFixture[str], remote_url: str, key_env: None, tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "info", remote_url)
    assert code == 1
    assert "empty" in err
    assert "vecvault init" in err  # an empty database is told apart from an unreachable server
    code, out, _ = _run(capsys, "init", remote_url)
    assert code == 0
    assert "file encryption: off" in out
    code, _, err = _run(capsys, "init", remote_url)
    assert code == 1
    assert "already holds a vault" in err
    for command in (["info"], ["info", "--json"], ["verify"], ["rotate", "--data"]):
        code, _, err = _run(capsys, *command[:1], remote_url, *command[1:])
        assert code == 0, (command, err)
    code, _, _ = _run(capsys, "export", remote_url, str(tmp_path / "b.vvb"))
    assert code == 0
    code, _, err = _run(capsys, "import", str(tmp_path / "b.vvb"), remote_url)
    assert code == 1
    assert "local vault files" in err
    code, _, err = _run(capsys, "rotate", "--master", remote_url, "--new-key-file", str(tmp_path / "n.key"))
    assert code == 1
    assert "vecvault export" in err
    code, _, err = _run(capsys, "init", "--no-file-encryption", remote_url)
    assert code == 2
    assert "--no-file-encryption is for local files" in err


def test_an_unreachable_server_is_not_a_missing_vault(capsys: pytest.CaptureFixture[str], key_env: None) -> None:
    code, _, err = _run(capsys, "info", f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert "Could not reach the libSQL server" in err
    assert "vecvault init" not in err


def test_the_auth_token_comes_from_the_option_or_the_environment(
    capsys: pytest.CaptureFixture[str],
    auth_sqld: tuple[SqldServer, JwtIssuer],
    key_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, issuer = auth_sqld
    code, _, err = _run(capsys, "info", server.url)
    assert code == 1
    assert "--auth-token" in err
    assert "VECVAULT_AUTH_TOKEN" in err
    token = issuer.token("rw")
    assert _run(capsys, "init", server.url, "--auth-token", token)[0] == 0
    code, out, err = _run(capsys, "info", server.url, "--auth-token", token)
    assert code == 0, err
    assert token not in out
    monkeypatch.setenv("VECVAULT_AUTH_TOKEN", token)
    assert _run(capsys, "verify", server.url)[0] == 0
