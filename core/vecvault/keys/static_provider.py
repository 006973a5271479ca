"""A master key passed in code, for tests, notebooks and applications that manage keys themselves."""

from __future__ import annotations

from vecvault.errors import ConfigurationError
from vecvault.keys._codec import generate_key
from vecvault.keys.base import MASTER_KEY_BYTES

__all__ = ["StaticKeyProvider"]


class StaticKeyProvider:
    """Holds a master key given as bytes.

    :meth:`create_key` returns the held key: the key already exists in the caller's hands, so "creating"
    a vault with this provider seals it under that key. Keeping a copy of the key is the caller's job.

    Instantiate:
        .. code-block:: python

            import os

            from vecvault.keys import StaticKeyProvider

            key_bytes = os.urandom(32)  # keep them: the vault opens only with this key
            provider = StaticKeyProvider(key_bytes)  # exactly 32 bytes
            provider = StaticKeyProvider.generate()  # a fresh random key (read it with .load_key())

    Args:
        key: exactly 32 bytes.
    """

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise ConfigurationError(
                f"StaticKeyProvider needs the key as {MASTER_KEY_BYTES} bytes, not {type(key).__name__}; "
                "decode a base64 key with base64.b64decode first."
            )
        if len(key) != MASTER_KEY_BYTES:
            raise ConfigurationError(
                f"StaticKeyProvider needs exactly {MASTER_KEY_BYTES} bytes, got {len(key)}. "
                "Use StaticKeyProvider.generate() for a new random key."
            )
        self._key = bytes(key)

    @classmethod
    def generate(cls) -> StaticKeyProvider:
        """Return a provider holding a fresh random key (from ``secrets.token_bytes``)."""
        return cls(generate_key())

    @property
    def description(self) -> str:
        """A fixed text: the key itself is never described."""
        return "key passed in code (StaticKeyProvider)"

    def __repr__(self) -> str:
        return "StaticKeyProvider(<key hidden>)"

    def load_key(self) -> bytes:
        """Return the held key."""
        return self._key

    def create_key(self) -> bytes:
        """Return the held key: it is the key a new vault is created with."""
        return self._key
