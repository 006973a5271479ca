"""A master key in a private key file: one line of base64 of 32 bytes, mode 0600."""

from __future__ import annotations

import os
from pathlib import Path

from vecvault.errors import ConfigurationError, KeyUnavailableError
from vecvault.keys._codec import GENERATE_KEY_COMMAND, decode_key, encode_key, generate_key
from vecvault.keys._files import read_private_file, write_new_file
from vecvault.keys.base import MASTER_KEY_BYTES

__all__ = ["KeyFileProvider"]


class KeyFileProvider:
    """Keeps the master key in a file that only its owner may read.

    Format: the standard (or URL-safe) base64 of the 32-byte key on one line, surrounding whitespace
    ignored; the same text ``VECVAULT_KEY`` takes, so a key moves between the two by copy and paste.
    Text rather than raw bytes so that a stray editor, ``cat`` or a copy through a text channel cannot
    silently corrupt it.

    On POSIX systems :meth:`load_key` refuses a file any other user can access (``mode & 0o077``);
    :meth:`create_key` writes a new file with mode 0600 and never overwrites one.

    Instantiate:
        .. code-block:: python

            from vecvault.keys import KeyFileProvider

            provider = KeyFileProvider("~/.config/vecvault/notes.key")

    Args:
        path: the key file; ``~`` is expanded.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not os.fspath(path):
            raise ConfigurationError("KeyFileProvider needs a non-empty path.")
        self._path = Path(path).expanduser()

    @property
    def path(self) -> Path:
        """The key file's path."""
        return self._path

    @property
    def description(self) -> str:
        """Where the key lives: the file's path."""
        return f"key file {self._path}"

    def __repr__(self) -> str:
        return f"KeyFileProvider(path={str(self._path)!r})"

    def load_key(self) -> bytes:
        """Read and decode the key file.

        Raises:
            KeyNotFoundError: the file does not exist.
            KeyUnavailableError: the file is accessible by other users, unreadable, or does not hold
                base64 of exactly 32 bytes.
        """
        data = read_private_file(
            self._path,
            what="key file",
            not_found_hint=(
                "An existing vault needs the key it was created with: restore the file from your backup "
                "(mode 0600). For a new vault, let vecvault create it, or write one yourself with "
                f"`({GENERATE_KEY_COMMAND}) > {self._path} && chmod 600 {self._path}`."
            ),
        )
        key = decode_key(data)
        del data
        if key is None:
            raise KeyUnavailableError(
                f"The key file {self._path} does not hold a vecvault key (expected one line of base64 of "
                f"exactly {MASTER_KEY_BYTES} bytes). Check the path, or restore the file from your backup."
            )
        return key

    def create_key(self) -> bytes:
        """Generate a random key and write it to a new 0600 file; an existing file is never overwritten.

        Raises:
            KeyUnavailableError: the file exists or cannot be written.
        """
        key = generate_key()
        write_new_file(self._path, (encode_key(key) + "\n").encode("ascii"), what="key file")
        return key
