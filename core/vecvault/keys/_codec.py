"""Private helpers shared by the key providers: key encoding, generation and secret-free messages."""

from __future__ import annotations

import base64
import binascii
import secrets

from vecvault.keys.base import MASTER_KEY_BYTES

__all__ = ["GENERATE_KEY_COMMAND", "decode_key", "encode_key", "generate_key", "redact"]

GENERATE_KEY_COMMAND = 'python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"'
"""A shell command that prints a fresh base64 master key, quoted in error messages."""

_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


def generate_key() -> bytes:
    """Return a fresh random master key from the operating system's CSPRNG."""
    return secrets.token_bytes(MASTER_KEY_BYTES)


def encode_key(key: bytes) -> str:
    """Encode a master key as standard base64 (44 characters, padded)."""
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str | bytes) -> bytes | None:
    """Decode standard or URL-safe base64 of exactly 32 bytes; surrounding whitespace and padding optional.

    Returns:
        The key, or ``None`` when ``text`` is not base64 of exactly 32 bytes. The caller raises its own
        error, so that no exception raised here can carry the secret text.
    """
    try:
        raw = text.decode("ascii") if isinstance(text, bytes) else text
    except UnicodeDecodeError:
        return None
    stripped = raw.strip().translate(_URLSAFE_TO_STANDARD)
    if not stripped or not stripped.isascii():
        return None
    padded = stripped + "=" * (-len(stripped) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == MASTER_KEY_BYTES else None


def redact(message: str, *secrets_: str | bytes) -> str:
    """Remove every occurrence of the given secrets (and their base64/hex forms) from a message."""
    for secret in secrets_:
        forms: set[str] = set()
        if isinstance(secret, bytes):
            forms.update({base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode()})
            forms.update({secret.hex(), secret.hex().upper()})
            forms.add(secret.decode("latin-1"))
        else:
            forms.add(secret)
        for form in forms:
            if form:
                message = message.replace(form.rstrip("="), "<redacted>")
    return message
