"""A master key from an environment variable (``VECVAULT_KEY`` by default), for headless and CI use."""

from __future__ import annotations

import os

from vecvault.errors import ConfigurationError, KeyNotFoundError, KeyUnavailableError
from vecvault.keys._codec import GENERATE_KEY_COMMAND, decode_key
from vecvault.keys.base import MASTER_KEY_BYTES

__all__ = ["DEFAULT_KEY_VARIABLE", "EnvKeyProvider"]

DEFAULT_KEY_VARIABLE = "VECVAULT_KEY"


class EnvKeyProvider:
    """Reads the master key from an environment variable holding base64 of exactly 32 bytes.

    Standard and URL-safe base64 are both accepted, padding optional. The variable is read at each
    :meth:`load_key`, never cached.

    Instantiate:
        .. code-block:: bash

            KEY_CMD='import os,base64;print(base64.b64encode(os.urandom(32)).decode())'
            export VECVAULT_KEY="$(python -c "$KEY_CMD")"

        .. code-block:: python

            from vecvault.keys import EnvKeyProvider

            provider = EnvKeyProvider()  # or EnvKeyProvider("MY_APP_VAULT_KEY")

    Args:
        variable: the name of the environment variable.
    """

    def __init__(self, variable: str = DEFAULT_KEY_VARIABLE) -> None:
        if not variable or "=" in variable or "\0" in variable:
            raise ConfigurationError(f"Invalid environment variable name {variable!r} for EnvKeyProvider.")
        self._variable = variable

    @property
    def variable(self) -> str:
        """The environment variable's name."""
        return self._variable

    @property
    def description(self) -> str:
        """Where the key lives: the variable's name (never its value)."""
        return f"environment variable {self._variable}"

    def __repr__(self) -> str:
        return f"EnvKeyProvider(variable={self._variable!r})"

    def _how_to_set(self) -> str:
        return (
            f"Generate a key with `{GENERATE_KEY_COMMAND}` and set it, e.g. "
            f'`export {self._variable}="<that output>"`; keep a copy somewhere safe, since the vault '
            "cannot be opened without it."
        )

    def load_key(self) -> bytes:
        """Decode the key from the environment variable.

        Raises:
            KeyNotFoundError: the variable is not set.
            ConfigurationError: the variable is set but does not hold base64 of exactly 32 bytes (the
                message never quotes the value).
        """
        value = os.environ.get(self._variable)
        if value is None:
            raise KeyNotFoundError(
                f"The environment variable {self._variable} is not set, so there is no master key. "
                "An existing vault needs the key it was created with: set the variable to it. For a new "
                "vault: " + self._how_to_set()
            )
        key = decode_key(value)
        empty = not value.strip()
        del value
        if key is None:
            problem = (
                "is set but empty"
                if empty
                else (f"does not hold a valid key (expected base64 of exactly {MASTER_KEY_BYTES} bytes)")
            )
            raise ConfigurationError(f"The environment variable {self._variable} {problem}. " + self._how_to_set())
        return key

    def create_key(self) -> bytes:
        """Always refuses: a process cannot write its parent's environment.

        Raises:
            KeyUnavailableError: always, with instructions to generate and set a key.
        """
        raise KeyUnavailableError(
            f"EnvKeyProvider cannot create a key: vecvault cannot write the environment variable "
            f"{self._variable}. " + self._how_to_set()
        )
