"""Helpers the adapters share: opening (or using) a vault, location display, JSON values, message logs.

Framework-free (no LangChain or LlamaIndex import): the adapters' docstores, caches, chat histories and
record managers in ``langchain_vecvault`` and ``llama_index.storage.*.vecvault`` build on these and on
:class:`vecvault.kv.KeyValueStore`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from vecvault.errors import ConfigurationError, IntegrityError
from vecvault.keys.base import KeyProvider
from vecvault.kv import KeyValueStore, check_keys
from vecvault.storage import display_location
from vecvault.vault import Vault

__all__ = ["MessageLog", "VaultOwner", "display_location", "dump_json", "load_json", "open_or_use"]

_OPEN_OPTIONS = ("create", "driver", "auth_token", "sync_url", "tracer")

_R = TypeVar("_R")


def open_or_use(
    owner: str,
    *,
    vault: Vault | None,
    path: str | os.PathLike[str] | None,
    key: KeyProvider | bytes | None,
    file_encryption: bool | None = None,
    open_options: Mapping[str, Any] | None = None,
) -> tuple[Vault, bool]:
    """The vault a store works on and whether the store owns it (opened it from ``path``, so closes it).

    Raises:
        ConfigurationError: both or neither of ``vault`` and ``path``, options that need ``path``, an
            unknown option, or a ``vault`` that is not a :class:`vecvault.Vault`.
    """
    options = dict(open_options or {})
    unknown = sorted(set(options) - set(_OPEN_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"Unknown option(s) {unknown} for {owner}; vault options are {['key', 'file_encryption', *_OPEN_OPTIONS]}."
        )
    if vault is not None:
        if path is not None:
            raise ConfigurationError(f"{owner}: pass either vault= (an open Vault) or path= (to open one), not both.")
        if key is not None or file_encryption is not None or options:
            raise ConfigurationError(
                f"{owner}: key=, file_encryption= and other open options apply only with path=; the vault you "
                "passed is already open."
            )
        if not isinstance(vault, Vault):
            raise ConfigurationError(f"{owner}: vault must be a vecvault.Vault, not {type(vault).__name__}.")
        vault.core.check_open()
        return vault, False
    if path is None:
        raise ConfigurationError(f"{owner} needs a vault: pass vault=Vault.open(...) or path='file.db' (with key=).")
    return Vault.open(path, key=key, file_encryption=file_encryption, **options), True


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON of a value (NaN refused), as the stores seal it."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"The value is not JSON-serialisable ({exc}); store JSON-compatible data.") from None


def load_json(data: bytes, what: str) -> Any:
    """A value written by :func:`dump_json`; anything else (it opened, so it was sealed here) is an IntegrityError."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise IntegrityError(f"The stored {what} is not the JSON vecvault wrote; run `vecvault verify`.") from None


Entry = dict[str, Any]


class MessageLog:
    """Chat sessions in one key-value namespace: each session one sealed entry, its messages in order.

    An entry is ``{"status": str, "message": dict}``; the message dict is the framework's own
    serialisation. A session is read and rewritten whole, in one transaction per change, so a session's
    messages are always one consistent list (a few hundred messages of a chat are a few hundred KB).
    Session ids are keys of the namespace, so they are sealed too; :meth:`sessions` lists them (it opens
    every key).
    """

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store

    def entries(self, session: str) -> list[Entry]:
        """The session's entries, oldest first (empty for an unknown session)."""
        (raw,) = self.store.get(check_keys([session], "session id"))
        return [] if raw is None else self._decode(raw)

    def update(self, session: str, change: Callable[[list[Entry]], _R]) -> _R:
        """Apply ``change`` to the session's entries (it mutates the list) in one transaction; return its result.

        A session left without entries is deleted (its ciphertext leaves the files).
        """
        check_keys([session], "session id")
        with self.store.atomic() as tx:
            (raw,) = tx.get([session])
            entries = [] if raw is None else self._decode(raw)
            before = list(entries)
            result = change(entries)
            if entries != before:
                if entries:
                    tx.set([(session, dump_json(entries))])
                else:
                    tx.delete([session])
        return result

    def delete(self, session: str) -> bool:
        """Delete a session; return whether it existed."""
        return self.store.delete(check_keys([session], "session id")) > 0

    def sessions(self) -> list[str]:
        """Every session id, in storage order (opens every key of the namespace)."""
        return list(self.store.keys())

    def _decode(self, raw: bytes) -> list[Entry]:
        entries = load_json(raw, "chat session")
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("status"), str) and isinstance(e.get("message"), dict)
            for e in entries
        ):
            raise IntegrityError("A stored chat session is not the list vecvault wrote; run `vecvault verify`.")
        return entries


_Owner = TypeVar("_Owner", bound="VaultOwner")


class VaultOwner:
    """The vault a store works on: given (never closed by the store) or opened from ``path`` (closed by it).

    The base of every framework store over a vault (both adapters): ``vault``, ``close()`` and ``with``.
    """

    _vault: Vault
    _owns_vault: bool

    def _attach(
        self,
        owner: str,
        vault: Vault | None,
        path: str | os.PathLike[str] | None,
        key: KeyProvider | bytes | None,
        file_encryption: bool | None,
        open_options: dict[str, Any],
    ) -> None:
        self._vault, self._owns_vault = open_or_use(
            owner, vault=vault, path=path, key=key, file_encryption=file_encryption, open_options=open_options
        )

    @property
    def vault(self) -> Vault:
        """The underlying vault."""
        return self._vault

    def close(self) -> None:
        """Close the vault if this store opened it (``path=``); a vault passed in stays open."""
        if self._owns_vault:
            self._vault.close()

    def __enter__(self: _Owner) -> _Owner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
